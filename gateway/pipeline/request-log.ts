import type { Stage } from './stage.js';

/**
 * One JSON log line per GraphQL operation: request id (on the context's logger), operation,
 * status, error codes and duration. The query text and variables are never logged (they may
 * carry personal data).
 */
export function requestLogStage(): Stage {
  return {
    name: 'request log',
    responding({ context, response, errors, operationName }) {
      const codes = errors?.map((error) => String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR'));
      context.logger.info(
        {
          operationName: operationName ?? null,
          status: response.http.status ?? 200,
          durationMs: Math.round((performance.now() - context.startedAt) * 100) / 100,
          ...(codes?.length ? { errorCodes: codes } : {}),
        },
        'graphql request',
      );
    },
  };
}
