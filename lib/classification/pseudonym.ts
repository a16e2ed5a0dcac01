import { createHash, createHmac } from 'node:crypto';

/** Pseudonyms start with this, so nobody mistakes one for a value. */
export const PSEUDONYM_PREFIX = 'pse_';
/** A pseudonym is this many bytes of the HMAC (128 bits: no collisions at any realistic count of values). */
export const PSEUDONYM_BYTES = 16;
/** The shortest key accepted: HMAC-SHA256's block is 64 bytes, its output 32; less would weaken it. */
export const MIN_PSEUDONYM_KEY_BYTES = 32;

/**
 * The key used in development when PSEUDONYM_KEY is unset. Public (it is in this file), so its
 * pseudonyms can be reversed by anyone with a list of candidate values: production refuses it.
 */
export const DEVELOPMENT_PSEUDONYM_KEY: Buffer = createHash('sha256').update('data-product-gateway development pseudonym key').digest();

export interface Pseudonymizer {
  /** Which key made the pseudonyms: pseudonyms of different key ids do not join. */
  readonly keyId: string;
  /** `pse_` + base64url of the first 16 bytes of HMAC-SHA256(key, value): equal values, equal pseudonyms. */
  pseudonymize(value: string): string;
}

/** A key id derived from the key itself (its SHA-256, 8 hex digits) when none is configured. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

export function createPseudonymizer(key: Buffer, keyId: string = keyIdOf(key)): Pseudonymizer {
  if (key.length < MIN_PSEUDONYM_KEY_BYTES) throw new Error(`a pseudonym key needs at least ${MIN_PSEUDONYM_KEY_BYTES} bytes`);
  const secret = Buffer.from(key);
  return {
    keyId,
    pseudonymize(value) {
      const digest = createHmac('sha256', secret).update(value, 'utf8').digest();
      return PSEUDONYM_PREFIX + digest.subarray(0, PSEUDONYM_BYTES).toString('base64url');
    },
  };
}

/**
 * A key from configuration: hex (64 digits or more) or base64 / base64url; at least 32 bytes
 * once decoded. Returns the reason when it is not one.
 */
export function parsePseudonymKey(text: string): { ok: true; key: Buffer } | { ok: false; problem: string } {
  const value = text.trim();
  let key: Buffer | undefined;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(value)) key = Buffer.from(value, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) key = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (!key) return { ok: false, problem: 'expected hex or base64' };
  if (key.length < MIN_PSEUDONYM_KEY_BYTES) return { ok: false, problem: `at least ${MIN_PSEUDONYM_KEY_BYTES} bytes, got ${key.length} (openssl rand -base64 32)` };
  return { ok: true, key };
}
