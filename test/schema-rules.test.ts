import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { devKeyPair } from '../lib/dev-keys.js';
import { createIdentitySigner, subgraphAudience } from '../lib/internal-token.js';
import { ANONYMOUS, type Principal } from '../lib/principal.js';
import { postGraphQL } from './helpers/http.js';
import { writeLimits } from './helpers/limits.js';
import { startStack, tokenFor, type Stack } from './helpers/stack.js';

/*
 * What the schema lint's rules change at run time, through a real gateway over the real products
 * (issue 10, items 3 and 14): a paginated list is priced by the page it asks for, not by the
 * default list size; and one product by sku needs a signed-in caller, like the list of products,
 * in the gateway and again in the product subgraph.
 */
const MAX_COST = 50;
const BUDGET = 1_000_000;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    customers: 20,
    env: { RATE_LIMITS_FILE: writeLimits({ default: { requests: 1000, cost: BUDGET }, operation: { maxCost: MAX_COST, defaultListSize: 10 } }) },
  });
});
afterAll(async () => {
  await stack?.stop();
});

describe('paginated lists are priced by their page size (@listSize slicingArguments)', () => {
  it('transactions(first: 1) costs 1 point of the budget; transactions(first: 100) costs 100 and is refused over maxCost', async () => {
    // A caller of its own: the budget it starts with is known, so the RateLimit header tells the cost.
    const token = await mintDevToken({ roles: ['data-scientist'], clientId: 'schema-rules-cost-probe' });
    const one = await postGraphQL<{ transactions: { id: string }[] }>(stack.url, '{ transactions(first: 1) { id } }', { token });
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ data: { transactions: [{ id: expect.any(String) }] } });
    const remaining = Number(/"cost";r=(\d+)/.exec(one.headers.get('ratelimit') ?? '')?.[1]);
    expect(BUDGET - remaining).toBe(1);

    const hundred = await postGraphQL(stack.url, '{ transactions(first: 100) { id } }', { token });
    expect(hundred.status).toBe(400);
    expect(hundred.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'COST_LIMIT_EXCEEDED', cost: 100, limit: MAX_COST } }] });
  });

  it.each([
    ['{ products(first: 60) { sku } }', 60],
    ['{ loanRiskAssessments(first: 51) { riskScore } }', 51],
    ['{ customers(first: 2) { transactions(first: 30) { id } } }', 2 * (1 + 30)],
    ['query Page($n: Int!) { transactions(first: $n) { id } }', 80],
  ])('%s is priced at %i, by the page it asks for', async (query, cost) => {
    const result = await postGraphQL(stack.url, query, { token: await tokenFor('admin'), variables: { n: 80 } });
    expect(result.status).toBe(400);
    expect(result.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'COST_LIMIT_EXCEEDED', cost, limit: MAX_COST } }] });
  });

  it('without first, a list is priced at its default page (20 for Query.transactions)', async () => {
    // 3 pages of the default size: 60 > 50 (priced at the default list size of 10, it would pass).
    const result = await postGraphQL(stack.url, '{ a: transactions { id } b: transactions(after: "T0000010") { id } c: transactions(currency: "EUR") { id } }', { token: await tokenFor('admin') });
    expect(result.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'COST_LIMIT_EXCEEDED', cost: 60, limit: MAX_COST } }] });
  });
});

describe('Query.product(sku:) has the rule of Query.products: a signed-in caller', () => {
  const QUERY = '{ product(sku: "SKU-0001") { sku name } }';

  it('anonymous: FORBIDDEN at Query.product, authentication required, nothing of the product returned', async () => {
    const result = await postGraphQL(stack.url, QUERY);
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      data: { product: null },
      errors: [{ message: expect.any(String), path: ['product'], extensions: { code: 'FORBIDDEN', coordinate: 'Query.product', reason: 'authentication required' } }],
    });
  });

  it('any signed-in role reads it', async () => {
    const result = await postGraphQL(stack.url, QUERY, { token: await tokenFor('marketing-analyst') });
    expect(result.body).toEqual({ data: { product: { sku: 'SKU-0001', name: expect.any(String) } } });
  });

  describe('and the product subgraph enforces it again', () => {
    const internal = devKeyPair('internal-identity');
    const signAs = createIdentitySigner(internal.privateKey, internal.kid);
    const SIGNED_IN: Principal = { kind: 'authenticated', issuer: 'https://idp.example', subject: 'someone', clientId: 'app', roles: new Set(), scopes: new Set() };
    const productUrl = () => stack.subgraphUrls.product!;

    it('Query.product for an anonymous caller: FORBIDDEN', async () => {
      const result = await postGraphQL(productUrl(), QUERY, { token: await signAs(ANONYMOUS, subgraphAudience('product')) });
      expect(result.body).toEqual({
        data: { product: null },
        errors: [{ message: expect.any(String), locations: expect.any(Array), path: ['product'], extensions: { code: 'FORBIDDEN', coordinate: 'Query.product', reason: 'authentication required' } }],
      });
    });

    it('_entities for a Product (the type is @authenticated): FORBIDDEN for an anonymous caller, answered for a signed-in one', async () => {
      const query = '{ _entities(representations: [{ __typename: "Product", sku: "SKU-0001" }]) { ... on Product { name price } } }';
      const anonymous = await postGraphQL(productUrl(), query, { token: await signAs(ANONYMOUS, subgraphAudience('product')) });
      expect(anonymous.body).toEqual({
        data: null,
        errors: [{ message: expect.any(String), locations: expect.any(Array), path: ['_entities'], extensions: { code: 'FORBIDDEN', coordinate: 'Product', reason: 'authentication required' } }],
      });
      const signedIn = await postGraphQL(productUrl(), query, { token: await signAs(SIGNED_IN, subgraphAudience('product')) });
      expect(signedIn.body).toEqual({ data: { _entities: [{ name: expect.any(String), price: expect.any(Number) }] } });
    });
  });
});
