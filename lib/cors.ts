import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http.js';

/** Cross-origin access for browser apps on other origins. */
export interface CorsOptions {
  /** Exact origins (`https://app.example.com`); there is no wildcard. Empty: no cross-origin access. */
  readonly origins: readonly string[];
  /** How long a browser may reuse a preflight answer, in seconds. */
  readonly maxAgeS: number;
}

/** What a browser app may send: the token, JSON, Apollo's client headers, trace context, a request id. */
export const CORS_ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'apollographql-client-name',
  'apollographql-client-version',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'traceparent',
  'tracestate',
  'x-request-id',
] as const;
export const CORS_ALLOWED_METHODS = ['GET', 'POST'] as const;
/** What a browser app may read of a response: budgets, retry hints, deprecation notices, the request id. */
export const CORS_EXPOSED_HEADERS = ['ratelimit', 'ratelimit-policy', 'retry-after', 'deprecation', 'sunset', 'link', 'x-request-id'] as const;

/**
 * CORS for the gateway's API: an allowed origin gets `Access-Control-Allow-Origin` with itself
 * (never `*`: a response is for the origin that asked) and `Vary: Origin`; any other origin gets no
 * CORS header at all, so the browser keeps the response from it. Credentials are the bearer token
 * in a header, never cookies: no `Allow-Credentials`.
 */
export function createCors(options: CorsOptions) {
  const allowed = new Set(options.origins);
  const preflightHeaders = {
    'access-control-allow-methods': CORS_ALLOWED_METHODS.join(', '),
    'access-control-allow-headers': CORS_ALLOWED_HEADERS.join(', '),
    'access-control-max-age': String(options.maxAgeS),
  };
  const originOf = (req: IncomingMessage): string | undefined => {
    const origin = req.headers.origin;
    return typeof origin === 'string' && allowed.has(origin) ? origin : undefined;
  };
  return {
    /**
     * Answers a preflight (OPTIONS with Access-Control-Request-Method): 204 with the policy for an
     * allowed origin, 403 FORBIDDEN (and no CORS header) for any other. Returns false for anything
     * else, after adding the CORS headers an allowed origin's response carries.
     */
    handle(req: IncomingMessage, res: ServerResponse): boolean {
      res.appendHeader('vary', 'Origin');
      const origin = originOf(req);
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        if (!origin) throw new HttpError('FORBIDDEN', 'This origin may not call the gateway from a browser');
        res.writeHead(204, { 'access-control-allow-origin': origin, ...preflightHeaders });
        res.end();
        return true;
      }
      if (origin) {
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('access-control-expose-headers', CORS_EXPOSED_HEADERS.join(', '));
      }
      return false;
    },
  };
}
