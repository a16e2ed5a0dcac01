import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { HeaderMap, type ApolloServer, type BaseContext, type ContextThunk } from '@apollo/server';
import { errorBody, httpStatusOf, type ErrorCode } from './errors.js';

/** A request that failed before reaching GraphQL execution, answered with a GraphQL-shaped body. */
export class HttpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's request id when it is well-formed, else a fresh one; never trusted beyond logging. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Reads the body, refusing more than `limitBytes` without buffering the excess. */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    throw new HttpError('PAYLOAD_TOO_LARGE', `Request body is larger than ${limitBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) {
      req.resume();
      throw new HttpError('PAYLOAD_TOO_LARGE', `Request body is larger than ${limitBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

/** Parses a POST body: JSON for JSON content types, left as text otherwise (@apollo/server answers those). */
function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  if (contentType && JSON_TYPE.test(contentType)) {
    const charset = CHARSET.exec(contentType)?.[1]?.toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8') {
      throw new HttpError('UNSUPPORTED_MEDIA_TYPE', `Unsupported charset "${charset}"`);
    }
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
  sendJson(res, status, errorBody(error.code, error.message), error.headers);
}

export interface GraphQLHandlerOptions<TContext extends BaseContext> {
  server: ApolloServer<TContext>;
  /** Largest accepted request body, in bytes. */
  bodyLimitBytes: number;
  /** Most operations in one batched request (a JSON array body). @default 1 */
  maxBatch?: number;
  context: (req: IncomingMessage, res: ServerResponse) => Promise<TContext>;
}

/**
 * Bridges a Node request to @apollo/server's `executeHTTPGraphQLRequest`: the same thing the
 * official integrations do, with our body limit and our error bodies for what fails before GraphQL.
 */
export function graphqlHandler<TContext extends BaseContext>(
  options: GraphQLHandlerOptions<TContext>,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { server, bodyLimitBytes } = options;
  return async (req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const search = q === -1 ? '' : url.slice(q);
    const body = method === 'POST' ? parseBody(await readBody(req, bodyLimitBytes), req.headers['content-type']) : undefined;
    if (Array.isArray(body)) {
      const maxBatch = options.maxBatch ?? 1;
      if (body.length === 0) throw new HttpError('BAD_REQUEST', 'An empty batch has nothing to run');
      if (body.length > maxBatch) throw new HttpError('OPERATION_LIMIT_EXCEEDED', `A batch may hold at most ${maxBatch} operations`);
    }
    const context: ContextThunk<TContext> = () => options.context(req, res);
    const response = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method, headers, search, body },
      context,
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}
