import { devKeyPair } from '../lib/dev-keys.js';
import { createIdentitySigner, subgraphAudience } from '../lib/internal-token.js';
import { ANONYMOUS, type Principal } from '../lib/principal.js';
import type { GatewayConfig } from './config.js';
import { isGatewayContext } from './context.js';

/** The identity the gateway forwards to data products, one audience per subgraph. */
export interface Identity {
  /** For one request's principal: each subgraph's token signed on first use, then reused by every call of the request. */
  forRequest(principal: Principal): (subgraph: string) => Promise<string>;
  /** What a subgraph call carries: the request's identity, or the gateway's own (anonymous) for its own calls (health, catalogue). */
  forCall(context: unknown, subgraph: string): Promise<string>;
}

/** Signs with INTERNAL_SIGNING_KEY, or the public development key (development mode only, which config enforces). */
export function createIdentity(config: Pick<GatewayConfig, 'internalSigningKey'>): Identity {
  const key = config.internalSigningKey ? { privateKey: config.internalSigningKey, kid: 'gateway' } : devKeyPair('internal-identity');
  // The signer reuses each (principal, audience) token for half its lifetime.
  const sign = createIdentitySigner(key.privateKey, key.kid);
  return {
    forRequest(principal) {
      const tokens = new Map<string, Promise<string>>();
      return (subgraph) => {
        let token = tokens.get(subgraph);
        if (!token) tokens.set(subgraph, (token = sign(principal, subgraphAudience(subgraph))));
        return token;
      };
    },
    forCall: (context, subgraph) => (isGatewayContext(context) ? context.identityToken(subgraph) : sign(ANONYMOUS, subgraphAudience(subgraph))),
  };
}
