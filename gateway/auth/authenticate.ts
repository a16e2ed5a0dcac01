import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { HttpError } from '../../lib/http.js';
import type { AccessPolicies } from '../../lib/policies.js';
import { ANONYMOUS, type Principal } from '../../lib/principal.js';
import { createTtlCache } from '../../lib/ttl-cache.js';
import { principalFromClaims, type ClaimPaths } from './claims.js';
import { DEFAULT_CLIENT_ID_CLAIMS, DEFAULT_SCOPES_CLAIMS, DEFAULT_ROLES_CLAIMS, type IssuerConfig } from './issuers.js';

/** The built-in development issuer (`npm run token`): trusted only in development mode without external issuers. */
export const DEV_ISSUER = 'https://dev-issuer.dpg.invalid';
export const DEV_AUDIENCE = 'data-product-gateway';

export interface AuthenticatorOptions {
  issuers: readonly IssuerConfig[];
  /** The development issuer's public key, when it is trusted. */
  devIssuerKey: KeyObject | undefined;
  /** A request without a token is refused (else it is anonymous). */
  required: boolean;
  /** Allowed skew for exp/nbf/iat, in seconds. */
  clockToleranceS: number;
  /** After a key lookup misses (unknown kid), no refetch of that issuer's JWKS before this, in ms. */
  jwksCooldownMs: number;
  /** Deadline for discovery and JWKS fetches, in ms. */
  fetchTimeoutMs: number;
  /** Tokens longer than this are refused unread. */
  maxTokenBytes: number;
  policies: AccessPolicies;
  /** The clock for remembered failures, ms since the epoch. @default Date.now */
  now?: () => number;
}

interface TrustedIssuer {
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  readonly claims: ClaimPaths;
  keys(): Promise<JWTVerifyGetKey | KeyObject>;
}

export const REALM = 'data-product-gateway';
/** A verified token is remembered at most this long (and never past its exp): verification costs far more than a lookup. */
export const VERIFIED_TOKEN_MAX_AGE_MS = 60_000;
const VERIFIED_TOKENS_MAX = 10_000;

function unauthenticated(description: string): HttpError {
  return new HttpError(
    'UNAUTHENTICATED',
    'Invalid bearer token',
    { 'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"` },
    {},
    'invalid_token',
  );
}

function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/**
 * Verifies `Authorization: Bearer <JWT>` against the trusted issuers and returns the principal.
 * No header: anonymous, or 401 when authentication is required. Anything wrong with a token that
 * was sent: 401 with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750), never anonymous.
 * An issuer whose keys cannot be fetched: 503, the token is neither accepted nor called invalid.
 */
export function createAuthenticator(options: AuthenticatorOptions): (authorization: string | undefined) => Promise<Principal> {
  const now = options.now ?? Date.now;
  const trusted = new Map<string, TrustedIssuer>();
  for (const config of options.issuers) {
    let keys: Promise<JWTVerifyGetKey> | undefined;
    // An outage is remembered for the cooldown: while discovery or the key set cannot be fetched,
    // requests are answered 503 at once instead of each trying the provider again.
    let failedAt: number | undefined;
    const failing = () => failedAt !== undefined && now() - failedAt < options.jwksCooldownMs;
    const jwks = (uri: string): JWTVerifyGetKey => {
      // jose shares one fetch in flight among concurrent lookups.
      const remote = createRemoteJWKSet(new URL(uri), { cooldownDuration: options.jwksCooldownMs, timeoutDuration: options.fetchTimeoutMs });
      // Key lookups fail for two reasons: the token names a key the issuer does not have (the
      // token's fault: 401), or the key set could not be fetched or read (the provider's: 503).
      return async (header, token) => {
        if (failing()) throw new KeySetUnavailable(new Error('key set fetch failed recently'));
        try {
          return await remote(header, token);
        } catch (error) {
          if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
          failedAt = now();
          throw new KeySetUnavailable(error);
        }
      };
    };
    trusted.set(config.issuer, {
      audiences: config.audiences,
      algorithms: config.algorithms,
      claims: config,
      keys() {
        if (!keys && failing()) return Promise.reject(new KeySetUnavailable(new Error('discovery failed recently')));
        // One discovery in flight per issuer, shared by every request waiting for it.
        keys ??= (config.jwksUri ? Promise.resolve(jwks(config.jwksUri)) : discover(config.issuer, options.fetchTimeoutMs).then(jwks)).catch((error: unknown) => {
          keys = undefined; // discovery is tried again once the cooldown has passed
          failedAt = now();
          throw error;
        });
        return keys;
      },
    });
  }
  if (options.devIssuerKey) {
    const key = options.devIssuerKey;
    trusted.set(DEV_ISSUER, {
      audiences: [DEV_AUDIENCE],
      algorithms: ['EdDSA'],
      claims: { rolesClaims: DEFAULT_ROLES_CLAIMS, scopesClaims: DEFAULT_SCOPES_CLAIMS, clientIdClaims: DEFAULT_CLIENT_ID_CLAIMS },
      keys: async () => key,
    });
  }

  const verified = createTtlCache<Principal>(VERIFIED_TOKENS_MAX);

  return async (authorization) => {
    if (authorization === undefined || authorization === '') {
      if (!options.required) return ANONYMOUS;
      throw new HttpError('UNAUTHENTICATED', 'A bearer token is required', { 'www-authenticate': `Bearer realm="${REALM}"` });
    }
    const match = /^Bearer +([A-Za-z0-9_.~+/=-]+)$/i.exec(authorization);
    if (!match) throw unauthenticated('expected the Bearer scheme with one token');
    const token = match[1]!;
    if (token.length > options.maxTokenBytes) throw unauthenticated('token too large');
    const known = verified.get(token);
    if (known) return known;
    let issuer: string;
    try {
      const header = decodeProtectedHeader(token);
      if (typeof header.alg !== 'string' || header.alg === 'none') throw new Error('alg');
      issuer = String(decodeJwt(token).iss ?? '');
    } catch {
      throw unauthenticated('malformed token');
    }
    const trust = trusted.get(issuer);
    if (!trust) throw unauthenticated('untrusted issuer');
    let keys: JWTVerifyGetKey | KeyObject;
    try {
      keys = await trust.keys();
    } catch {
      throw new HttpError('SERVICE_UNAVAILABLE', 'The identity provider cannot be reached to verify the token', { 'retry-after': '5' });
    }
    try {
      const verifyOptions = {
        issuer,
        audience: [...trust.audiences],
        algorithms: [...trust.algorithms],
        clockTolerance: options.clockToleranceS,
        requiredClaims: ['exp', 'iss', 'aud'],
      };
      const { payload } = typeof keys === 'function' ? await jwtVerify(token, keys, verifyOptions) : await jwtVerify(token, keys, verifyOptions);
      const principal = principalFromClaims(payload as Record<string, unknown>, trust.claims, options.policies);
      verified.set(token, principal, Math.min(Number(payload.exp) * 1000, Date.now() + VERIFIED_TOKEN_MAX_AGE_MS));
      return principal;
    } catch (error) {
      if (error instanceof KeySetUnavailable) {
        throw new HttpError('SERVICE_UNAVAILABLE', 'The identity provider cannot be reached to verify the token', { 'retry-after': '5' });
      }
      throw unauthenticated(describe(error));
    }
  };
}

/** The issuer's key set could not be fetched or read: not the token's fault. */
class KeySetUnavailable extends Error {
  constructor(cause: unknown) {
    super('key set unavailable', { cause });
  }
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim ${error.claim} rejected`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature invalid';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'unknown signing key';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  return 'token rejected';
}

async function discover(issuer: string, timeoutMs: number): Promise<string> {
  const response = await fetch(discoveryUrl(issuer), { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`discovery answered HTTP ${response.status}`);
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  // OpenID Connect Discovery 1.0 §4.3: the document must name the same issuer.
  if (document.issuer !== issuer) throw new Error('discovery document names another issuer');
  if (typeof document.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
  return document.jwks_uri;
}
