import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/**
 * The closed set of error codes a client can ever see, with the HTTP status used when the error
 * rejects the whole request. Every client-facing error carries one of these in `extensions.code`;
 * anything else is normalized to INTERNAL_SERVER_ERROR. The README lists every code (a test checks).
 */
export const ERROR_STATUS = {
  /** The HTTP request itself is malformed (bad JSON, missing query, wrong method for a mutation). */
  BAD_REQUEST: 400,
  /** The GraphQL document does not parse. */
  GRAPHQL_PARSE_FAILED: 400,
  /** The document does not validate against the schema. */
  GRAPHQL_VALIDATION_FAILED: 400,
  /** An argument or variable value is invalid (for instance a page size over the maximum). */
  BAD_USER_INPUT: 400,
  /** The operation named by `operationName` is not in the document. */
  OPERATION_RESOLUTION_FAILURE: 400,
  /** Automatic persisted query hash not known yet: send the full query once. */
  PERSISTED_QUERY_NOT_FOUND: 200,
  /** Persisted queries are disabled on this server. */
  PERSISTED_QUERY_NOT_SUPPORTED: 200,
  /**
   * The caller's client is trusted-only (policies/operations.yaml) and this document is not in its
   * manifest of trusted documents: refused before anything about it is analysed.
   */
  OPERATION_NOT_TRUSTED: 403,
  /** Missing, invalid or expired credentials. */
  UNAUTHENTICATED: 401,
  /** Authenticated, but not allowed to read this field or product. */
  FORBIDDEN: 403,
  /** No route at this path. */
  NOT_FOUND: 404,
  /** HTTP method not supported at this path. */
  METHOD_NOT_ALLOWED: 405,
  /** Request body over the configured limit. */
  PAYLOAD_TOO_LARGE: 413,
  /** The operation exceeds a structural limit: depth, aliases, directives, tokens, batch size or fields. */
  OPERATION_LIMIT_EXCEEDED: 400,
  /** The operation's static cost is over the per-request maximum (`extensions.cost`, `extensions.limit`). */
  COST_LIMIT_EXCEEDED: 400,
  /** The caller's request or cost budget for the window is spent (`Retry-After` says when to retry). */
  RATE_LIMITED: 429,
  /** The operation uses a field past its sunset date (or in a brownout): `extensions.replacement` names what to use. */
  FIELD_SUNSET: 400,
  /** Request content type not supported. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** A data product (subgraph) answered with an error the gateway does not pass through. */
  SUBGRAPH_ERROR: 502,
  /** A data product (subgraph) could not be reached. */
  SUBGRAPH_UNAVAILABLE: 502,
  /** A data product (subgraph) did not answer within the configured timeout. */
  SUBGRAPH_TIMEOUT: 504,
  /** The server is starting, draining or a dependency it must not do without is down. */
  SERVICE_UNAVAILABLE: 503,
  /**
   * A field whose reads are audited was refused because the audit trail cannot record the read now
   * (fail-closed). As a field error the rest of the result answers (200).
   */
  AUDIT_UNAVAILABLE: 503,
  /**
   * A subscriber did not read its events: its buffer stayed full for the stall time, so it was
   * disconnected (graphql-ws close 4008, SSE a final error event). Resubscribe and resume.
   */
  SLOW_CONSUMER: 503,
  /** Anything unexpected. Details are logged with the request id, never returned. */
  INTERNAL_SERVER_ERROR: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as readonly ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_STATUS[code];
}

/** Extensions allowed beside `code` on a client-facing error. Values must be safe to show. */
export type SafeExtensions = Record<string, string | number | boolean | readonly string[] | null>;

/** A client-facing error inside a result (a field or a data product failed); the response stays 200. */
export function gqlError(code: ErrorCode, message: string, extensions: SafeExtensions = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

/**
 * A client-facing error that rejects the whole request: thrown from a request-level hook, it makes
 * @apollo/server answer with the code's HTTP status (and any extra headers, e.g. Retry-After).
 */
export function requestError(
  code: ErrorCode,
  message: string,
  extensions: SafeExtensions = {},
  headers: Readonly<Record<string, string>> = {},
): GraphQLError {
  const httpHeaders = new Map(Object.entries(headers));
  return new GraphQLError(message, {
    extensions: { ...extensions, code, http: { status: httpStatusOf(code), headers: httpHeaders } },
  });
}

const INTERNAL_MESSAGE = 'Internal server error';

/**
 * Never throws. Maps anything to a client-safe `{ code, message }`: known codes keep their message,
 * everything else becomes INTERNAL_SERVER_ERROR with a fixed message.
 */
export function normalizeError(error: unknown): { code: ErrorCode; message: string } {
  try {
    if (error instanceof GraphQLError || isFormattedError(error)) {
      const code = error.extensions?.code;
      if (isErrorCode(code) && code !== 'INTERNAL_SERVER_ERROR') return { code, message: error.message };
    }
  } catch {
    // fall through: a hostile getter must not break error handling
  }
  return { code: 'INTERNAL_SERVER_ERROR', message: INTERNAL_MESSAGE };
}

function isFormattedError(value: unknown): value is GraphQLFormattedError {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}

/** A JSON body in the GraphQL response format for errors raised before GraphQL execution. */
export function errorBody(code: ErrorCode, message: string, extensions: SafeExtensions = {}): string {
  return JSON.stringify({ errors: [{ message, extensions: { ...extensions, code } }] });
}
