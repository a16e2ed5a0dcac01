import { decodeJwt } from 'jose';

/**
 * When a bearer token that authentication accepted expires (its `exp`, ms since the epoch);
 * undefined for no token or a token without `exp`. Read after verification, never instead of it.
 */
export function expiryOf(authorization: string | undefined): number | undefined {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!token) return undefined;
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** A resume position: a stream sequence (a positive integer, as sent in each event's id). */
export function sequenceOf(value: unknown): number | undefined | 'invalid' {
  if (value === undefined || value === null || value === '') return undefined;
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^\d{1,15}$/.test(text)) return 'invalid';
  return Number(text);
}
