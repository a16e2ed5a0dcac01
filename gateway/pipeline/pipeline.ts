import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { newOperationState, type GatewayContext } from '../context.js';
import { tokenLimitOf } from '../errors.js';
import type { Stage } from './stage.js';
import { pipelineTracing } from './tracing.js';

/**
 * The request pipeline as one Apollo Server plugin: Apollo runs the hooks of separate plugins
 * concurrently, so an order between stages (analysis before demand control before deprecation)
 * would be an accident; here it is the order of `stages`, declared in one place.
 */
export function pipelinePlugin(stages: readonly Stage[], tracing = pipelineTracing()): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      // Each operation of a batch runs over its own shallow copy of the context: this is its own.
      contextValue.operation = newOperationState();
      const state = contextValue.operation;
      // Tracing off: undefined, and every stage runs exactly as it would without it.
      const traced = tracing?.operation();
      const listener: GraphQLRequestListener<GatewayContext> = {
        async parsingDidStart() {
          const parsed = traced?.span('graphql.parse', 'GRAPHQL_PARSE_FAILED');
          return async (error) => {
            parsed?.(error);
            // Over maxTokens, graphql-js stops parsing: a refusal of the operation, not a broken document.
            if (error && tokenLimitOf(error.message) !== undefined) state.refusal = 'rejected';
          };
        },
        async didResolveOperation({ schema, document, request, requestIsBatched }) {
          const operation = { context: contextValue, state, schema, document, request, requestIsBatched: requestIsBatched ?? false };
          for (const stage of stages) {
            if (!stage.resolved) continue;
            if (traced) await traced.stage(stage.name, () => stage.resolved!(operation));
            else await stage.resolved(operation);
          }
        },
        async willSendResponse({ request, response, errors, operationName, queryHash, requestIsBatched }) {
          const responding = { context: contextValue, state, request, response, errors, operationName, queryHash };
          if (!traced) {
            for (const stage of stages) await stage.responding?.(responding);
            return;
          }
          await traced.respond(async () => {
            for (const stage of stages) await stage.responding?.(responding);
          });
          traced.responded({ state, response, operationName, queryHash, batched: requestIsBatched });
        },
      };
      if (traced) {
        listener.validationDidStart = async () => {
          const validated = traced.span('graphql.validate', 'GRAPHQL_VALIDATION_FAILED');
          return async (errors) => validated(errors?.[0]);
        };
      }
      return listener;
    },
  };
}
