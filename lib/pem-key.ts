import { createPrivateKey, createPublicKey } from 'node:crypto';
import { z } from 'zod';

/**
 * An Ed25519 key from configuration, in PEM (PKCS#8 private or SPKI public). Newlines may be
 * written as `\n` so the value fits on one line of an env file (`npm run -s keys` writes that).
 */
export function ed25519PemKey(kind: 'private' | 'public') {
  const load = kind === 'private' ? createPrivateKey : createPublicKey;
  const format = kind === 'private' ? 'PKCS#8' : 'SPKI';
  return z.string().transform((pem, ctx) => {
    try {
      const key = load(pem.replace(/\\n/g, '\n'));
      if (key.asymmetricKeyType !== 'ed25519') throw new Error('not Ed25519');
      return key;
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected an Ed25519 ${kind} key in ${format} PEM` });
      return z.NEVER;
    }
  });
}
