import type { ApolloServerPlugin } from '@apollo/server';
import { newOperationState, type GatewayContext } from '../context.js';
import { tokenLimitOf } from '../errors.js';
import type { Stage } from './stage.js';

/**
 * The request pipeline as one Apollo Server plugin: Apollo runs the hooks of separate plugins
 * concurrently, so an order between stages (analysis before demand control before deprecation)
 * would be an accident; here it is the order of `stages`, declared in one place.
 */
export function pipelinePlugin(stages: readonly Stage[]): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      // Each operation of a batch runs over its own shallow copy of the context: this is its own.
      contextValue.operation = newOperationState();
      const state = contextValue.operation;
      return {
        async parsingDidStart() {
          return async (error) => {
            // Over maxTokens, graphql-js stops parsing: a refusal of the operation, not a broken document.
            if (error && tokenLimitOf(error.message) !== undefined) state.refusal = 'rejected';
          };
        },
        async didResolveOperation({ schema, document, request, requestIsBatched }) {
          for (const stage of stages) await stage.resolved?.({ context: contextValue, state, schema, document, request, requestIsBatched: requestIsBatched ?? false });
        },
        async willSendResponse({ request, response, errors, operationName }) {
          for (const stage of stages) await stage.responding?.({ context: contextValue, state, request, response, errors, operationName });
        },
      };
    },
  };
}
