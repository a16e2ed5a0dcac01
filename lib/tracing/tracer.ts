import { SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';

/**
 * Whether this process traces, and with which tracer. OpenTelemetry's own registration is
 * process-wide (one global tracer provider), so this is too: `startTracing` sets it once, before
 * the servers are built, and every component asks once, when it is built. With tracing off it is
 * undefined and components keep their untraced code paths: no span objects, no context switches.
 */
let current: Tracer | undefined;

/** The tracer of this process when tracing is on; undefined when it is off. */
export function activeTracer(): Tracer | undefined {
  return current;
}

/** Only lib/tracing/sdk.ts calls this, when it registers (or unregisters) the SDK. */
export function setActiveTracer(tracer: Tracer | undefined): void {
  current = tracer;
}

/**
 * The stable OpenTelemetry semantic-convention names we use, written out: importing
 * @opentelemetry/semantic-conventions costs about 10 ms at every start, traced or not, and these
 * modules load whether tracing is on or not. test/tracing-sdk.test.ts checks each against the package.
 */
export const SEMCONV = {
  SERVICE_NAME: 'service.name',
  SERVICE_VERSION: 'service.version',
  SERVICE_INSTANCE_ID: 'service.instance.id',
  HTTP_REQUEST_METHOD: 'http.request.method',
  HTTP_ROUTE: 'http.route',
  HTTP_RESPONSE_STATUS_CODE: 'http.response.status_code',
  URL_PATH: 'url.path',
  URL_SCHEME: 'url.scheme',
  ERROR_TYPE: 'error.type',
  DB_SYSTEM_NAME: 'db.system.name',
  DB_SYSTEM_NAME_VALUE_POSTGRESQL: 'postgresql',
  DB_OPERATION_NAME: 'db.operation.name',
  DB_COLLECTION_NAME: 'db.collection.name',
  DB_QUERY_SUMMARY: 'db.query.summary',
} as const;

/**
 * Attribute names of our own (`dpg.`), and the GraphQL ones from the OpenTelemetry semantic
 * conventions, which are still incubating there: copied rather than imported from the package's
 * `incubating` entry point, as its README advises, since incubating names may change in any release.
 * Every value written under these names is a name, a count, a code from a closed set or a hash:
 * never a token, a variable's value, query text or personal data.
 */
export const ATTR = {
  GRAPHQL_OPERATION_NAME: 'graphql.operation.name',
  GRAPHQL_OPERATION_TYPE: 'graphql.operation.type',
  /** Apollo's SHA-256 of the document text: groups operations without showing them. */
  DOCUMENT_HASH: 'dpg.document.hash',
  REQUEST_ID: 'dpg.request.id',
  /** ok, error, forbidden, rate_limited or rejected: the same label as metrics and usage. */
  OUTCOME: 'dpg.outcome',
  /** The `extensions.code` of each error of the response (the closed set of lib/errors.ts). */
  ERROR_CODES: 'dpg.error.codes',
  BATCH: 'dpg.batch',
  COST: 'dpg.cost',
  DEPRECATIONS: 'dpg.deprecations',
  AUTHZ_MODE: 'dpg.authorization.mode',
  AUTHZ_DENIED: 'dpg.authorization.denied',
  /** Schema coordinates (Customer.email) of denied fields: schema facts, not data. */
  AUTHZ_DENIED_COORDINATES: 'dpg.authorization.denied_coordinates',
  DATA_PRODUCT_NAME: 'dpg.data_product.name',
  DATA_PRODUCT_VERSION: 'dpg.data_product.version',
  /** On a subgraph call's span: it made no call of its own but shared an identical one in flight (SUBGRAPH_DEDUP). */
  SUBGRAPH_CALL_SHARED: 'dpg.subgraph.call_shared',
  /** How many fetches of one request travelled in this subgraph call (SUBGRAPH_BATCH). */
  SUBGRAPH_CALL_BATCHED: 'dpg.subgraph.call_batched',
  LOADER_NAME: 'dpg.loader.name',
  LOADER_BATCH_SIZE: 'dpg.loader.batch_size',
  /** First 16 hex digits of the SHA-256 of a SQL statement's text (placeholders, never values). */
  DB_STATEMENT_HASH: 'dpg.db.statement_hash',
  DB_RETURNED_ROWS: 'db.response.returned_rows',
} as const;

/**
 * Runs `fn` in a new active span (so spans started inside are its children) and ends it; a throw
 * marks the span as failed, with the thrown error's code when it has one from our closed set, and
 * never its message (messages may quote a caller's values).
 */
export function inSpan<T>(tracer: Tracer, name: string, attributes: Attributes, fn: (span: Span) => T | Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Error status and `error.type`: a GraphQL error's code, a Node/PostgreSQL error code, or its class name; never its message. */
export function markFailed(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.setAttribute(SEMCONV.ERROR_TYPE, errorType(error));
}

function errorType(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'unknown';
  const code = (error as { extensions?: { code?: unknown } }).extensions?.code ?? (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(code)) return code;
  return error instanceof Error ? error.name : 'unknown';
}
