import { createHash } from 'node:crypto';
import { requestBodyText, type MaterializedOperation } from './operation-arbitraries.js';

/*
 * Requests as a client sends them, in the ways the gateway accepts operations: a POST with one
 * operation, a POST with a JSON array (a batch), a GET with the operation in the query string, and
 * a POST with an automatic persisted query (the query and its SHA-256; `apq-mismatch`: a hash that
 * is not the query's, which a client gets wrong when it hashes something else).
 * Bodies are built as text (requestBodyText) so that values nested deeper than JSON.stringify can
 * handle still go out. Nothing here interprets the answer beyond parsing it.
 */

export type Transport = 'post' | 'get' | 'batch' | 'apq' | 'apq-mismatch';

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed body; undefined when it is not JSON (itself a finding). */
  readonly json: unknown;
}

export interface GraphQLBody {
  readonly data?: unknown;
  readonly errors?: readonly { readonly message?: unknown; readonly extensions?: Readonly<Record<string, unknown>>; readonly path?: readonly unknown[] }[];
  readonly extensions?: unknown;
}

function payloadOf(operation: MaterializedOperation, transport: Transport = 'post'): Record<string, unknown> {
  const persisted = transport === 'apq' || transport === 'apq-mismatch';
  const hashed = transport === 'apq-mismatch' ? `${operation.text} ` : operation.text;
  return {
    query: operation.text,
    ...(Object.keys(operation.variables).length ? { variables: operation.variables } : {}),
    ...(operation.operationName ? { operationName: operation.operationName } : {}),
    ...(persisted ? { extensions: { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(hashed).digest('hex') } } } : {}),
  };
}

/** The request as text, for failure reports: enough to replay it with curl. */
export function describeHttpRequest(transport: Transport, operations: readonly MaterializedOperation[], limit = 4000): string {
  const body = transport === 'batch' ? requestBodyText(operations.map((o) => payloadOf(o))) : requestBodyText(payloadOf(operations[0]!, transport));
  const shown = body.length > limit ? `${body.slice(0, limit)}... (${body.length} characters)` : body;
  return transport === 'get' ? `GET /graphql?query=... (as query parameters) ${shown}` : `POST /graphql ${shown}`;
}

/** Whether GET can carry this operation: no deep values, and a URL a server reads without trouble. */
export function fitsInGet(operation: MaterializedOperation): boolean {
  const body = requestBodyText(payloadOf(operation));
  return body.length < 3000 && !body.includes('[[[[[[') && !body.includes('{"a":{"a":{"a":');
}

export async function sendOperations(url: string, transport: Transport, operations: readonly MaterializedOperation[], token: string | undefined): Promise<RawResponse> {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  let response: Response;
  if (transport === 'get') {
    const operation = operations[0]!;
    const target = new URL(url);
    target.searchParams.set('query', operation.text);
    if (Object.keys(operation.variables).length) target.searchParams.set('variables', requestBodyText(operation.variables));
    if (operation.operationName) target.searchParams.set('operationName', operation.operationName);
    // CSRF prevention: a GET must show it is not a simple cross-site request.
    response = await fetch(target, { headers: { accept: 'application/json', 'apollo-require-preflight': 'true', ...auth } });
  } else {
    const body = transport === 'batch' ? requestBodyText(operations.map((o) => payloadOf(o))) : requestBodyText(payloadOf(operations[0]!, transport));
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...auth }, body });
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** `"cost";r=<n>` of the RateLimit header: the caller's remaining cost points. */
export function remainingCost(headers: Headers): number | undefined {
  const m = /"cost";r=(\d+)/.exec(headers.get('ratelimit') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** `"cost";q=<n>` of RateLimit-Policy: the caller's cost budget for the window. */
export function costQuota(headers: Headers): number | undefined {
  const m = /"cost";q=(\d+)/.exec(headers.get('ratelimit-policy') ?? '');
  return m ? Number(m[1]) : undefined;
}
