import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { devKeyPair } from '../lib/dev-keys.js';
import { createIdentitySigner, INTERNAL_ISSUER, subgraphAudience } from '../lib/internal-token.js';
import { ANONYMOUS, type Principal } from '../lib/principal.js';
import { postGraphQL } from './helpers/http.js';
import { startStack, tokenFor, type Stack } from './helpers/stack.js';

// Defense in depth: the data products refuse anyone but the gateway, and enforce the same rules.
let stack: Stack;
const internal = devKeyPair('internal-identity');
const signer = createIdentitySigner(internal.privateKey, internal.kid);
/** The gateway's identity for a principal, as the gateway would send it to this product. */
const signAs = (principal: Principal, product: string) => signer(principal, subgraphAudience(product));

const principal = (roles: string[], scopes: string[]): Principal => ({
  kind: 'authenticated',
  issuer: 'https://idp.example',
  subject: 'someone',
  clientId: 'app',
  roles: new Set(roles),
  scopes: new Set(scopes),
});
const MARKETING = principal(['marketing-analyst'], ['customer:read', 'product:read']);
const ADMIN = principal(['admin'], ['customer:read', 'customer:pii', 'finance:read', 'risk:read', 'product:read', 'usage:read']);

beforeAll(async () => {
  stack = await startStack({ customers: 30 });
});
afterAll(async () => {
  await stack?.stop();
});

const UNAUTHENTICATED = { errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }] };
const url = (product: string) => stack.subgraphUrls[product]!;

describe('a data product called directly', () => {
  it.each(['customer', 'finance', 'product'])('%s: no identity token -> 401 for _service and _entities', async (product) => {
    for (const query of ['{ _service { sdl } }', '{ _entities(representations: [{ __typename: "Product", sku: "SKU-0001" }]) { __typename } }']) {
      const result = await postGraphQL(url(product), query);
      expect(result.status).toBe(401);
      expect(result.headers.get('www-authenticate')).toBe('Bearer realm="data-product", error="invalid_token"');
      expect(result.body).toEqual(UNAUTHENTICATED);
    }
  });

  it('a client token valid at the gateway is refused by the subgraph', async () => {
    const result = await postGraphQL(url('customer'), '{ customer(id: "C000001") { email } }', { token: await tokenFor('admin') });
    expect(result.status).toBe(401);
    expect(result.body).toEqual(UNAUTHENTICATED);
  });

  it('a forged or expired identity token is refused', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = await createIdentitySigner(privateKey, internal.kid)(ADMIN, subgraphAudience('customer'));
    const expired = await new SignJWT({ kind: 'authenticated', roles: ['admin'], scope: 'customer:pii customer:read' })
      .setProtectedHeader({ alg: 'EdDSA', kid: internal.kid })
      .setIssuer(INTERNAL_ISSUER)
      .setAudience(subgraphAudience('customer'))
      .setSubject('someone')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 300)
      .sign(internal.privateKey);
    for (const token of [forged, expired]) {
      const result = await postGraphQL(url('customer'), '{ customer(id: "C000001") { email } }', { token });
      expect(result.status).toBe(401);
      expect(result.body).toEqual(UNAUTHENTICATED);
    }
  });

  it('an identity signed for one data product is refused by every other (each subgraph is its own audience)', async () => {
    const forCustomer = await signAs(ADMIN, 'customer');
    expect((await postGraphQL(url('customer'), '{ customer(id: "C000001") { id } }', { token: forCustomer })).status).toBe(200);
    for (const product of ['finance', 'product']) {
      const replayed = await postGraphQL(url(product), '{ _service { sdl } }', { token: forCustomer });
      expect(replayed.status, product).toBe(401);
      expect(replayed.body).toEqual(UNAUTHENTICATED);
    }
    // A foreign subgraph of the supergraph receives only its own audience: nothing it can replay.
    const forForeign = await signAs(ADMIN, 'reviews');
    for (const product of ['customer', 'finance', 'product']) expect((await postGraphQL(url(product), '{ _service { sdl } }', { token: forForeign })).status, product).toBe(401);
  });

  it('the health probe needs no token', async () => {
    const response = await fetch(url('finance').replace('/graphql', '/healthz'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', product: 'finance' });
  });
});

describe('graphql-shield in each subgraph enforces the same directives', () => {
  it('_entities: a Transaction for a principal without finance:read is FORBIDDEN', async () => {
    const result = await postGraphQL(url('finance'), '{ _entities(representations: [{ __typename: "Transaction", id: "T0000001" }]) { ... on Transaction { amount } } }', {
      token: await signAs(MARKETING, 'finance'),
    });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      data: null,
      errors: [{ message: expect.any(String), locations: expect.any(Array), path: ['_entities'], extensions: { code: 'FORBIDDEN', coordinate: 'Transaction', missingScopes: ['finance:read'] } }],
    });
  });

  it('_entities: a field contributed to Customer (transactions) is FORBIDDEN without finance:read, allowed with it', async () => {
    const query = '{ _entities(representations: [{ __typename: "Customer", id: "C000001" }]) { ... on Customer { lifetimeValue { amount } } } }';
    const denied = await postGraphQL(url('finance'), query, { token: await signAs(MARKETING, 'finance') });
    expect(denied.body).toEqual({
      data: { _entities: [{ lifetimeValue: null }] },
      errors: [{ message: expect.any(String), locations: expect.any(Array), path: ['_entities', 0, 'lifetimeValue'], extensions: { code: 'FORBIDDEN', coordinate: 'Customer.lifetimeValue', missingScopes: ['finance:read'] } }],
    });
    const allowed = await postGraphQL(url('finance'), query, { token: await signAs(ADMIN, 'finance') });
    expect(allowed.body).toEqual({ data: { _entities: [{ lifetimeValue: { amount: expect.any(Number) } }] } });
  });

  it('personal fields need customer:pii even when asked straight from the customer subgraph', async () => {
    const query = '{ customer(id: "C000001") { id email } }';
    const anonymous = await postGraphQL(url('customer'), query, { token: await signAs(ANONYMOUS, 'customer') });
    expect(anonymous.body).toEqual({
      data: { customer: null },
      errors: [{ message: expect.any(String), locations: expect.any(Array), path: ['customer'], extensions: { code: 'FORBIDDEN', coordinate: 'Query.customer', reason: 'authentication required' } }],
    });
    const marketing = await postGraphQL(url('customer'), query, { token: await signAs(MARKETING, 'customer') });
    expect(marketing.body).toEqual({
      data: { customer: { id: 'C000001', email: null } },
      errors: [{ message: expect.any(String), locations: expect.any(Array), path: ['customer', 'email'], extensions: { code: 'FORBIDDEN', coordinate: 'Customer.email', missingScopes: ['customer:pii'] } }],
    });
  });

  it('policies apply in the subgraph too: key factors only for risk staff', async () => {
    const scientist = principal(['data-scientist'], ['customer:read', 'finance:read', 'product:read', 'risk:read']);
    const query = '{ loanRiskAssessments(first: 1) { riskScore keyFactors { name } } }';
    const denied = await postGraphQL(url('finance'), query, { token: await signAs(scientist, 'finance') });
    expect(denied.body).toEqual({
      data: { loanRiskAssessments: [{ riskScore: expect.any(Number), keyFactors: null }] },
      errors: [{ message: expect.any(String), locations: expect.any(Array), path: ['loanRiskAssessments', 0, 'keyFactors'], extensions: { code: 'FORBIDDEN', coordinate: 'LoanRiskAssessment.keyFactors', missingPolicies: ['risk-model-explanations'] } }],
    });
  });
});
