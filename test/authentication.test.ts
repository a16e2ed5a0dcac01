import { createHmac, createPublicKey, randomUUID, type JsonWebKey } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { DEFAULT_MAX_TOKEN_BYTES, loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { postGraphQL, type GraphQLResult } from './helpers/http.js';
import { startOidcProvider, type OidcClientSpec, type TestIssuer } from './helpers/oidc.js';
import { startStack, type Stack } from './helpers/stack.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

// Bearer tokens from a real OpenID provider (discovery -> jwks_uri -> JWKS) against a real gateway
// over HTTP. Every way a token can be wrong must end in 401 before GraphQL runs, never in an
// anonymous (or partial) answer; an identity provider that cannot be reached is 503, not 401.

const MARKETING: OidcClientSpec = { clientId: 'app-marketing', roles: ['marketing-analyst'] };
const RISK: OidcClientSpec = { clientId: 'app-risk', roles: ['risk-analyst'], keycloakStyle: true };
const PII_READER: OidcClientSpec = { clientId: 'app-pii-reader', scope: 'customer:read customer:pii' };
/** Registered with the same issuer, but its tokens are for another resource server. */
const ELSEWHERE: OidcClientSpec = { clientId: 'app-elsewhere', roles: ['admin'], audience: 'https://elsewhere.dpg.test' };

const REALM = 'data-product-gateway';
const CLOCK_TOLERANCE_S = 5;
const CUSTOMER_ID = 'C000042';
const CUSTOMER_QUERY = /* GraphQL */ `{ customer(id: "${CUSTOMER_ID}") { id country } }`;
const BOOKS_QUERY = /* GraphQL */ `{ books { id title } }`;

const silent = createLogger('test', 'silent');

let oidc: TestIssuer;
/** A second, independent issuer the gateway does not trust. */
let stranger: TestIssuer;
let stack: Stack;
let toy: Toy;
const toyGateways: RunningGateway[] = [];

function authEnv(issuers: readonly Record<string, unknown>[], required: boolean): Record<string, string> {
  return {
    OIDC_ISSUERS: JSON.stringify(issuers),
    AUTH_REQUIRED: String(required),
    CLOCK_TOLERANCE_S: String(CLOCK_TOLERANCE_S),
    JWKS_COOLDOWN_MS: '60000',
  };
}

/** A small gateway over the toy supergraph (no second database), trusting `issuers`. */
async function toyGateway(issuers: readonly Record<string, unknown>[], required: boolean): Promise<RunningGateway> {
  const gateway = await startGateway(
    loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: toy.supergraphPath, ...authEnv(issuers, required) }),
    silent,
  );
  toyGateways.push(gateway);
  return gateway;
}

beforeAll(async () => {
  [oidc, stranger, toy] = await Promise.all([
    startOidcProvider({ clients: [MARKETING, RISK, PII_READER, ELSEWHERE] }),
    startOidcProvider({ clients: [MARKETING] }),
    startToySubgraphs(),
  ]);
  // Discovery, not jwksUri: the gateway finds the keys the way it would in production.
  stack = await startStack({ env: authEnv([{ issuer: oidc.issuer, audiences: [oidc.audience] }], true) });
});

afterAll(async () => {
  await Promise.all(toyGateways.map((g) => g.stop()));
  await stack?.stop();
  await Promise.all([oidc?.stop(), stranger?.stop(), toy?.stop()]);
});

const nowS = () => Math.floor(Date.now() / 1000);

/** The claims of a valid access token of `oidc` (marketing-analyst), with overrides. */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowS();
  return {
    iss: oidc.issuer,
    aud: oidc.audience,
    sub: 'crafted-client',
    client_id: 'crafted-client',
    roles: ['marketing-analyst'],
    jti: randomUUID(),
    iat: now,
    exp: now + 300,
    ...overrides,
  };
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A compact JWS signed with HMAC-SHA256 over `secret`, whatever `secret` is. */
function hs256(payload: Record<string, unknown>, secret: string | Buffer, header: Record<string, unknown> = {}): string {
  const signingInput = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', ...header }))}.${b64url(JSON.stringify(payload))}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

function ask(url: string, authorization: string | undefined, query = CUSTOMER_QUERY): Promise<GraphQLResult> {
  return postGraphQL(url, query, { headers: authorization === undefined ? {} : { authorization } });
}

const bearer = (token: string) => `Bearer ${token}`;

const UNAUTHENTICATED_BODY = { errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }] };
/** RFC 6750 §3: the realm, then error and a quoted description with nothing that breaks the quoting. */
const INVALID_TOKEN_CHALLENGE = new RegExp(`^Bearer realm="${REALM}", error="invalid_token", error_description="[^"\\\\]*"$`);

type Challenge = 'no-error' | 'invalid_token';

function expectUnauthenticated(result: GraphQLResult, challenge: Challenge): void {
  expect(result.status).toBe(401);
  expect(result.headers.get('content-type')).toMatch(/^application\/json(;|$)/);
  expect(result.body).toStrictEqual(UNAUTHENTICATED_BODY);
  const header = result.headers.get('www-authenticate');
  // RFC 6750 §3.1: no error code when the request carried no token at all.
  if (challenge === 'no-error') expect(header).toBe(`Bearer realm="${REALM}"`);
  else expect(header).toMatch(INVALID_TOKEN_CHALLENGE);
}

function expectServiceUnavailable(result: GraphQLResult): void {
  expect(result.status).toBe(503);
  expect(result.headers.get('content-type')).toMatch(/^application\/json(;|$)/);
  expect(result.body).toStrictEqual({ errors: [{ message: expect.any(String), extensions: { code: 'SERVICE_UNAVAILABLE' } }] });
  expect(result.headers.get('retry-after')).toMatch(/^\d+$/);
  // Neither "your token is bad" nor a challenge to fetch a new one: the token was not judged.
  expect(result.headers.get('www-authenticate')).toBeNull();
}

interface BadToken {
  name: string;
  /** The Authorization header to send; undefined sends none. */
  authorization(): Promise<string | undefined>;
  challenge: Challenge;
}

const BAD_TOKENS: BadToken[] = [
  { name: 'missing', authorization: async () => undefined, challenge: 'no-error' },
  { name: 'Basic scheme', authorization: async () => `Basic ${b64url('app-marketing:secret')}`, challenge: 'invalid_token' },
  { name: 'Bearer with two tokens', authorization: async () => `Bearer ${await oidc.token(MARKETING.clientId)} extra`, challenge: 'invalid_token' },
  { name: 'malformed (not a JWT)', authorization: async () => bearer('not-a-jwt'), challenge: 'invalid_token' },
  { name: 'malformed (three segments of junk)', authorization: async () => bearer('abc.def.ghi'), challenge: 'invalid_token' },
  {
    name: 'expired beyond the clock tolerance',
    authorization: async () => bearer(await oidc.sign(claims({ iat: nowS() - 400, exp: nowS() - 60 }))),
    challenge: 'invalid_token',
  },
  {
    name: 'not yet valid (nbf) beyond the clock tolerance',
    authorization: async () => bearer(await oidc.sign(claims({ nbf: nowS() + 60 }))),
    challenge: 'invalid_token',
  },
  {
    name: 'wrong issuer (a real token of an untrusted provider)',
    authorization: async () => bearer(await stranger.token(MARKETING.clientId)),
    challenge: 'invalid_token',
  },
  {
    name: "wrong issuer (signed with the trusted issuer's key)",
    authorization: async () => bearer(await oidc.sign(claims({ iss: 'https://evil.example' }))),
    challenge: 'invalid_token',
  },
  {
    name: "iss as an array holding the trusted issuer",
    authorization: async () => bearer(await oidc.sign(claims({ iss: [oidc.issuer] }))),
    challenge: 'invalid_token',
  },
  {
    name: 'development issuer (not trusted once external issuers are configured)',
    authorization: async () => bearer(await mintDevToken({ roles: ['admin'] })),
    challenge: 'invalid_token',
  },
  {
    name: 'wrong audience (a real token issued for another resource server)',
    authorization: async () => bearer(await oidc.token(ELSEWHERE.clientId)),
    challenge: 'invalid_token',
  },
  {
    name: 'wrong audience (crafted, aud array without ours)',
    authorization: async () => bearer(await oidc.sign(claims({ aud: ['https://elsewhere.dpg.test', `${oidc.audience}/`] }))),
    challenge: 'invalid_token',
  },
  {
    name: "alg none (unsigned, with the issuer's iss and aud)",
    authorization: async () => bearer(`${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(claims({ roles: ['admin'] })))}.`),
    challenge: 'invalid_token',
  },
  {
    name: "HS256 keyed with the issuer's public key (PEM)",
    authorization: async () => {
      const pem = createPublicKey({ key: oidc.publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      return bearer(hs256(claims({ roles: ['admin'] }), pem, { kid: oidc.kid }));
    },
    challenge: 'invalid_token',
  },
  {
    name: "HS256 keyed with the issuer's public key (JWK JSON)",
    authorization: async () => bearer(hs256(claims({ roles: ['admin'] }), JSON.stringify(oidc.publicJwk), { kid: oidc.kid })),
    challenge: 'invalid_token',
  },
  {
    name: 'unknown kid (a foreign key)',
    authorization: async () => bearer(await oidc.sign(claims(), { key: 'foreign' })),
    challenge: 'invalid_token',
  },
  {
    name: "foreign key claiming the issuer's kid",
    authorization: async () => bearer(await oidc.sign(claims({ roles: ['admin'] }), { key: 'foreign', kid: oidc.kid })),
    challenge: 'invalid_token',
  },
  {
    name: 'tampered payload (roles changed to admin)',
    authorization: async () => {
      const [header, payload, signature] = (await oidc.token(MARKETING.clientId)).split('.');
      const claimsOfToken = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
      return bearer(`${header}.${b64url(JSON.stringify({ ...claimsOfToken, roles: ['admin'] }))}.${signature}`);
    },
    challenge: 'invalid_token',
  },
  {
    name: 'signature stripped',
    authorization: async () => bearer(`${(await oidc.token(MARKETING.clientId)).split('.').slice(0, 2).join('.')}.`),
    challenge: 'invalid_token',
  },
  {
    name: `oversized (over MAX_TOKEN_BYTES = ${DEFAULT_MAX_TOKEN_BYTES})`,
    authorization: async () => bearer(await oidc.sign(claims({ padding: 'x'.repeat(DEFAULT_MAX_TOKEN_BYTES) }))),
    challenge: 'invalid_token',
  },
  {
    name: 'missing exp',
    authorization: async () => {
      const { exp: _exp, ...withoutExp } = claims();
      return bearer(await oidc.sign(withoutExp));
    },
    challenge: 'invalid_token',
  },
  {
    name: 'exp not a number',
    authorization: async () => bearer(await oidc.sign(claims({ exp: String(nowS() + 300) }))),
    challenge: 'invalid_token',
  },
  {
    name: 'missing aud',
    authorization: async () => {
      const { aud: _aud, ...withoutAud } = claims();
      return bearer(await oidc.sign(withoutAud));
    },
    challenge: 'invalid_token',
  },
];

describe('roles and scopes from real client_credentials tokens', () => {
  it('marketing-analyst: customer data, and FORBIDDEN with paths for finance fields in the same response', async () => {
    const token = await oidc.token(MARKETING.clientId);
    const result = await postGraphQL(
      stack.url,
      /* GraphQL */ `{
        customer(id: "${CUSTOMER_ID}") {
          id
          country
          segments { name score }
          transactions(first: 2) { id amount }
          lifetimeValue { amount currency }
        }
      }`,
      { token },
    );
    expect(result.status).toBe(200);
    const forbidden = (field: string) => ({
      message: expect.any(String),
      path: ['customer', field],
      extensions: { code: 'FORBIDDEN', coordinate: `Customer.${field}`, missingScopes: ['finance:read'] },
    });
    expect(result.body).toStrictEqual({
      data: {
        customer: {
          id: CUSTOMER_ID,
          country: expect.stringMatching(/^[A-Z]{2}$/),
          segments: expect.any(Array),
          transactions: null,
          lifetimeValue: null,
        },
      },
      // In the order the fields are selected.
      errors: [forbidden('transactions'), forbidden('lifetimeValue')],
    });
    const { segments } = (result.body.data as { customer: { segments: unknown[] } }).customer;
    for (const segment of segments) expect(segment).toStrictEqual({ name: expect.any(String), score: expect.any(Number) });
  });

  it('risk-analyst with Keycloak-style roles (realm_access.roles): loan risk scores and, per risk-model-explanations, their key factors', async () => {
    const token = await oidc.token(RISK.clientId);
    const withLoans = await postGraphQL<{ customers: { id: string; loanRiskAssessments: unknown[] | null }[] }>(
      stack.url,
      /* GraphQL */ `{ customers(first: 100) { id loanRiskAssessments { applicationId } } }`,
      { token },
    );
    expect(withLoans.body.errors).toBeUndefined();
    const applicant = withLoans.body.data!.customers.find((c) => (c.loanRiskAssessments?.length ?? 0) > 0);
    expect(applicant).toBeDefined();

    const result = await postGraphQL<{ customer: { loanRiskAssessments: unknown[] } }>(
      stack.url,
      /* GraphQL */ `query ($id: ID!) {
        customer(id: $id) { id loanRiskAssessments { applicationId riskScore riskLevel keyFactors { name weight } } }
      }`,
      { token, variables: { id: applicant!.id } },
    );
    expect(result.status).toBe(200);
    expect(result.body).toStrictEqual({ data: { customer: { id: applicant!.id, loanRiskAssessments: expect.any(Array) } } });
    const assessments = result.body.data!.customer.loanRiskAssessments;
    expect(assessments.length).toBeGreaterThan(0);
    for (const assessment of assessments) {
      expect(assessment).toStrictEqual({
        applicationId: expect.stringMatching(/^LA\d{6}$/),
        riskScore: expect.any(Number),
        riskLevel: expect.any(String),
        keyFactors: expect.any(Array),
      });
      const { keyFactors } = assessment as { keyFactors: unknown[] };
      expect(keyFactors.length).toBeGreaterThan(0);
      for (const factor of keyFactors) expect(factor).toStrictEqual({ name: expect.any(String), weight: expect.any(Number) });
    }
  });

  it('a client with only scopes (scope claim "customer:read customer:pii", no roles) reads email', async () => {
    const token = await oidc.token(PII_READER.clientId);
    const result = await postGraphQL(stack.url, /* GraphQL */ `{ customer(id: "${CUSTOMER_ID}") { id email } }`, { token });
    expect(result.status).toBe(200);
    expect(result.body).toStrictEqual({ data: { customer: { id: CUSTOMER_ID, email: expect.stringContaining('@') } } });
  });

  it('matches scopes exactly: near-misses grant nothing', async () => {
    const token = await oidc.sign(claims({ roles: undefined, scope: 'customer:read customer:PII customer:pii:all customer:pii* customer' }));
    const result = await postGraphQL(stack.url, /* GraphQL */ `{ customer(id: "${CUSTOMER_ID}") { id email } }`, { token });
    expect(result.status).toBe(200);
    expect(result.body).toStrictEqual({
      data: { customer: { id: CUSTOMER_ID, email: null } },
      errors: [
        {
          message: expect.any(String),
          path: ['customer', 'email'],
          extensions: { code: 'FORBIDDEN', coordinate: 'Customer.email', missingScopes: ['customer:pii'] },
        },
      ],
    });
  });

  it('reads scopes from an scp array too', async () => {
    const token = await oidc.sign(claims({ roles: undefined, scp: ['customer:read', 'customer:pii'] }));
    const result = await postGraphQL(stack.url, /* GraphQL */ `{ customer(id: "${CUSTOMER_ID}") { id email } }`, { token });
    expect(result.status).toBe(200);
    expect(result.body).toStrictEqual({ data: { customer: { id: CUSTOMER_ID, email: expect.stringContaining('@') } } });
  });

  it('risk:read without the risk-model-explanations policy: scores, but key factors are FORBIDDEN', async () => {
    const token = await oidc.sign(claims({ roles: ['data-scientist'] }));
    const risk = await oidc.token(RISK.clientId);
    const withLoans = await postGraphQL<{ customers: { id: string; loanRiskAssessments: unknown[] | null }[] }>(
      stack.url,
      /* GraphQL */ `{ customers(first: 100) { id loanRiskAssessments { applicationId } } }`,
      { token: risk },
    );
    const applicant = withLoans.body.data!.customers.find((c) => (c.loanRiskAssessments?.length ?? 0) > 0)!;
    const result = await postGraphQL<{ customer: { loanRiskAssessments: unknown[] } }>(
      stack.url,
      /* GraphQL */ `query ($id: ID!) { customer(id: $id) { loanRiskAssessments { riskScore keyFactors { name } } } }`,
      { token, variables: { id: applicant.id } },
    );
    expect(result.status).toBe(200);
    expect(result.body).toStrictEqual({
      data: { customer: { loanRiskAssessments: expect.any(Array) } },
      errors: [
        {
          message: expect.any(String),
          path: ['customer', 'loanRiskAssessments', 'keyFactors'],
          extensions: { code: 'FORBIDDEN', coordinate: 'LoanRiskAssessment.keyFactors', missingPolicies: ['risk-model-explanations'] },
        },
      ],
    });
    for (const assessment of result.body.data!.customer.loanRiskAssessments) {
      expect(assessment).toStrictEqual({ riskScore: expect.any(Number), keyFactors: null });
    }
  });
});

describe('accepted token shapes', () => {
  it('accepts a token crafted with the issuer key (the control for the bad-token matrix)', async () => {
    const result = await ask(stack.url, bearer(await oidc.sign(claims())));
    expect(result.status).toBe(200);
    expect(result.body).toStrictEqual({ data: { customer: { id: CUSTOMER_ID, country: expect.any(String) } } });
  });

  it('accepts the scheme name in any case and an aud array that contains the audience', async () => {
    const token = await oidc.sign(claims({ aud: ['https://elsewhere.dpg.test', oidc.audience] }));
    for (const scheme of ['bearer', 'BEARER']) {
      const result = await ask(stack.url, `${scheme} ${token}`);
      expect(result.status).toBe(200);
      expect(result.body).toStrictEqual({ data: { customer: { id: CUSTOMER_ID, country: expect.any(String) } } });
    }
  });
});

describe('bad tokens: 401 before GraphQL, never anonymous', () => {
  it.each(BAD_TOKENS)('$name', async ({ authorization, challenge }) => {
    const result = await ask(stack.url, await authorization());
    expect(result.status).not.toBe(200);
    expectUnauthenticated(result, challenge);
  });

  it('rejects them even where anonymous requests are allowed (AUTH_REQUIRED off)', async () => {
    const open = await toyGateway([{ issuer: oidc.issuer, audiences: [oidc.audience] }], false);
    const anonymous = await ask(open.url, undefined, BOOKS_QUERY);
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toStrictEqual({ data: { books: [{ id: '1', title: 'Dune' }, { id: '2', title: 'Emma' }] } });

    const downgraded: string[] = [];
    for (const bad of BAD_TOKENS.filter((b) => b.challenge === 'invalid_token')) {
      const result = await ask(open.url, await bad.authorization(), BOOKS_QUERY);
      if (result.status === 200) downgraded.push(bad.name);
      else expectUnauthenticated(result, 'invalid_token');
    }
    expect(downgraded).toEqual([]);
  });
});

describe('clock tolerance (CLOCK_TOLERANCE_S = 5)', () => {
  it('accepts a token expired 2 s ago', async () => {
    const result = await ask(stack.url, bearer(await oidc.sign(claims({ iat: nowS() - 300, exp: nowS() - 2 }))));
    expect(result.status).toBe(200);
    expect(result.body).toStrictEqual({ data: { customer: { id: CUSTOMER_ID, country: expect.any(String) } } });
  });

  it('accepts a token valid from 2 s ahead', async () => {
    const result = await ask(stack.url, bearer(await oidc.sign(claims({ nbf: nowS() + 2 }))));
    expect(result.status).toBe(200);
  });

  it('refuses a token expired 15 s ago, past the tolerance', async () => {
    const result = await ask(stack.url, bearer(await oidc.sign(claims({ iat: nowS() - 300, exp: nowS() - 15 }))));
    expectUnauthenticated(result, 'invalid_token');
  });
});

describe('signing key cache (JWKS_COOLDOWN_MS = 60000)', () => {
  it('verifies further tokens without fetching the JWKS again', async () => {
    expect((await ask(stack.url, bearer(await oidc.token(MARKETING.clientId)))).status).toBe(200);
    const before = oidc.jwksRequests();
    const tokens = await Promise.all([MARKETING, RISK, PII_READER, MARKETING, RISK].map((c) => oidc.token(c.clientId)));
    for (const token of tokens) expect((await ask(stack.url, bearer(token))).status).toBe(200);
    const crafted = await Promise.all([1, 2, 3].map(() => oidc.sign(claims())));
    await Promise.all(crafted.map(async (token) => expect((await ask(stack.url, bearer(token))).status).toBe(200)));
    expect(oidc.jwksRequests() - before).toBe(0);
  });

  it('refetches at most once for unknown kids within the cooldown, and keeps the keys it has', async () => {
    expect((await ask(stack.url, bearer(await oidc.token(MARKETING.clientId)))).status).toBe(200);
    const before = oidc.jwksRequests();
    for (let i = 0; i < 2; i += 1) {
      expectUnauthenticated(await ask(stack.url, bearer(await oidc.sign(claims(), { key: 'foreign', kid: `rotated-${i}` }))), 'invalid_token');
    }
    expectUnauthenticated(await ask(stack.url, bearer(await oidc.sign(claims(), { key: 'foreign' }))), 'invalid_token');
    expect(oidc.jwksRequests() - before).toBeLessThanOrEqual(1);
    expect((await ask(stack.url, bearer(await oidc.token(RISK.clientId)))).status).toBe(200);
    expect(oidc.jwksRequests() - before).toBeLessThanOrEqual(1);
  });
});

describe('identity provider down: 503, never 401, never 200', () => {
  it('answers 503 when the issuer cannot be reached at all (discovery or configured jwksUri)', async () => {
    const gone = await startOidcProvider({ clients: [MARKETING] });
    const goneToo = await startOidcProvider({ clients: [MARKETING] });
    // Signed while they run; what the gateway sees is only the closed port.
    const token = await gone.sign({ ...claims(), iss: gone.issuer, aud: gone.audience });
    const tokenToo = await goneToo.sign({ ...claims(), iss: goneToo.issuer, aud: goneToo.audience });
    await Promise.all([gone.stop(), goneToo.stop()]);
    const gateway = await toyGateway(
      [
        { issuer: gone.issuer, audiences: [gone.audience] },
        { issuer: goneToo.issuer, audiences: [goneToo.audience], jwksUri: goneToo.jwksUri },
      ],
      true,
    );
    for (const t of [token, tokenToo, token]) expectServiceUnavailable(await ask(gateway.url, bearer(t), BOOKS_QUERY));
    // What can be judged without keys still is: no token, garbage, an issuer not trusted at all.
    expectUnauthenticated(await ask(gateway.url, undefined, BOOKS_QUERY), 'no-error');
    expectUnauthenticated(await ask(gateway.url, bearer('not-a-jwt'), BOOKS_QUERY), 'invalid_token');
    expectUnauthenticated(await ask(gateway.url, bearer(await stranger.token(MARKETING.clientId)), BOOKS_QUERY), 'invalid_token');
  });

  describe('an identity provider in trouble, then back', () => {
    let flaky: TestIssuer;
    let gateway: RunningGateway;
    const tokenOf = async () => bearer(await flaky.sign({ ...claims(), iss: flaky.issuer, aud: flaky.audience }, { kid: flaky.kid }));
    // A failed fetch is remembered for JWKS_COOLDOWN_MS (60 s here): each test starts past it.
    let clock = Date.now();
    beforeEach(() => {
      clock += 61_000;
    });

    beforeAll(async () => {
      flaky = await startOidcProvider({ clients: [MARKETING] });
      gateway = await startGateway(
        loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: toy.supergraphPath, ...authEnv([{ issuer: flaky.issuer, audiences: [flaky.audience] }], true) }),
        silent,
        { now: () => clock },
      );
      toyGateways.push(gateway);
    });

    afterAll(async () => {
      flaky?.setOutage('none');
      await flaky?.stop();
    });

    it('503 while discovery answers HTTP 503', async () => {
      flaky.setOutage('all');
      expectServiceUnavailable(await ask(gateway.url, await tokenOf(), BOOKS_QUERY));
    });

    it('an outage does not turn into load on the provider: one discovery per cooldown, however many requests', async () => {
      flaky.setOutage('all');
      const before = flaky.discoveryRequests();
      const results = await Promise.all(Array.from({ length: 20 }, async () => ask(gateway.url, await tokenOf(), BOOKS_QUERY)));
      for (const result of results) expectServiceUnavailable(result);
      for (let i = 0; i < 10; i++) expectServiceUnavailable(await ask(gateway.url, await tokenOf(), BOOKS_QUERY));
      expect(flaky.discoveryRequests() - before).toBe(1);
      clock += 61_000; // the cooldown has passed: one new attempt
      expectServiceUnavailable(await ask(gateway.url, await tokenOf(), BOOKS_QUERY));
      expect(flaky.discoveryRequests() - before).toBe(2);
    });

    it('503 while discovery works but the JWKS endpoint answers HTTP 503', async () => {
      flaky.setOutage('jwks');
      const before = flaky.jwksRequests();
      expectServiceUnavailable(await ask(gateway.url, await tokenOf(), BOOKS_QUERY));
      expect(flaky.jwksRequests() - before).toBeGreaterThanOrEqual(1);
    });

    it('the same for the key set: one JWKS fetch per cooldown while it fails', async () => {
      flaky.setOutage('jwks');
      const before = flaky.jwksRequests();
      const results = await Promise.all(Array.from({ length: 20 }, async () => ask(gateway.url, await tokenOf(), BOOKS_QUERY)));
      for (const result of results) expectServiceUnavailable(result);
      for (let i = 0; i < 10; i++) expectServiceUnavailable(await ask(gateway.url, await tokenOf(), BOOKS_QUERY));
      expect(flaky.jwksRequests() - before).toBe(1);
    });

    it('503 while the JWKS endpoint does not answer (fetch deadline)', async () => {
      flaky.setOutage('jwks-hang');
      expectServiceUnavailable(await ask(gateway.url, await tokenOf(), BOOKS_QUERY));
    }, 20_000);

    it('recovers once the provider is back, and keeps verifying with cached keys when it goes away again', async () => {
      flaky.setOutage('none');
      const result = await ask(gateway.url, await tokenOf(), BOOKS_QUERY);
      expect(result.status).toBe(200);
      expect(result.body).toStrictEqual({ data: { books: [{ id: '1', title: 'Dune' }, { id: '2', title: 'Emma' }] } });
      flaky.setOutage('all');
      expect((await ask(gateway.url, await tokenOf(), BOOKS_QUERY)).status).toBe(200);
    });
  });
});
