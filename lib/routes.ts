import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, sendJson } from './http.js';
import type { RequestScope } from './http-server.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, scope: RequestScope) => Promise<void> | void;

/**
 * One listener's routes: exact paths, after the `pages` (a browser's GET /graphql, page assets),
 * which answer first when a request is theirs. Anything else is 404 NOT_FOUND in the GraphQL error shape.
 */
export function router(table: Readonly<Record<string, Handler>>, pages?: (req: IncomingMessage, res: ServerResponse) => boolean): Handler {
  const routes = new Map(Object.entries(table));
  return (req, res, scope) => {
    if (pages?.(req, res)) return;
    const handler = routes.get((req.url ?? '/').split('?', 1)[0]!);
    if (!handler) throw new HttpError('NOT_FOUND', 'Not found');
    return handler(req, res, scope);
  };
}

/** A JSON answer. */
export const json =
  (status: number, body: () => unknown | Promise<unknown>): Handler =>
  async (_req, res) =>
    sendJson(res, status, JSON.stringify(await body()));

/** Refuses a request without `Authorization: Bearer <token>`, compared in constant time so it cannot be guessed byte by byte. */
export function requireBearer(token: string | undefined, realm: string, handler: Handler): Handler {
  if (token === undefined) return handler;
  const expected = Buffer.from(`Bearer ${token}`);
  return (req, res, scope) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new HttpError('UNAUTHENTICATED', 'Metrics need the metrics token', { 'www-authenticate': `Bearer realm="${realm}"` });
    }
    return handler(req, res, scope);
  };
}
