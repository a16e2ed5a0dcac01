import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
// @ts-expect-error -- oidc-provider ships no type declarations; the few members used here are typed by ProviderModule below.
import * as oidcProviderModule from 'oidc-provider';

/**
 * A real OpenID provider (panva's oidc-provider) on 127.0.0.1, port 0, for browser sign-in: the
 * authorization code flow with PKCE for a public client, its own login and consent pages
 * (oidc-provider's development interactions: any password), refresh tokens, and JWT access tokens
 * for the gateway's audience carrying the account's roles. test/helpers/oidc.ts is its
 * client-credentials sibling.
 *
 * The issuer must exist before the gateway (whose OIDC_ISSUERS names it) and the client's redirect
 * URIs name the gateway: the server listens at once and answers 503 until `register()`.
 */

export interface LoginProvider {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly issuer: string;
  /** The `aud` of every access token. */
  readonly audience: string;
  /** Registers the public client (no secret, PKCE required) and starts answering. */
  register(client: { clientId: string; redirectUris: readonly string[] }): void;
  /** While down, every request is answered 503, as an identity provider in trouble does. */
  setDown(down: boolean): void;
  stop(): Promise<void>;
}

/** Lifetime of an access token, in seconds. */
export const LOGIN_ACCESS_TOKEN_TTL_S = 600;
export const LOGIN_AUDIENCE = 'https://gateway.sign-in.test';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface ProviderModule {
  Provider: new (issuer: string, configuration: Record<string, unknown>) => { callback(): Handler };
  errors: { InvalidTarget: new (description?: string) => Error };
}
const { Provider, errors } = oidcProviderModule as ProviderModule;

interface ProviderClient {
  clientId: string;
  redirectUris: string[];
  grantTypeAllowed(grantType: string): boolean;
}

/** `accounts`: login name -> the roles its access tokens carry. */
export async function startLoginProvider(options: { accounts: Readonly<Record<string, readonly string[]>> }): Promise<LoginProvider> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = await exportJWK(privateKey);
  signingKey.kid = await calculateJwkThumbprint(signingKey);
  signingKey.alg = 'RS256';
  signingKey.use = 'sig';

  let handler: Handler = (_req, res) => {
    res.writeHead(503).end();
  };
  let down = false;
  const server = createServer((req, res) => {
    if (down) {
      res.writeHead(503, { 'content-type': 'text/plain', 'access-control-allow-origin': '*' }).end('temporarily unavailable');
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    audience: LOGIN_AUDIENCE,
    register(client) {
      const provider = new Provider(issuer, {
        adapter: memoryAdapter(),
        clients: [
          {
            client_id: client.clientId,
            token_endpoint_auth_method: 'none',
            application_type: 'web',
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            redirect_uris: [...client.redirectUris],
          },
        ],
        jwks: { keys: [signingKey] },
        cookies: { keys: [randomBytes(32).toString('base64url')] },
        findAccount: (_ctx: unknown, id: string) =>
          Object.hasOwn(options.accounts, id) ? { accountId: id, claims: () => ({ sub: id, name: id }) } : undefined,
        claims: { openid: ['sub'], profile: ['name'] },
        scopes: ['openid', 'profile', 'offline_access'],
        pkce: { required: () => true },
        // Lifetimes in seconds (oidc-provider asks for each to be chosen).
        ttl: { AccessToken: LOGIN_ACCESS_TOKEN_TTL_S, IdToken: 3_600, RefreshToken: 86_400, Interaction: 600, Session: 3_600, Grant: 86_400 },
        // A public client gets refresh tokens (rotated on each use) without asking for offline_access.
        issueRefreshToken: (_ctx: unknown, c: ProviderClient) => c.grantTypeAllowed('refresh_token'),
        // The page at a redirect URI's origin may call the token endpoint.
        clientBasedCORS: (_ctx: unknown, origin: string, c: ProviderClient) => c.redirectUris.some((uri) => new URL(uri).origin === origin),
        features: {
          devInteractions: { enabled: true },
          // JWT access tokens for the gateway: requested or not, every token is for its audience.
          resourceIndicators: {
            enabled: true,
            defaultResource: () => LOGIN_AUDIENCE,
            useGrantedResource: () => true,
            getResourceServerInfo: (_ctx: unknown, indicator: string) => {
              if (indicator !== LOGIN_AUDIENCE) throw new errors.InvalidTarget();
              return { audience: LOGIN_AUDIENCE, scope: '', accessTokenTTL: LOGIN_ACCESS_TOKEN_TTL_S, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
            },
          },
        },
        extraTokenClaims: (_ctx: unknown, token: { accountId?: string }) =>
          token.accountId && Object.hasOwn(options.accounts, token.accountId) ? { roles: [...options.accounts[token.accountId]!] } : undefined,
      });
      handler = provider.callback();
    },
    setDown(next) {
      down = next;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** oidc-provider's storage, in this provider's memory (its built-in one is process-wide). */
function memoryAdapter() {
  const store = new Map<string, Record<string, unknown>>();
  return (model: string) => {
    const key = (id: string) => `${model}:${id}`;
    return {
      async upsert(id: string, payload: Record<string, unknown>) {
        store.set(key(id), { ...payload });
      },
      find: async (id: string) => store.get(key(id)),
      async findByUid(uid: string) {
        for (const [name, payload] of store) if (name.startsWith(`${model}:`) && payload.uid === uid) return payload;
        return undefined;
      },
      findByUserCode: async () => undefined,
      async consume(id: string) {
        const payload = store.get(key(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id: string) {
        store.delete(key(id));
      },
      async revokeByGrantId(grantId: string) {
        for (const [name, payload] of store) if (payload.grantId === grantId) store.delete(name);
      },
    };
  };
}
