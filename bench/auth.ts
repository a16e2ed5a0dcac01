import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, SignJWT } from 'jose';

/** What the bench's client token grants: every field the three operations read, nothing more. */
export const BENCH_SCOPES = ['customer:read', 'customer:pii', 'finance:read', 'product:read'] as const;
export const BENCH_AUDIENCE = 'data-product-gateway-bench';
/** Client token lifetime: longer than any run. */
const TOKEN_TTL = '6h';

export interface BenchAuth {
  /** `Bearer <JWT>` for the clients' requests, from the bench's own issuer. */
  readonly authorization: string;
  /** Our gateway in production mode: trusts the bench's issuer, signs identities with a fresh key. */
  readonly gatewayEnv: Readonly<Record<string, string>>;
  /** The subgraphs in production mode: verify identities with that key's public half. */
  readonly subgraphsEnv: Readonly<Record<string, string>>;
  /** The bare gateway: the same signing key and the scopes to put in the identity it forwards. */
  readonly bareEnv: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

/**
 * A throwaway identity setup on loopback, so both gateways run as in production (no development
 * keys, authentication required): an OIDC issuer that is just a JWKS endpoint served from this
 * process (our gateway fetches it once), one client token, and an Ed25519 key pair for the
 * gateway -> subgraph identity token. Keys live for one run and are never written to disk.
 */
export async function startBenchAuth(port: number, role?: string): Promise<BenchAuth> {
  const issuerKeys = generateKeyPairSync('ed25519');
  const identityKeys = generateKeyPairSync('ed25519');
  const jwk = { ...(await exportJWK(issuerKeys.publicKey)), kid: 'bench-issuer', alg: 'EdDSA', use: 'sig' };
  const jwks = JSON.stringify({ keys: [jwk] });

  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(jwks) });
      res.end(jwks);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${port}`;

  // With a role, the token carries that role alone (policies/access.yaml decides what it reads and
  // how personal data reaches it: --role data-scientist measures masking and pseudonyms).
  const token = await new SignJWT(role ? { roles: [role], azp: 'bench' } : { scope: BENCH_SCOPES.join(' '), azp: 'bench' })
    .setProtectedHeader({ alg: 'EdDSA', kid: jwk.kid })
    .setIssuer(issuer)
    .setAudience(BENCH_AUDIENCE)
    .setSubject('bench-user')
    .setIssuedAt()
    .setExpirationTime(TOKEN_TTL)
    .sign(issuerKeys.privateKey);

  const signingPem = identityKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const verifyPem = identityKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    authorization: `Bearer ${token}`,
    gatewayEnv: {
      OIDC_ISSUERS: JSON.stringify([{ issuer, audiences: [BENCH_AUDIENCE], jwksUri: `${issuer}/jwks`, algorithms: ['EdDSA'] }]),
      INTERNAL_SIGNING_KEY: signingPem,
      // Production needs its own pseudonym key; a throwaway one, like the identity keys.
      PSEUDONYM_KEY: randomBytes(32).toString('base64'),
    },
    subgraphsEnv: { INTERNAL_VERIFY_KEY: verifyPem },
    bareEnv: { BARE_IDENTITY_KEY: signingPem, BARE_IDENTITY_SCOPES: BENCH_SCOPES.join(' ') },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
