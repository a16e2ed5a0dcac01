import { httpStatusOf, isErrorCode, type ErrorCode, type SafeExtensions } from '../../lib/errors.js';
import type { Principal } from '../../lib/principal.js';
import { REALM } from '../auth/authenticate.js';
import type { ExecutedOperation } from '../engine.js';

/** One error as a REST view lists it: the GraphQL error as /graphql would have answered it (masked, with its code). */
export interface RestErrorEntry {
  readonly message: string;
  readonly path?: readonly (string | number)[];
  readonly extensions: { readonly code: string } & Readonly<Record<string, unknown>>;
}

/**
 * The body of every REST error: `error` is the one that decided the status, `errors` all of them
 * (the GraphQL errors of the operation, or the one refusal made before it ran).
 */
export interface RestErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string };
  readonly errors: readonly RestErrorEntry[];
}

/** A REST view's answer, ready to send. */
export interface RestResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Field errors of a partial answer named in the Dpg-Field-Errors header, at most (the count is in Dpg-Field-Error-Count). */
export const MAX_LISTED_FIELD_ERRORS = 20;

const PATH_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const COORDINATE = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*(?:\([A-Za-z_][A-Za-z0-9_]*:\))?$/;

/** Pipeline headers a REST answer carries on (rate limits, deprecation, caching); the body's own are set here. */
const PASSED_HEADERS = ['ratelimit', 'ratelimit-policy', 'retry-after', 'deprecation', 'sunset', 'link', 'cache-control', 'vary', 'age'] as const;

export function restError(code: ErrorCode, message: string, extensions: SafeExtensions = {}, headers: Readonly<Record<string, string>> = {}, status = httpStatusOf(code)): RestResponse {
  const body: RestErrorBody = { error: { code, message }, errors: [{ message, extensions: { ...extensions, code } }] };
  return { status, headers, body: JSON.stringify(body) };
}

interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: RestErrorEntry[];
}

/** The status of a refusal by its code; codes outside the closed set (none should reach here) are internal errors. */
const statusOf = (code: string): number => {
  if (!isErrorCode(code)) return 500;
  const status = httpStatusOf(code);
  // Codes answered 200 inside a GraphQL result (persisted queries) never apply to a stored operation: treat as unexpected.
  return status < 400 ? 500 : status;
};

const startsWith = (path: readonly (string | number)[] | undefined, prefix: readonly string[]) => path !== undefined && prefix.every((p, i) => path[i] === p);

/**
 * Maps the GraphQL response of a route's operation to the REST answer: the value at `result` as
 * the body (200); when it is null, the error that nulled it decides the status (its code's, as
 * /graphql would reject the request), or 404 NOT_FOUND when nothing failed (no such entity); an
 * anonymous caller refused FORBIDDEN is asked to authenticate (401). Field errors of a partial
 * answer (denied fields are null) are listed in the Dpg-Field-Errors header.
 */
export function restResponse(executed: ExecutedOperation, result: readonly string[], principal: Principal): RestResponse {
  const headers: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = executed.headers.get(name);
    if (value !== undefined) headers[name] = value;
  }
  let parsed: GraphQLBody;
  try {
    parsed = JSON.parse(executed.body) as GraphQLBody;
  } catch {
    return restError('INTERNAL_SERVER_ERROR', 'Internal server error');
  }
  const errors = parsed.errors ?? [];
  const fail = (decisive: RestErrorEntry | undefined, status?: number): RestResponse => {
    if (!decisive) return { status: 404, headers, body: JSON.stringify({ error: { code: 'NOT_FOUND', message: 'Nothing found for these parameters' }, errors: [] } satisfies RestErrorBody) };
    const code = isErrorCode(decisive.extensions.code) ? decisive.extensions.code : 'INTERNAL_SERVER_ERROR';
    const message = code === 'INTERNAL_SERVER_ERROR' && !isErrorCode(decisive.extensions.code) ? 'Internal server error' : decisive.message;
    if (principal.kind === 'anonymous' && code === 'FORBIDDEN') {
      const body: RestErrorBody = { error: { code: 'UNAUTHENTICATED', message: 'This route needs a bearer token' }, errors };
      return { status: 401, headers: { ...headers, 'www-authenticate': `Bearer realm="${REALM}"` }, body: JSON.stringify(body) };
    }
    const body: RestErrorBody = { error: { code, message }, errors };
    return { status: status ?? statusOf(code), headers, body: JSON.stringify(body) };
  };
  // Refused as a whole (limits, sunset, rate limit): Apollo answered the refusal's status.
  if (parsed.data === undefined || parsed.data === null) return fail(errors[0], executed.status >= 400 ? executed.status : undefined);
  let value: unknown = parsed.data;
  const walked: string[] = [];
  for (const name of result) {
    walked.push(name);
    value = (value as Record<string, unknown>)[name];
    if (value === null || value === undefined) return fail(errors.find((e) => startsWith(e.path, walked)) ?? errors.find((e) => e.path === undefined));
  }
  if (errors.length) {
    headers['dpg-field-errors'] = errors
      .slice(0, MAX_LISTED_FIELD_ERRORS)
      .map((e) => {
        // Response names and list indexes only: a path element of any other text is not put in a header.
        const rest = startsWith(e.path, result) ? e.path!.slice(result.length) : undefined;
        const pointer = rest?.every((p) => (typeof p === 'number' && Number.isInteger(p)) || (typeof p === 'string' && PATH_NAME.test(p))) ? `/${rest.join('/')}` : undefined;
        // Header text: only a well-formed coordinate is repeated (a data product's extensions are not trusted to be one).
        const coordinate = typeof e.extensions.coordinate === 'string' && COORDINATE.test(e.extensions.coordinate) ? e.extensions.coordinate : undefined;
        return [`"${isErrorCode(e.extensions.code) ? e.extensions.code : 'INTERNAL_SERVER_ERROR'}"`, pointer !== undefined ? `pointer="${pointer}"` : '', coordinate ? `coordinate="${coordinate}"` : '']
          .filter(Boolean)
          .join(';');
      })
      .join(', ');
    headers['dpg-field-error-count'] = String(errors.length);
  }
  return { status: 200, headers, body: JSON.stringify(value) };
}
