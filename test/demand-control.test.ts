import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'graphql';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { indexCost, evaluateCost } from '../gateway/operation/cost.js';
import { createLogger } from '../lib/logger.js';
import { codesOf, postGraphQL } from './helpers/http.js';
import { writeLimits, type TestLimits } from './helpers/limits.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

// Demand control over a foreign supergraph (the toy bookshop), in-process budgets.
let toy: Toy;
const gateways: RunningGateway[] = [];
const silent = createLogger('test', 'silent');

beforeAll(async () => {
  toy = await startToySubgraphs();
});
afterAll(async () => {
  for (const g of gateways) await g.stop();
  await toy?.stop();
});

async function gatewayWith(limits: TestLimits, env: Record<string, string> = {}): Promise<RunningGateway> {
  const gateway = await startGateway(
    loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: toy.supergraphPath, RATE_LIMITS_FILE: writeLimits(limits), ...env }),
    silent,
  );
  gateways.push(gateway);
  return gateway;
}

const BOOKS = '{ books { id title } }'; // cost: books is a list of objects, default size 10 -> 10 x 1

describe('budgets per caller', () => {
  it('N + k requests in a window: exactly N allowed, then 429 with Retry-After and a GraphQL body', async () => {
    const gateway = await gatewayWith({ anonymous: { requests: 5, cost: 1_000_000 } });
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 8; i++) {
      last = await postGraphQL(gateway.url, BOOKS);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect(last!.headers.get('content-type')).toMatch(/^application\/(graphql-response\+)?json/);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last!.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'RATE_LIMITED', retryAfter: Number(last!.headers.get('retry-after')) } }] });
  });

  it('every response carries RateLimit-Policy and RateLimit, naming no caller', async () => {
    const gateway = await gatewayWith({ windowSeconds: 60, anonymous: { requests: 3, cost: 100 } });
    const first = await postGraphQL(gateway.url, BOOKS);
    expect(first.headers.get('ratelimit-policy')).toBe('"requests";q=3;w=60, "cost";q=100;w=60');
    expect(first.headers.get('ratelimit')).toMatch(/^"requests";r=2;t=(60|59), "cost";r=90;t=(60|59)$/);
    // A parse error is a request too: charged (cost 0) and answered with the headers.
    const broken = await postGraphQL(gateway.url, '{ books {');
    expect(broken.status).toBe(400);
    expect(broken.headers.get('ratelimit')).toMatch(/^"requests";r=1;t=\d+, "cost";r=90;t=\d+$/);
    const over = await postGraphQL(gateway.url, BOOKS);
    expect(over.headers.get('ratelimit')).toMatch(/^"requests";r=0;t=\d+, "cost";r=80;t=\d+$/);
    const refused = await postGraphQL(gateway.url, BOOKS);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit-policy')).toBe('"requests";q=3;w=60, "cost";q=100;w=60');
    for (const response of [first, broken, over, refused]) {
      const headers = JSON.stringify([...response.headers]);
      expect(headers).not.toContain('127.0.0.1');
      expect(headers).not.toContain('address');
    }
  });

  it('aliases cannot evade the cost budget: each alias is priced', async () => {
    const gateway = await gatewayWith({ anonymous: { requests: 100, cost: 50 } });
    const aliased = '{ a: books { id } b: books { id } c: books { id } }'; // 3 x 10
    expect((await postGraphQL(gateway.url, aliased)).status).toBe(200);
    const second = await postGraphQL(gateway.url, aliased);
    expect(second.status).toBe(429);
    expect(codesOf(second)).toEqual(['RATE_LIMITED']);
  });

  it('batching cannot evade it either: each operation of a batch is charged', async () => {
    const gateway = await gatewayWith({ anonymous: { requests: 3, cost: 1_000_000 } });
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ query: BOOKS }, { query: BOOKS }, { query: BOOKS }, { query: BOOKS }]),
    });
    const body = (await response.json()) as { data?: unknown; errors?: { extensions: { code: string } }[] }[];
    expect(body.map((r) => (r.errors ? r.errors[0]!.extensions.code : 'ok'))).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED']);
  });

  it('tiers per role and per-client overrides decide the budget', async () => {
    const gateway = await gatewayWith({
      default: { requests: 1, cost: 1000 },
      tiers: { wide: { requests: 4, cost: 1000 } },
      roles: { 'data-scientist': 'wide' },
      clients: { 'tight-client': { requests: 2, cost: 1000 } },
    });
    const count = async (token: string) => {
      let ok = 0;
      for (let i = 0; i < 6; i++) if ((await postGraphQL(gateway.url, BOOKS, { token })).status === 200) ok += 1;
      return ok;
    };
    // Three principals (budgets are per principal since issue 10).
    expect(await count(await mintDevToken({ roles: ['data-scientist'], clientId: 'notebook', subject: 'ds-1' }))).toBe(4);
    expect(await count(await mintDevToken({ roles: ['data-scientist'], clientId: 'tight-client', subject: 'ds-2' }))).toBe(2);
    expect(await count(await mintDevToken({ roles: ['marketing-analyst'], clientId: 'dashboard', subject: 'ma-1' }))).toBe(1);
  });
});

describe('budgets are per principal, with optional per-client ceilings (issue 10, defect 4)', () => {
  const user = (subject: string, clientId = 'shared-app') => mintDevToken({ roles: ['marketing-analyst'], clientId, subject });

  it('one user of a shared OAuth client cannot spend the budget of the others', async () => {
    const gateway = await gatewayWith({ default: { requests: 2, cost: 1_000_000 } });
    const alice = await user('alice');
    const bob = await user('bob');
    const statuses = async (token: string, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await postGraphQL(gateway.url, BOOKS, { token })).status);
      return out;
    };
    expect(await statuses(alice, 3)).toEqual([200, 200, 429]);
    expect(await statuses(bob, 3)).toEqual([200, 200, 429]);
  });

  it('a client ceiling bounds all its users together, and says so in RateLimit', async () => {
    const gateway = await gatewayWith({ default: { requests: 100, cost: 1_000_000 }, clientCeilings: { 'shared-app': { requests: 3, cost: 1_000 } } });
    const first = await postGraphQL(gateway.url, BOOKS, { token: await user('a') });
    expect(first.headers.get('ratelimit-policy')).toBe('"requests";q=100;w=600, "cost";q=1000000;w=600, "client-requests";q=3;w=600, "client-cost";q=1000;w=600');
    expect(first.headers.get('ratelimit')).toMatch(/^"requests";r=99;t=\d+, "cost";r=999990;t=\d+, "client-requests";r=2;t=\d+, "client-cost";r=990;t=\d+$/);
    expect((await postGraphQL(gateway.url, BOOKS, { token: await user('b') })).status).toBe(200);
    expect((await postGraphQL(gateway.url, BOOKS, { token: await user('c') })).status).toBe(200);
    const refused = await postGraphQL(gateway.url, BOOKS, { token: await user('d') });
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'RATE_LIMITED', retryAfter: Number(refused.headers.get('retry-after')) } }] });
    expect(refused.headers.get('ratelimit')).toMatch(/"requests";r=100;t=\d+, "cost";r=1000000;t=\d+, "client-requests";r=0;t=\d+/);
    // Another client's users are not under this ceiling.
    expect((await postGraphQL(gateway.url, BOOKS, { token: await user('a', 'other-app') })).status).toBe(200);
  });
});

describe('operation limits, before any subgraph is called', () => {
  it('COST_LIMIT_EXCEEDED with the computed cost and the limit; the subgraphs never see it', async () => {
    const gateway = await gatewayWith({ operation: { maxCost: 25 } });
    const before = toy.booksCalls();
    const result = await postGraphQL(gateway.url, '{ a: books { id } b: books { id } c: books { id } }');
    expect(result.status).toBe(400);
    expect(result.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'COST_LIMIT_EXCEEDED', cost: 30, limit: 25 } }] });
    expect(toy.booksCalls()).toBe(before);
  });

  it.each([
    ['depth', { maxDepth: 1 }, '{ __typename }', '{ books { ...F } } fragment F on Book { title }', 1],
    ['aliases', { maxAliases: 2 }, '{ a: books { id } b: books { id } }', '{ books { ...F } } fragment F on Book { x: id y: id z: title }', 2],
    ['directives', { maxDirectives: 2 }, '{ books { id @include(if: true) title @skip(if: false) } }', '{ books { ...F ...F ...F } } fragment F on Book { id @include(if: true) }', 2],
  ] as const)('%s: counted through fragments', async (limit, operation, allowed, refused, maximum) => {
    const gateway = await gatewayWith({ operation });
    expect((await postGraphQL(gateway.url, allowed)).status).toBe(200);
    const result = await postGraphQL(gateway.url, refused);
    expect(result.status).toBe(400);
    expect(result.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit, value: expect.any(Number), maximum } }] });
  });

  it('tokens: a document past maxTokens is not even parsed', async () => {
    const gateway = await gatewayWith({ operation: { maxTokens: 20 } });
    const result = await postGraphQL(gateway.url, `{ books { ${'id '.repeat(30)} } }`);
    expect(result.status).toBe(400);
    expect(result.body).toEqual({ errors: [{ message: expect.any(String), locations: expect.any(Array), extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit: 'tokens', maximum: 20 } }] });
  });

  it('batch size', async () => {
    const gateway = await gatewayWith({ operation: { maxBatch: 2 } });
    const response = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ query: BOOKS }, { query: BOOKS }, { query: BOOKS }]) });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit: 'batch', value: 3, maximum: 2 } }] });
  });
});

describe('static cost (IBM cost spec)', () => {
  const sdl = /* GraphQL */ `
    extend schema @link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@cost", "@listSize"])
    type Query { customers(first: Int = 20): [Customer!]! @listSize(slicingArguments: ["first"], assumedSize: 50) tags: [String!]! }
    type Customer @cost(weight: 2) { id: ID! orders: [Order!]! @listSize(assumedSize: 5) ltv: Float @cost(weight: 7) }
    type Order { id: ID! }
  `;
  const index = indexCost(parse(sdl));
  it('reads @cost and @listSize from the schema', () => {
    expect(index.typeWeights.get('Customer')).toBe(2);
    expect(index.fieldWeights.get('Customer.ltv')).toBe(7);
    expect(index.listSizes.get('Query.customers')).toEqual({ assumedSize: 50, slicingArguments: ['first'], sizedFields: [] });
  });
  it('multiplies list sizes from literals, variables and defaults', () => {
    // customers(first: n) costs n x (2 + orders 5 x 1 + ltv 7) = 14n
    const node = (size: Parameters<typeof evaluateCost>[0][number]['size']) => [
      { weight: 2, argumentWeight: 0, size, children: [{ weight: 1, argumentWeight: 0, size: { kind: 'fixed', size: 5 } as const, children: [] }, { weight: 7, argumentWeight: 0, size: undefined, children: [] }] },
    ];
    expect(evaluateCost(node({ kind: 'arguments', values: [{ literal: 3 }], fallback: 50 }), {})).toBe(42);
    expect(evaluateCost(node({ kind: 'arguments', values: [{ variable: 'n', default: 20 }], fallback: 50 }), { n: 10 })).toBe(140);
    expect(evaluateCost(node({ kind: 'arguments', values: [{ variable: 'n', default: 20 }], fallback: 50 }), {})).toBe(280);
    expect(evaluateCost(node({ kind: 'arguments', values: [], fallback: 50 }), {})).toBe(700);
  });
});
