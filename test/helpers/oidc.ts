import { createPrivateKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
// @ts-expect-error -- oidc-provider ships no type declarations (and @types/oidc-provider is not installed); the
// few members used here are typed by OidcProviderModule below.
import * as oidcProviderModule from 'oidc-provider';

/**
 * A real OAuth 2.0 authorization server (panva's oidc-provider) on 127.0.0.1, port 0, that issues
 * JWT access tokens through the client_credentials grant, for tests of the gateway's token
 * verification (OIDC discovery -> jwks_uri -> JWKS).
 *
 * Issuer identifier: `http://127.0.0.1:<port>` with no trailing slash. Discovery is at
 * `<issuer>/.well-known/openid-configuration`, the JWKS at `<issuer>/jwks`, the token endpoint at
 * `<issuer>/token`. A verifier must expect `iss` exactly as `issuer` (a trailing slash would not match).
 *
 * Note: on Node 20, importing oidc-provider 9 prints one "Unsupported runtime" warning (it asks for
 * Node 22 LTS); that check runs at import time and cannot be configured away.
 */

export interface OidcClientSpec {
  clientId: string;
  /** Roles put in every access token of this client; no roles claim when absent. */
  roles?: string[];
  /** Space-separated scopes the client is registered for and requests with each token. */
  scope?: string;
  /** put roles under realm_access.roles instead of roles */
  keycloakStyle?: boolean;
  /**
   * The `aud` of this client's tokens instead of the issuer's audience (an absolute URI): a real
   * token from the token endpoint that a verifier expecting the issuer's audience must refuse.
   */
  audience?: string;
}

/**
 * How the provider fails: `all` answers every request (discovery, JWKS, token) HTTP 503; `jwks`
 * answers only the JWKS endpoint 503 (discovery still works); `jwks-hang` never answers the JWKS
 * endpoint (a verifier's fetch deadline must fire). Requests still count in `jwksRequests()`.
 */
export type Outage = 'none' | 'all' | 'jwks' | 'jwks-hang';

/** What `TestIssuer.sign()` signs with, and how it labels the result. */
export interface SignOptions {
  /**
   * `kid` in the protected header. @default the kid of the chosen key (for `foreign`, one the
   * issuer's JWKS does not have)
   */
  kid?: string;
  /** An RSA JWS algorithm (RS256/384/512, PS256/384/512). @default SIGNING_ALG */
  alg?: string;
  /**
   * `issuer`: the provider's own signing key, so the signature verifies against its JWKS.
   * `foreign`: a key of the same type the issuer never published.
   * @default 'issuer'
   */
  key?: 'issuer' | 'foreign';
  /** `typ` in the protected header. @default 'at+jwt' (RFC 9068, as the token endpoint issues) */
  typ?: string;
}

export interface TestIssuer {
  /** `http://127.0.0.1:<port>`, no trailing slash: the token's `iss` and discovery's `issuer`. */
  readonly issuer: string;
  /** The resource indicator every token is issued for (the token's `aud`), unless its client names its own `audience`. */
  readonly audience: string;
  readonly jwksUri: string;
  /** The kid of the provider's signing key, as published in its JWKS. */
  readonly kid: string;
  /** The provider's public signing key as published in its JWKS (what an attacker can read too). */
  readonly publicJwk: Readonly<JWK>;
  /** Requests a token from the real token endpoint with client_credentials (HTTP POST, client_secret_basic). */
  token(clientId: string): Promise<string>;
  /**
   * Test-only: a compact JWS over exactly `payload` (no claim is added or checked), to craft what
   * the token endpoint never issues: expired, not yet valid, wrong `iss`/`aud`, no `exp`, unknown
   * kid, a foreign key claiming the issuer's kid. Never touches the provider's JWKS endpoint.
   */
  sign(payload: Record<string, unknown>, options?: SignOptions): Promise<string>;
  /** How many times the JWKS endpoint was fetched (to test key caching / kid refetch cooldowns). */
  jwksRequests(): number;
  /** How many times the discovery document was fetched. */
  discoveryRequests(): number;
  /** Test-only: make the provider fail as an identity provider in trouble does, until set back to 'none'. */
  setOutage(outage: Outage): void;
  stop(): Promise<void>;
}

/** The audience when none is given. */
export const DEFAULT_AUDIENCE = 'https://gateway.dpg.test';
/** Access tokens are signed with this asymmetric algorithm; its public key is in the JWKS. */
export const SIGNING_ALG = 'RS256';
/** Lifetime of an access token, in seconds. */
export const ACCESS_TOKEN_TTL_SECONDS = 300;
export const JWKS_PATH = '/jwks';
export const TOKEN_PATH = '/token';
/** What `sign()` accepts: the JWS algorithms an RSA key can sign with. */
export const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const;

/** Thrown by `TestIssuer.token()` when the token endpoint refuses: the HTTP status and the OAuth error body. */
export class TokenRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`token endpoint answered HTTP ${status}: ${JSON.stringify(body)}`);
    this.name = 'TokenRequestError';
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** The part of oidc-provider's untyped API this helper uses. */
interface OidcProviderModule {
  Provider: new (issuer: string, configuration: Record<string, unknown>) => { callback(): Handler };
  errors: { InvalidTarget: new (description?: string) => Error };
}
const { Provider, errors } = oidcProviderModule as OidcProviderModule;

/** The client oidc-provider hands to resource indicator callbacks. */
interface ProviderClient {
  clientId: string;
}

/** The token oidc-provider hands to extraTokenClaims (a ClientCredentials model here). */
interface IssuedToken {
  clientId?: string;
}

export async function startOidcProvider(options: {
  clients: OidcClientSpec[];
  /** @default DEFAULT_AUDIENCE */
  audience?: string;
  /**
   * Scopes the server supports and the audience accepts. A client's registered `scope` must be
   * drawn from them; a requested scope the audience does not accept is left out of the token.
   * @default the union of the clients' `scope`
   */
  scopes?: string[];
}): Promise<TestIssuer> {
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  const specs = new Map<string, OidcClientSpec>();
  for (const spec of options.clients) {
    if (specs.has(spec.clientId)) throw new Error(`duplicate clientId ${spec.clientId}`);
    specs.set(spec.clientId, spec);
  }
  const audienceOf = (client: ProviderClient | undefined) => (client && specs.get(client.clientId)?.audience) ?? audience;
  const scopes = options.scopes ?? [...new Set(options.clients.flatMap((c) => c.scope?.split(' ').filter(Boolean) ?? []))];
  const secrets = new Map(options.clients.map((c) => [c.clientId, randomBytes(32).toString('base64url')]));

  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const signingKey = await exportJWK(privateKey);
  signingKey.kid = await calculateJwkThumbprint(signingKey);
  signingKey.alg = SIGNING_ALG;
  signingKey.use = 'sig';
  const kid = signingKey.kid;
  const publicJwk: JWK = Object.freeze({ kty: signingKey.kty, n: signingKey.n, e: signingKey.e, kid, alg: SIGNING_ALG, use: 'sig' });
  // KeyObjects, not CryptoKeys: a CryptoKey is bound to one hash and sign() may be asked for another.
  const issuerSigner = { key: createPrivateKey({ key: signingKey as JsonWebKey, format: 'jwk' }), kid };
  let foreignSigner: Promise<{ key: KeyObject; kid: string }> | undefined;

  // The issuer must carry the port, so the server listens first and gets its handler after.
  let handler: Handler = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  let jwksRequests = 0;
  let discoveryRequests = 0;
  let outage: Outage = 'none';
  const server = createServer((req, res) => {
    const jwks = req.method === 'GET' && req.url?.split('?')[0] === JWKS_PATH;
    if (jwks) jwksRequests += 1;
    if (req.url?.split('?')[0] === '/.well-known/openid-configuration') discoveryRequests += 1;
    if (outage === 'all' || (outage === 'jwks' && jwks)) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
      res.end('temporarily unavailable');
      return;
    }
    // Left open; stop() closes every connection, hung ones included.
    if (outage === 'jwks-hang' && jwks) return;
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  try {
    const provider = new Provider(issuer, {
      adapter: statelessAdapter,
      clients: options.clients.map((c) => ({
        client_id: c.clientId,
        client_secret: secrets.get(c.clientId),
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        ...(c.scope ? { scope: c.scope } : {}),
      })),
      jwks: { keys: [signingKey] },
      scopes,
      routes: { jwks: JWKS_PATH, token: TOKEN_PATH },
      ttl: { ClientCredentials: ACCESS_TOKEN_TTL_SECONDS },
      features: {
        // No end-user flows here; disabled also silences its development-only warning.
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        // Access tokens are JWTs only for a resource server that asks for them; without a resource
        // indicator oidc-provider issues opaque tokens. Every token request defaults to our audience
        // (or its client's own).
        resourceIndicators: {
          enabled: true,
          defaultResource: (_ctx: unknown, client: ProviderClient | undefined) => audienceOf(client),
          getResourceServerInfo: (_ctx: unknown, resourceIndicator: string, client: ProviderClient | undefined) => {
            if (resourceIndicator !== audienceOf(client)) throw new errors.InvalidTarget();
            return {
              audience: resourceIndicator,
              scope: scopes.join(' '),
              accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: SIGNING_ALG, kid: signingKey.kid } },
            };
          },
        },
      },
      extraTokenClaims: (_ctx: unknown, token: IssuedToken) => roleClaims(token.clientId === undefined ? undefined : specs.get(token.clientId)),
    });
    handler = provider.callback();
  } catch (error) {
    await closeServer(server);
    throw error;
  }

  const tokenEndpoint = `${issuer}${TOKEN_PATH}`;
  return {
    issuer,
    audience,
    jwksUri: `${issuer}${JWKS_PATH}`,
    async token(clientId) {
      const spec = specs.get(clientId);
      // An unregistered client still authenticates, with a made-up secret, so the server is the one to refuse it.
      const secret = secrets.get(clientId) ?? 'unregistered-client-secret';
      const body = new URLSearchParams({ grant_type: 'client_credentials' });
      if (spec?.scope) body.set('scope', spec.scope);
      const response = await fetch(tokenEndpoint, {
        method: 'POST',
        headers: { authorization: basicAuthorization(clientId, secret), accept: 'application/json' },
        body,
      });
      const text = await response.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      const accessToken = (json as { access_token?: unknown } | null)?.access_token;
      if (!response.ok || typeof accessToken !== 'string') throw new TokenRequestError(response.status, json);
      return accessToken;
    },
    kid,
    publicJwk,
    async sign(payload, signOptions = {}) {
      const alg = signOptions.alg ?? SIGNING_ALG;
      if (!(RSA_ALGORITHMS as readonly string[]).includes(alg)) throw new Error(`sign(): ${alg} is not an RSA algorithm (craft other tokens by hand)`);
      const signer = signOptions.key === 'foreign' ? await (foreignSigner ??= foreignKey()) : issuerSigner;
      return new SignJWT(payload as JWTPayload)
        .setProtectedHeader({ alg, kid: signOptions.kid ?? signer.kid, typ: signOptions.typ ?? 'at+jwt' })
        .sign(signer.key);
    },
    jwksRequests: () => jwksRequests,
    discoveryRequests: () => discoveryRequests,
    setOutage(next) {
      outage = next;
    },
    stop: () => closeServer(server),
  };
}

/** An RSA key this issuer never publishes, with a kid of its own (its thumbprint). */
async function foreignKey(): Promise<{ key: KeyObject; kid: string }> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { key: createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }), kid: await calculateJwkThumbprint(jwk) };
}

/** The roles claim for a client: top-level `roles`, or Keycloak's `realm_access.roles`. */
function roleClaims(spec: OidcClientSpec | undefined): Record<string, unknown> | undefined {
  if (!spec?.roles) return undefined;
  const roles = [...spec.roles];
  return spec.keycloakStyle ? { realm_access: { roles } } : { roles };
}

/** RFC 6749 section 2.3.1: id and secret are form-urlencoded before base64. */
function basicAuthorization(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/**
 * oidc-provider's storage adapter. JWT client_credentials tokens are never stored and the clients
 * are static, so nothing needs storing: lookups find nothing (an unknown client_id is refused) and a
 * write means the harness issued something it was not built for. Passing our own adapter also
 * avoids the default in-memory one, which is process-global and warns on every start.
 */
function statelessAdapter(model: string) {
  const unsupported = async () => {
    throw new Error(`oidc test harness stores nothing (attempted to store a ${model})`);
  };
  return {
    upsert: unsupported,
    find: async () => undefined,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    consume: unsupported,
    destroy: unsupported,
    revokeByGrantId: unsupported,
  };
}

async function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // fetch keeps connections alive; close() alone would wait for them to time out.
    server.closeAllConnections();
  });
}
