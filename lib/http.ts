import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { HeaderMap, type ApolloServer, type BaseContext, type ContextThunk } from '@apollo/server';
import { errorBody, httpStatusOf, type ErrorCode, type SafeExtensions } from './errors.js';
import { documentNesting, valueNesting } from './nesting.js';

/** A request that failed before reaching GraphQL execution, answered with a GraphQL-shaped body. */
export class HttpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly extensions: SafeExtensions = {},
    /** Why, in a word, for logs and metrics (never sent to the client); the code's own name when unset. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

/**
 * Refused before the body is read: the connection is closed after the answer, so whatever the
 * client still sends is never read (Node would otherwise drain it to keep the connection alive).
 */
const UNREAD = { connection: 'close' } as const;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's request id when it is well-formed, else a fresh one; never trusted beyond logging. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Reads the body, refusing more than `limitBytes` without reading or buffering the excess. */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    throw new HttpError('PAYLOAD_TOO_LARGE', `Request body is larger than ${limitBytes} bytes`, UNREAD);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw new HttpError('PAYLOAD_TOO_LARGE', `Request body is larger than ${limitBytes} bytes`, UNREAD);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

/** A JSON body in any charset but UTF-8 is refused from its content type alone, before a byte of it is read. */
function refuseUnsupportedCharset(contentType: string | undefined): void {
  if (!contentType || !JSON_TYPE.test(contentType)) return;
  const charset = CHARSET.exec(contentType)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new HttpError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported charset: JSON bodies must be UTF-8', UNREAD);
  }
}

/** Parses a POST body: JSON for JSON content types, left as text otherwise (@apollo/server answers those). */
function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  if (contentType && JSON_TYPE.test(contentType)) {
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch {
      throw new HttpError('BAD_REQUEST', 'Request body is not valid JSON');
    }
  }
  return raw.toString('utf8');
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Readonly<Record<string, string>> = {},
  contentType = 'application/json; charset=utf-8',
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Answers an HttpError with its status and a GraphQL-shaped error body. */
export function sendHttpError(res: ServerResponse, error: HttpError): void {
  const status = httpStatusOf(error.code);
  sendJson(res, status, errorBody(error.code, error.message, error.extensions), error.headers);
}

/** Defaults of `GraphQLHandlerOptions.nesting`. */
export const DEFAULT_NESTING: NestingLimits = { maxNesting: 64, maxValueNesting: 12 };

/** A GET request's GraphQL parameters, with `variables` and `extensions` parsed when they are JSON. */
function searchParams(search: string): Record<string, unknown> {
  const params = new URLSearchParams(search);
  const json = (name: string): unknown => {
    const text = params.get(name);
    if (text === null) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined; // @apollo/server refuses it with BAD_REQUEST
    }
  };
  return { query: params.get('query') ?? undefined, variables: json('variables'), extensions: json('extensions') };
}

/** OPERATION_LIMIT_EXCEEDED (limit `nesting` or `valueNesting`) for a document, variables or extensions nested deeper than allowed. */
function refuseDeepNesting(operation: unknown, limits: NestingLimits): void {
  if (operation === null || typeof operation !== 'object' || Array.isArray(operation)) return;
  const { query, variables, extensions } = operation as Record<string, unknown>;
  const document = typeof query === 'string' ? documentNesting(query, limits.maxNesting, limits.maxValueNesting) : { depth: 0, valueDepth: 0 };
  if (document.valueDepth > limits.maxValueNesting) {
    throw new HttpError('OPERATION_LIMIT_EXCEEDED', `A value in the operation is nested deeper than ${limits.maxValueNesting} levels`, {}, { limit: 'valueNesting', maximum: limits.maxValueNesting });
  }
  // The variables object itself is one level: its values may nest maxNesting - 1 deep.
  const deepest = Math.max(document.depth, valueNesting(variables, limits.maxNesting), valueNesting(extensions, limits.maxNesting));
  if (deepest > limits.maxNesting) {
    throw new HttpError('OPERATION_LIMIT_EXCEEDED', `Operation nested deeper than ${limits.maxNesting} levels`, {}, { limit: 'nesting', maximum: limits.maxNesting });
  }
}

/** How deep a request may nest, checked before it is parsed. */
export interface NestingLimits {
  /** Brackets of a document, and of its variables and extensions. */
  readonly maxNesting: number;
  /** Lists and input objects inside a document's literal values (the federation planner walks them exponentially). */
  readonly maxValueNesting: number;
}

export interface GraphQLHandlerOptions<TContext extends BaseContext, TScope> {
  server: ApolloServer<TContext>;
  /** Largest accepted request body, in bytes. */
  bodyLimitBytes: number;
  /** Most operations in one batched request (a JSON array body). @default 1 */
  maxBatch?: number;
  /** How deep a document, its values, variables and extensions may nest, checked before parsing. @default DEFAULT_NESTING */
  nesting?: NestingLimits;
  /**
   * The request's context, from what the caller already knows about it (`scope`: who asks, its
   * request id, ...) and the request's operations as sent (one, or a batch's; GET's from the query
   * string). Called after @apollo/server's CSRF check; a GraphQLError thrown here refuses the whole
   * request with its code's status, before anything is parsed.
   */
  context: (scope: TScope, req: IncomingMessage, operations: readonly unknown[]) => TContext | Promise<TContext>;
  /** The bytes of a response body (UTF-8); a caller may reuse the bytes of bodies it knows are shared. @default Buffer.from */
  encodeBody?: (body: string) => Buffer;
}

const DOCUMENT_ID = /^(?:sha256:)?([0-9a-f]{64})$/;

/**
 * GraphQL over HTTP's persisted documents (`documentId`, as GraphQL Codegen, Hive and Relay clients
 * send it: `sha256:<hex>` or the bare hex) become Apollo's persisted query extension, which
 * @apollo/server resolves. Returns the operation unchanged when it has no documentId.
 */
function withDocumentId(operation: unknown): unknown {
  if (operation === null || typeof operation !== 'object' || Array.isArray(operation) || !('documentId' in operation)) return operation;
  const { documentId, query, extensions, ...rest } = operation as Record<string, unknown>;
  if (query !== undefined && query !== null && query !== '') throw new HttpError('BAD_REQUEST', 'Send either documentId or query, not both');
  const hash = typeof documentId === 'string' ? DOCUMENT_ID.exec(documentId)?.[1] : undefined;
  if (!hash) throw new HttpError('BAD_REQUEST', 'documentId must be sha256:<64 lower-case hex digits>');
  const others = extensions !== null && typeof extensions === 'object' && !Array.isArray(extensions) ? extensions : {};
  return { ...rest, extensions: { ...others, persistedQuery: { version: 1, sha256Hash: hash } } };
}

/** A GET's query string with its documentId turned into the persisted query extension (see withDocumentId). */
function searchWithDocumentId(search: string): string {
  const params = new URLSearchParams(search);
  const documentId = params.get('documentId');
  if (documentId === null) return search;
  const translated = withDocumentId({ ...searchParams(search), documentId }) as { extensions: unknown };
  params.delete('documentId');
  params.set('extensions', JSON.stringify(translated.extensions));
  return `?${params.toString()}`;
}

/**
 * Bridges a Node request to @apollo/server's `executeHTTPGraphQLRequest`: the same thing the
 * official integrations do, with our body limit and our error bodies for what fails before GraphQL.
 */
export function graphqlHandler<TContext extends BaseContext, TScope>(
  options: GraphQLHandlerOptions<TContext, TScope>,
): (req: IncomingMessage, res: ServerResponse, scope: TScope) => Promise<void> {
  const { server, bodyLimitBytes } = options;
  const encodeBody = options.encodeBody ?? ((body: string) => Buffer.from(body, 'utf8'));
  return async (req, res, scope) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const search = method === 'GET' && q !== -1 ? searchWithDocumentId(url.slice(q)) : q === -1 ? '' : url.slice(q);
    if (method === 'POST') refuseUnsupportedCharset(req.headers['content-type']);
    const parsed = method === 'POST' ? parseBody(await readBody(req, bodyLimitBytes), req.headers['content-type']) : undefined;
    const body = Array.isArray(parsed) ? parsed.map(withDocumentId) : withDocumentId(parsed);
    if (Array.isArray(body)) {
      const maxBatch = options.maxBatch ?? 1;
      if (body.length === 0) throw new HttpError('BAD_REQUEST', 'An empty batch has nothing to run');
      if (body.length > maxBatch) {
        throw new HttpError('OPERATION_LIMIT_EXCEEDED', `A batch may hold at most ${maxBatch} operations`, {}, { limit: 'batch', value: body.length, maximum: maxBatch });
      }
    }
    const nesting = options.nesting ?? DEFAULT_NESTING;
    const operations = method === 'POST' ? (Array.isArray(body) ? body : [body]) : [searchParams(search)];
    for (const operation of operations) refuseDeepNesting(operation, nesting);
    const context: ContextThunk<TContext> = async () => options.context(scope, req, operations);
    const response = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method, headers, search, body },
      context,
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      // Encoded once: Node would otherwise scan the string for its byte length, then encode it
      // again to write it (a profile put 10% of the gateway's time in that scan on large answers).
      const bytes = encodeBody(response.body.string);
      res.setHeader('content-length', bytes.length);
      res.end(bytes);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}
