import type { KeyObject } from 'node:crypto';
import { sign } from 'node:crypto';
import { jwtVerify, errors as joseErrors } from 'jose';
import { createTtlCache } from './ttl-cache.js';
import { ANONYMOUS, type Principal } from './principal.js';

/**
 * The identity the gateway forwards to data products: a short-lived JWT it signs (EdDSA) carrying
 * the principal it authenticated. Subgraphs trust nothing else: not the client's token, not any
 * client-sent header.
 */
export const INTERNAL_ISSUER = 'dpg-gateway';

/**
 * Each subgraph is its own audience: an identity signed for one data product is refused by every
 * other, so a foreign or compromised subgraph of the supergraph cannot replay a caller's identity
 * to the customer, finance or product subgraph.
 */
export function subgraphAudience(subgraph: string): string {
  return `dpg-subgraph:${subgraph}`;
}
/** Lifetime of a forwarded identity, in seconds: one request's worth, with room for clock skew. */
export const INTERNAL_TOKEN_TTL_S = 60;

interface IdentityClaims {
  kind: Principal['kind'];
  iss_orig?: string;
  cid?: string;
  roles: string[];
  scope: string;
}

/** A signed identity is reused for a principal while it has at least this long to live. */
const REUSE_MIN_REMAINING_S = 30;

/**
 * Signs a principal's identity for one subgraph (Ed25519 with node:crypto, a few tens of
 * microseconds) and reuses it for the same principal object and audience until half its lifetime
 * is gone: a cached token verification at the gateway yields the same principal object, so a busy
 * client costs one signature per subgraph per 30 s.
 */
export function createIdentitySigner(privateKey: KeyObject, kid: string) {
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid, typ: 'JWT' })).toString('base64url');
  const reused = new WeakMap<Principal, Map<string, { token: string; expiresAtS: number }>>();
  return async (principal: Principal, audience: string, nowS = Math.floor(Date.now() / 1000)): Promise<string> => {
    let byAudience = reused.get(principal);
    if (!byAudience) reused.set(principal, (byAudience = new Map()));
    const cached = byAudience.get(audience);
    if (cached && cached.expiresAtS - nowS >= REUSE_MIN_REMAINING_S) return cached.token;
    const claims: IdentityClaims & Record<string, unknown> = {
      iss: INTERNAL_ISSUER,
      aud: audience,
      sub: principal.kind === 'authenticated' ? principal.subject : 'anonymous',
      iat: nowS,
      exp: nowS + INTERNAL_TOKEN_TTL_S,
      kind: principal.kind,
      roles: [...principal.roles],
      scope: [...principal.scopes].join(' '),
      ...(principal.kind === 'authenticated' ? { iss_orig: principal.issuer, ...(principal.clientId ? { cid: principal.clientId } : {}) } : {}),
    };
    const signingInput = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const token = `${signingInput}.${sign(null, Buffer.from(signingInput), privateKey).toString('base64url')}`;
    byAudience.set(audience, { token, expiresAtS: claims.exp as number });
    return token;
  };
}

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

/** Verified identities kept per subgraph process (one entry per principal and 30 s, see the signer). */
const VERIFIED_IDENTITIES_MAX = 10_000;

/** Verifies identities signed for `audience` (this subgraph's, see subgraphAudience) and no other. */
export function createIdentityVerifier(publicKey: KeyObject, audience: string) {
  const verified = createTtlCache<Principal>(VERIFIED_IDENTITIES_MAX);
  return async (token: string): Promise<Principal> => {
    const known = verified.get(token);
    if (known) return known;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, publicKey, {
        algorithms: ['EdDSA'],
        issuer: INTERNAL_ISSUER,
        audience,
        maxTokenAge: `${INTERNAL_TOKEN_TTL_S + 5}s`,
        clockTolerance: 5,
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (error) {
      throw new IdentityError(error instanceof joseErrors.JOSEError ? error.code : 'invalid');
    }
    const principal = principalOf(payload);
    verified.set(token, principal, Number(payload.exp) * 1000);
    return principal;
  };
}

function principalOf(payload: Record<string, unknown>): Principal {
  if (payload.kind === 'anonymous') return ANONYMOUS;
  if (payload.kind !== 'authenticated') throw new IdentityError('invalid kind');
  return {
    kind: 'authenticated',
    issuer: typeof payload.iss_orig === 'string' ? payload.iss_orig : INTERNAL_ISSUER,
    subject: String(payload.sub),
    clientId: typeof payload.cid === 'string' ? payload.cid : undefined,
    roles: new Set(stringArray(payload.roles)),
    scopes: new Set(typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : []),
  };
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
