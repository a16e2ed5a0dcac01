import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { devKeyPair } from '../../lib/dev-keys.js';
import { DEV_AUDIENCE, DEV_ISSUER } from './authenticate.js';

export interface DevTokenOptions {
  roles?: readonly string[];
  /** Extra scopes, besides those the roles grant. */
  scopes?: readonly string[];
  /** @default 'dev-cli' */
  clientId?: string;
  /** @default 'dev-user' */
  subject?: string;
  /** Lifetime in seconds. @default 3600 */
  ttlS?: number;
  /** Seconds since the epoch to issue at (tests). @default now */
  now?: number;
}

/**
 * A token from the built-in development issuer, which only a gateway in development mode without
 * external issuers trusts. For trying the gateway and for tests, never for production.
 */
export async function mintDevToken(options: DevTokenOptions = {}): Promise<string> {
  const { privateKey, kid } = devKeyPair('dev-issuer');
  const now = options.now ?? Math.floor(Date.now() / 1000);
  return new SignJWT({
    roles: [...(options.roles ?? [])],
    ...(options.scopes?.length ? { scope: options.scopes.join(' ') } : {}),
    azp: options.clientId ?? 'dev-cli',
  })
    .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setSubject(options.subject ?? 'dev-user')
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + (options.ttlS ?? 3600))
    .sign(privateKey);
}
