import type { KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { ANONYMOUS, type Principal } from './principal.js';

/**
 * The identity the gateway forwards to data products: a short-lived JWT it signs (EdDSA) carrying
 * the principal it authenticated. Subgraphs trust nothing else: not the client's token, not any
 * client-sent header.
 */
export const INTERNAL_ISSUER = 'dpg-gateway';
export const INTERNAL_AUDIENCE = 'dpg-subgraph';
/** Lifetime of a forwarded identity, in seconds: one request's worth, with room for clock skew. */
export const INTERNAL_TOKEN_TTL_S = 60;

interface IdentityClaims {
  kind: Principal['kind'];
  iss_orig?: string;
  cid?: string;
  roles: string[];
  scope: string;
}

export function createIdentitySigner(privateKey: KeyObject, kid: string) {
  return async (principal: Principal): Promise<string> => {
    const claims: IdentityClaims = {
      kind: principal.kind,
      roles: [...principal.roles],
      scope: [...principal.scopes].join(' '),
      ...(principal.kind === 'authenticated' ? { iss_orig: principal.issuer, ...(principal.clientId ? { cid: principal.clientId } : {}) } : {}),
    };
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setIssuer(INTERNAL_ISSUER)
      .setAudience(INTERNAL_AUDIENCE)
      .setSubject(principal.kind === 'authenticated' ? principal.subject : 'anonymous')
      .setIssuedAt()
      .setExpirationTime(`${INTERNAL_TOKEN_TTL_S}s`)
      .sign(privateKey);
  };
}

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

export function createIdentityVerifier(publicKey: KeyObject) {
  return async (token: string): Promise<Principal> => {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, publicKey, {
        algorithms: ['EdDSA'],
        issuer: INTERNAL_ISSUER,
        audience: INTERNAL_AUDIENCE,
        maxTokenAge: `${INTERNAL_TOKEN_TTL_S + 5}s`,
        clockTolerance: 5,
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (error) {
      throw new IdentityError(error instanceof joseErrors.JOSEError ? error.code : 'invalid');
    }
    const roles = stringArray(payload.roles);
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    if (payload.kind === 'anonymous') return ANONYMOUS;
    if (payload.kind !== 'authenticated') throw new IdentityError('invalid kind');
    return {
      kind: 'authenticated',
      issuer: typeof payload.iss_orig === 'string' ? payload.iss_orig : INTERNAL_ISSUER,
      subject: String(payload.sub),
      clientId: typeof payload.cid === 'string' ? payload.cid : undefined,
      roles: new Set(roles),
      scopes: new Set(scopes),
    };
  };
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
