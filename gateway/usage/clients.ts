import type { Principal } from '../../lib/principal.js';
import { hourOf } from './model.js';

/** Client names and operation names become keys: normalized, bounded in length and in number. */
export const MAX_NAME_LENGTH = 64;
export const MAX_VERSION_LENGTH = 32;
export const OTHER = 'other';
export const UNKNOWN = 'unknown';

export function normalizeName(raw: string | undefined | null, maxLength = MAX_NAME_LENGTH): string | undefined {
  if (!raw) return undefined;
  const name = raw.trim().toLowerCase().replace(/[^a-z0-9._:@/-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, maxLength);
  return name || undefined;
}

export function normalizeVersion(raw: string | undefined | null): string {
  if (!raw) return '';
  return raw.trim().replace(/[^A-Za-z0-9._+-]+/g, '-').slice(0, MAX_VERSION_LENGTH);
}

/**
 * Keeps at most `max` distinct values; later newcomers become `other`, so a client inventing names
 * cannot grow the counters without bound.
 */
export function createCap(max: number): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return OTHER;
    seen.add(value);
    return value;
  };
}

/** Who the client is: the apollographql-client-name/-version headers, else the token's client id. */
export function clientIdentity(
  headers: { get(name: string): string | undefined | null },
  principal: Principal,
): { name: string; version: string } {
  const name = normalizeName(headers.get('apollographql-client-name')) ?? normalizeName(principal.kind === 'authenticated' ? principal.clientId : undefined) ?? UNKNOWN;
  return { name, version: normalizeVersion(headers.get('apollographql-client-version')) };
}

export interface ClientLabel {
  readonly name: string;
  readonly version: string;
}

/** Why an operation was counted under `other`. */
export type OverflowReason = 'cap' | 'refused';

/**
 * Client labels are keys of the usage store, kept for the whole retention: their number must not
 * be the caller's to choose. Per hour, at most `maxPerHour` distinct (name, version) pairs are
 * counted under their own label; later ones, and any pair first seen on an operation that was
 * refused (rate limited, over a limit), are counted as (`other`, '').
 */
export function createClientLabels(options: { maxPerHour: number; now?: () => number; onOverflow?: (reason: OverflowReason) => void }): (client: ClientLabel, refused: boolean) => ClientLabel {
  const now = options.now ?? Date.now;
  let hour = -1;
  let seen = new Set<string>();
  return (client, refused) => {
    const current = hourOf(now());
    if (current !== hour) {
      hour = current;
      seen = new Set();
    }
    const key = `${client.name}\t${client.version}`;
    if (seen.has(key)) return client;
    if (!refused && seen.size < options.maxPerHour) {
      seen.add(key);
      return client;
    }
    options.onOverflow?.(refused ? 'refused' : 'cap');
    return { name: OTHER, version: '' };
  };
}
