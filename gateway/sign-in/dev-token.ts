import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, readBody, sendJson } from '../../lib/http.js';
import type { Handler } from '../../lib/routes.js';
import { mintDevToken } from '../auth/dev-issuer.js';

/** Where the pages ask for a development token (development mode with the development issuer only). */
export const DEV_TOKEN_PATH = '/sign-in/dev-token';
/** Lifetime of a development sign-in's token, in seconds; the page asks for a new one before it ends. */
export const DEV_SIGN_IN_TTL_S = 3_600;
/** The client id (`azp`) of development sign-in tokens: usage tells them from `npm run token`'s. */
export const DEV_SIGN_IN_CLIENT_ID = 'dev-sign-in';
/** `{"role":"..."}` and nothing more. */
const MAX_BODY_BYTES = 1_024;

export interface DevTokenRouteOptions {
  /** The roles one may sign in as (the policy file's). */
  readonly roles: readonly string[];
  /** Seconds since the epoch (tests). @default now */
  readonly now?: () => number;
}

/**
 * POST /sign-in/dev-token `{"role": "data-scientist"}` -> `{"access_token", "token_type": "Bearer",
 * "expires_in", "role"}`: a development-issuer token for that role, subject `dev:<role>`. The
 * development issuer's key is public, so this mints nothing anyone could not mint; it exists so a
 * newcomer signs in with one click. The caller never registers it in production (the gateway
 * there does not trust the development issuer), and it answers same-origin JSON requests only:
 * a cross-site page cannot make a browser fetch tokens for it, nor read them.
 */
export function devTokenRoute(options: DevTokenRouteOptions): Handler {
  const roles = new Set(options.roles);
  return async (req: IncomingMessage, res: ServerResponse) => {
    const method = (req.method ?? 'GET').toUpperCase();
    if (method !== 'POST') {
      throw new HttpError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${DEV_TOKEN_PATH}; use POST`, { allow: 'POST', connection: 'close' });
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') throw new HttpError('FORBIDDEN', 'Development sign-in answers this origin only', { connection: 'close' });
    if (!/^application\/json\s*(?:;|$)/i.test(req.headers['content-type'] ?? '')) {
      throw new HttpError('UNSUPPORTED_MEDIA_TYPE', 'Send {"role": "<role>"} as application/json', { connection: 'close' });
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    let role: unknown;
    try {
      role = (JSON.parse(body.toString('utf8')) as { role?: unknown } | null)?.role;
    } catch {
      throw new HttpError('BAD_REQUEST', 'The body is not JSON');
    }
    if (typeof role !== 'string' || !roles.has(role)) {
      throw new HttpError('BAD_USER_INPUT', 'Unknown role: sign in as one of the roles of the policy file', {}, { roles: [...roles] });
    }
    const now = options.now?.() ?? Math.floor(Date.now() / 1000);
    const token = await mintDevToken({ roles: [role], subject: `dev:${role}`, clientId: DEV_SIGN_IN_CLIENT_ID, ttlS: DEV_SIGN_IN_TTL_S, now });
    sendJson(res, 200, JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: DEV_SIGN_IN_TTL_S, role }), { 'cache-control': 'no-store', pragma: 'no-cache' });
  };
}
