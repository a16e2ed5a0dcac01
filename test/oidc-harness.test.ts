import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { DEFAULT_AUDIENCE, startOidcProvider, TokenRequestError, type TestIssuer } from './helpers/oidc.js';

// The harness must issue what a real authorization server would, or the gateway's auth tests prove nothing.

const ANALYTICS = { clientId: 'svc-analytics', roles: ['analyst'], scope: 'customer:read finance:read' };
const RISK = { clientId: 'svc-risk', roles: ['risk-officer', 'auditor'], scope: 'customer:read customer:pii risk:read', keycloakStyle: true };
const AUDIENCE = 'https://gateway.harness.test';

let idp: TestIssuer;

beforeAll(async () => {
  idp = await startOidcProvider({ clients: [ANALYTICS, RISK], audience: AUDIENCE });
});

afterAll(async () => {
  await idp?.stop();
});

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('OIDC test issuer', () => {
  it('serves discovery with its issuer, jwks_uri and token endpoint', async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const { status, body } = await getJson(`${idp.issuer}/.well-known/openid-configuration`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      issuer: idp.issuer,
      jwks_uri: idp.jwksUri,
      token_endpoint: `${idp.issuer}/token`,
    });
    expect(body.grant_types_supported).toContain('client_credentials');
    expect(body.token_endpoint_auth_methods_supported).toContain('client_secret_basic');
  });

  it('publishes only public signing keys', async () => {
    const { status, body } = await getJson(idp.jwksUri);
    expect(status).toBe(200);
    const keys = body.keys as Record<string, unknown>[];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256', kid: expect.any(String) });
    expect(keys[0]).not.toHaveProperty('d');
  });

  it('issues verifiable JWT access tokens with top-level and Keycloak-style roles', async () => {
    const [analyticsToken, riskToken] = await Promise.all([idp.token(ANALYTICS.clientId), idp.token(RISK.clientId)]);
    const before = idp.jwksRequests();
    const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
    const expected = { issuer: idp.issuer, audience: AUDIENCE };

    const analytics = await jwtVerify(analyticsToken, jwks, expected);
    expect(analytics.payload).toEqual({
      iss: idp.issuer,
      aud: AUDIENCE,
      sub: ANALYTICS.clientId,
      client_id: ANALYTICS.clientId,
      scope: ANALYTICS.scope,
      roles: ANALYTICS.roles,
      jti: expect.any(String),
      iat: expect.any(Number),
      exp: expect.any(Number),
    });
    expect(analytics.payload.exp! - analytics.payload.iat!).toBeGreaterThan(0);

    const risk = await jwtVerify(riskToken, jwks, expected);
    expect(risk.payload).toEqual({
      iss: idp.issuer,
      aud: AUDIENCE,
      sub: RISK.clientId,
      client_id: RISK.clientId,
      scope: RISK.scope,
      realm_access: { roles: RISK.roles },
      jti: expect.any(String),
      iat: expect.any(Number),
      exp: expect.any(Number),
    });

    for (const { protectedHeader } of [analytics, risk]) {
      expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: expect.any(String) });
    }
    // One key set, one fetch: the counter sees what a caching verifier does.
    expect(idp.jwksRequests() - before).toBe(1);
  });

  it('signs with the key whose kid it publishes', async () => {
    const token = await idp.token(ANALYTICS.clientId);
    const { body } = await getJson(idp.jwksUri);
    const kids = (body.keys as { kid: string }[]).map((k) => k.kid);
    expect(kids).toContain(decodeProtectedHeader(token).kid);
  });

  it('counts every JWKS fetch', async () => {
    const before = idp.jwksRequests();
    await fetch(idp.jwksUri);
    await fetch(`${idp.jwksUri}?x=1`);
    await fetch(`${idp.issuer}/.well-known/openid-configuration`);
    expect(idp.jwksRequests() - before).toBe(2);
  });

  it('refuses an unknown client with 401 invalid_client', async () => {
    const error = await idp.token('svc-unknown').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenRequestError);
    expect(error).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses a known client with a wrong secret with 401 invalid_client', async () => {
    const response = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${ANALYTICS.clientId}:wrong`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('refuses a token request without client authentication with 401 invalid_client', async () => {
    const response = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: ANALYTICS.clientId }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });
});

describe('OIDC test issuer defaults', () => {
  it('defaults the audience, omits scope and roles a client has none of, and stops', async () => {
    const bare = await startOidcProvider({ clients: [{ clientId: 'svc-bare' }] });
    try {
      expect(bare.audience).toBe(DEFAULT_AUDIENCE);
      const token = await bare.token('svc-bare');
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(bare.jwksUri)), { issuer: bare.issuer, audience: DEFAULT_AUDIENCE });
      expect(payload).toEqual({
        iss: bare.issuer,
        aud: DEFAULT_AUDIENCE,
        sub: 'svc-bare',
        client_id: 'svc-bare',
        jti: expect.any(String),
        iat: expect.any(Number),
        exp: expect.any(Number),
      });
    } finally {
      await bare.stop();
    }
    await expect(fetch(bare.jwksUri)).rejects.toThrow();
  });

  it("does not verify another issuer's tokens against this issuer's keys", async () => {
    const other = await startOidcProvider({ clients: [ANALYTICS] });
    try {
      const token = await other.token(ANALYTICS.clientId);
      await expect(
        jwtVerify(token, createRemoteJWKSet(new URL(idp.jwksUri)), { issuer: idp.issuer, audience: DEFAULT_AUDIENCE }),
      ).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    } finally {
      await other.stop();
    }
  });
});
