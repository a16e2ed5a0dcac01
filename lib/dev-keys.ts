import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * Well-known Ed25519 key pairs for development mode only: the built-in development issuer (what
 * `npm run token` signs with) and the gateway -> subgraph identity token. They are derived from
 * public strings, so anyone can mint tokens with them: production mode never accepts them.
 */
export type DevKeyPurpose = 'dev-issuer' | 'internal-identity';

export interface KeyPair {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

// PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function devKeyPair(purpose: DevKeyPurpose): KeyPair {
  const seed = createHash('sha256').update(`data-product-gateway development key: ${purpose}`).digest();
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return { kid: `dev-${purpose}`, privateKey, publicKey: createPublicKey(privateKey) };
}
