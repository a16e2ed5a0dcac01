import { isEnumType } from 'graphql';
import { HttpError } from '../../lib/http.js';
import type { BoundParameter } from './bind.js';
import type { RestRoute } from './routes.js';

/**
 * Bounds on what a caller controls in a REST view's request, checked before anything is matched
 * or decoded: the request target, each parameter, and how many query parameters there are.
 */
export const REST_REQUEST_LIMITS = {
  /** Bytes of the request target (path and query string). */
  targetBytes: 2_048,
  /** Bytes of one parameter's value, as sent (percent-encoded). */
  parameterBytes: 256,
  /** Query parameters of one request. */
  queryParameters: 20,
} as const;

const INT = /^-?(?:0|[1-9][0-9]{0,9})$/;
const FLOAT = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

const badInput = (message: string, parameter: string) => new HttpError('BAD_USER_INPUT', message, {}, { parameter });

/** The request target split once: its path segments (still encoded) and its raw query. */
export interface RestTarget {
  readonly path: string;
  readonly segments: readonly string[];
  readonly search: string;
}

/** BAD_REQUEST for a target over the limit; the path's segments otherwise. */
export function readTarget(url: string): RestTarget {
  if (Buffer.byteLength(url) > REST_REQUEST_LIMITS.targetBytes) throw new HttpError('BAD_REQUEST', `The request target is longer than ${REST_REQUEST_LIMITS.targetBytes} bytes`);
  const mark = url.indexOf('?');
  const path = mark < 0 ? url : url.slice(0, mark);
  return { path, segments: path.split('/').slice(1), search: mark < 0 ? '' : url.slice(mark + 1) };
}

/** The routes a path matches in, most literal first (a literal segment wins over a placeholder at the same place). */
export function orderRoutes<T extends { readonly route: RestRoute }>(routes: readonly T[]): T[] {
  const rank = (route: RestRoute) => route.segments.map((s) => (s.kind === 'literal' ? '0' : '1')).join('');
  return [...routes].sort((a, b) => (rank(a.route) < rank(b.route) ? -1 : rank(a.route) > rank(b.route) ? 1 : 0));
}

/** The raw (encoded) path values of a route's placeholders when the path is this route's, else undefined. */
export function matchPath(route: RestRoute, segments: readonly string[]): Map<string, string> | undefined {
  if (route.segments.length !== segments.length) return undefined;
  const values = new Map<string, string>();
  for (let i = 0; i < segments.length; i += 1) {
    const expected = route.segments[i]!;
    const given = segments[i]!;
    if (expected.kind === 'literal') {
      if (expected.text !== given) return undefined;
    } else {
      if (given === '') return undefined;
      values.set(expected.name, given);
    }
  }
  return values;
}

function decode(raw: string, parameter: string, plusIsSpace: boolean): string {
  if (Buffer.byteLength(raw) > REST_REQUEST_LIMITS.parameterBytes) throw badInput(`Parameter ${parameter} is longer than ${REST_REQUEST_LIMITS.parameterBytes} bytes`, parameter);
  try {
    return decodeURIComponent(plusIsSpace ? raw.replaceAll('+', ' ') : raw);
  } catch {
    throw badInput(`Parameter ${parameter} is not valid percent-encoded UTF-8`, parameter);
  }
}

/** A parameter's text as its variable's type: Int and Float as numbers, Boolean as true/false, the rest as strings. */
function coerce(text: string, name: string, bound: BoundParameter): unknown {
  switch (bound.type.name) {
    case 'Int': {
      const value = Number(text);
      if (!INT.test(text) || value < INT_MIN || value > INT_MAX) throw badInput(`Parameter ${name} must be a 32-bit integer`, name);
      return value;
    }
    case 'Float': {
      if (!FLOAT.test(text) || !Number.isFinite(Number(text))) throw badInput(`Parameter ${name} must be a number`, name);
      return Number(text);
    }
    case 'Boolean':
      if (text !== 'true' && text !== 'false') throw badInput(`Parameter ${name} must be true or false`, name);
      return text === 'true';
    default:
      if (isEnumType(bound.type) && !bound.type.getValue(text)) throw badInput(`Parameter ${name} must be one of ${bound.type.getValues().map((v) => v.name).join(', ')}`, name);
      return text;
  }
}

/**
 * The operation's variables from the request's path values and query string: every parameter
 * decoded, bounded, checked against its pattern and coerced to its variable's type; an unknown,
 * repeated or missing query parameter is refused. Errors are BAD_USER_INPUT naming the parameter.
 */
export function variablesOf(route: RestRoute, bound: ReadonlyMap<string, BoundParameter>, pathValues: ReadonlyMap<string, string>, search: string): Record<string, unknown> {
  const query = new Map<string, string>();
  if (search !== '') {
    const pairs = search.split('&');
    if (pairs.length > REST_REQUEST_LIMITS.queryParameters) throw new HttpError('BAD_USER_INPUT', `At most ${REST_REQUEST_LIMITS.queryParameters} query parameters`);
    for (const pair of pairs) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      const name = decode(rawName, 'name', true);
      const parameter = route.parameters.find((p) => p.in === 'query' && p.name === name);
      const label = parameter ? name : 'query';
      if (!parameter) throw badInput(`Unknown query parameter; this route takes ${route.parameters.filter((p) => p.in === 'query').map((p) => p.name).join(', ') || 'none'}`, label);
      if (query.has(name)) throw badInput(`Parameter ${name} is given more than once`, name);
      query.set(name, decode(eq < 0 ? '' : pair.slice(eq + 1), name, true));
    }
  }
  const variables: Record<string, unknown> = {};
  for (const parameter of route.parameters) {
    const text = parameter.in === 'path' ? decode(pathValues.get(parameter.name) ?? '', parameter.name, false) : query.get(parameter.name);
    if (text === undefined) {
      if (parameter.required) throw badInput(`Parameter ${parameter.name} is required`, parameter.name);
      continue;
    }
    if (parameter.pattern && !parameter.pattern.test(text)) throw badInput(`Parameter ${parameter.name} is not in the expected format`, parameter.name);
    variables[parameter.variable] = coerce(text, parameter.name, bound.get(parameter.name)!);
  }
  return variables;
}
