import type { IncomingMessage } from 'node:http';
import { HttpError } from '../../lib/http.js';
import { REALM } from './authenticate.js';

function invalidRequest(description: string): HttpError {
  return new HttpError('BAD_REQUEST', `Invalid request: ${description}`, {
    'www-authenticate': `Bearer realm="${REALM}", error="invalid_request", error_description="${description}"`,
  });
}

/**
 * The request's bearer credentials, from the one method this gateway accepts: a single
 * `Authorization` header. RFC 6750 §2 allows one method per request; a second Authorization header
 * (Node keeps only the first in `req.headers`) or an `access_token` in the URL (which ends up in
 * access logs and browser history) is 400 `invalid_request`, never silently ignored.
 */
export function authorizationOf(req: IncomingMessage): string | undefined {
  let headers = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'authorization') headers += 1;
  if (headers > 1) throw invalidRequest('send one Authorization header');
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  if (query !== -1 && new URLSearchParams(url.slice(query + 1)).has('access_token')) {
    throw invalidRequest(headers ? 'send the token once, in the Authorization header only' : 'send the token in the Authorization header, not in the URL');
  }
  return req.headers.authorization;
}
