import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../context.js';

const SUGGESTION = / Did you mean .+\?$/;

/**
 * "Did you mean ...?" in validation errors reveals field and type names: the schema, piece by
 * piece. Clients not allowed to introspect do not get the suggestions.
 */
export function hideSuggestionsPlugin(canIntrospect: (context: GatewayContext) => boolean): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      if (canIntrospect(contextValue)) return undefined;
      return {
        async validationDidStart() {
          return async (errors) => {
            for (const error of errors ?? []) error.message = error.message.replace(SUGGESTION, '');
          };
        },
      };
    },
  };
}
