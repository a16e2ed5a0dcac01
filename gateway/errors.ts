import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { isErrorCode, type ErrorCode } from '../lib/errors.js';
import { maskError, safeExtensions, shapeError as shape } from '../lib/error-mask.js';
import type { Logger } from '../lib/logger.js';

/** Codes a data product may send that the gateway passes on with their message. */
const PASSED_THROUGH_FROM_SUBGRAPHS: ReadonlySet<ErrorCode> = new Set(['BAD_USER_INPUT', 'FORBIDDEN']);

// graphql 16 words it "more that N tokens"; later versions may fix the typo.
const TOKEN_LIMIT = /^Syntax Error: Document contains more tha[nt] (\d+) tokens/;

/**
 * graphql-js enforces `maxTokens` while parsing and says so only in its message: the limit it
 * stopped at, or undefined for any other parse error. The one place that reads that message.
 */
export function tokenLimitOf(message: string): number | undefined {
  const match = TOKEN_LIMIT.exec(message);
  return match ? Number(match[1]) : undefined;
}


/**
 * The gateway's error mask (@apollo/server `formatError`). Errors from data products keep their
 * code and message only for client-facing codes and are tagged with the product's name; anything
 * unexpected becomes INTERNAL_SERVER_ERROR and is logged in full.
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const extensions = formatted.extensions ?? {};
    const service = typeof extensions.serviceName === 'string' ? extensions.serviceName : undefined;
    if (service !== undefined) {
      const code = extensions.code;
      if (isErrorCode(code) && PASSED_THROUGH_FROM_SUBGRAPHS.has(code)) {
        return shape(formatted, formatted.message, { ...safeExtensions(extensions), code, service });
      }
      logger.warn({ service, path: formatted.path, code, message: formatted.message }, 'subgraph error masked');
      return shape(formatted, `The ${service} data product could not resolve this field`, { code: 'SUBGRAPH_ERROR', service });
    }
    const tokens = extensions.code === 'GRAPHQL_PARSE_FAILED' ? tokenLimitOf(formatted.message) : undefined;
    if (tokens !== undefined) {
      // graphql-js stops lexing past `maxTokens`: a limit, not a typo in the document.
      return shape(formatted, 'Operation has too many tokens', { code: 'OPERATION_LIMIT_EXCEEDED', limit: 'tokens', maximum: tokens });
    }
    const refusal = error instanceof GraphQLError && error.extensions.code === undefined ? httpRefusalOf(error) : undefined;
    if (refusal) return shape(formatted, refusal, { code: 'BAD_REQUEST' });
    return maskError(formatted, error, logger);
  };
}

/**
 * @apollo/server refuses a few malformed requests with an HTTP 4xx but no code (a persisted-query
 * hash that does not match its query). They are the caller's mistake: BAD_REQUEST, in our words.
 */
const APOLLO_REFUSALS: Readonly<Record<string, string>> = {
  'provided sha does not match query': 'extensions.persistedQuery.sha256Hash is not the SHA-256 of the query',
};

function httpRefusalOf(error: GraphQLError): string | undefined {
  const status = (error.extensions.http as { status?: unknown } | undefined)?.status;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  return APOLLO_REFUSALS[error.message] ?? 'Bad request';
}
