import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../context.js';

/**
 * One JSON log line per GraphQL request: request id, operation, outcome, error codes and duration.
 * The query text and variables are never logged (they may carry personal data).
 */
export function requestLogPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ response, errors, operationName, contextValue: ctx }) {
          const codes = errors?.map((error) => String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR'));
          ctx.logger.info(
            {
              operationName: operationName ?? null,
              status: response.http.status ?? 200,
              durationMs: Math.round((performance.now() - started) * 100) / 100,
              ...(codes?.length ? { errorCodes: codes } : {}),
            },
            'graphql request',
          );
        },
      };
    },
  };
}
