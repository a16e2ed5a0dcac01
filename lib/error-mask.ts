import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { normalizeError } from './errors.js';
import type { Logger } from './logger.js';

/** Extension keys a client may see; everything else (stack traces, URLs, raw bodies, http) is dropped. */
export const SAFE_EXTENSION_KEYS: ReadonlySet<string> = new Set([
  'code', 'service', 'status', 'argument', 'maximum', 'minimum', 'coordinate', 'missingScopes', 'missingPolicies', 'reason',
  'cost', 'limit', 'retryAfter', 'replacement', 'sunset', 'value',
]);

export function safeExtensions(extensions: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const safe: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(extensions)) if (SAFE_EXTENSION_KEYS.has(key)) safe[key] = value;
  return safe;
}

/** The client's copy of an error: this message and these extensions, with its path and locations. */
export function shapeError(formatted: GraphQLFormattedError, message: string, extensions: Record<string, unknown>): GraphQLFormattedError {
  const out: { -readonly [K in keyof GraphQLFormattedError]: GraphQLFormattedError[K] } = { message };
  if (formatted.locations) out.locations = formatted.locations;
  if (formatted.path) out.path = formatted.path;
  out.extensions = extensions;
  return out;
}

/**
 * The error mask of the gateway and of every data product (@apollo/server `formatError`): an error
 * with a client-facing code keeps its message and its safe extensions; anything else (a SQL error,
 * a bug, a library's exception) is logged in full and answered as INTERNAL_SERVER_ERROR with a
 * fixed message.
 */
export function maskError(formatted: GraphQLFormattedError, error: unknown, logger: Logger): GraphQLFormattedError {
  const { code, message } = normalizeError(error instanceof GraphQLError ? error : formatted);
  if (code === 'INTERNAL_SERVER_ERROR') {
    const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
    logger.error({ err: original, path: formatted.path }, 'unexpected error masked');
    return shapeError(formatted, message, { code });
  }
  return shapeError(formatted, message, { ...safeExtensions(formatted.extensions ?? {}), code });
}
