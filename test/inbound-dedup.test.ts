import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { composeServices } from '@apollo/composition';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { loadConfig } from '../gateway/config.js';
import { canonicalJson, executionKey, grantSetOf } from '../gateway/execution/key.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import type { Principal } from '../lib/principal.js';
import { dropAuditRoles } from './helpers/audit.js';
import { startCountingProxy, type CountingProxy } from './helpers/counting-proxy.js';
import { postGraphQL, type GraphQLResult } from './helpers/http.js';
import { writeLimits } from './helpers/limits.js';
import { gatewayEnv, startProducts } from './helpers/stack.js';

/*
 * Inbound request deduplication over real HTTP: the three data products on port 0, the customer
 * product behind a counting proxy that can hold its calls (so requests are in flight together
 * without any timer), a real gateway per test. Every caller still runs its own pipeline: its own
 * rate-limit charge, usage count and headers; only the execution is shared, and only between
 * callers whose answer cannot differ.
 */
const silent = createLogger('test', 'silent');
const LIST = '{ customers(first: 3) { id country segments { name } } }';
const PERSONAL = '{ customers(first: 3) { id email } }';
const BUDGET = 100;

let products: Awaited<ReturnType<typeof startProducts>>;
let proxy: CountingProxy;
const gateways: RunningGateway[] = [];
/** Run after the gateways and products stop. */
const afterCleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  products = await startProducts();
  proxy = await startCountingProxy(products.products.subgraphs.customer!.url);
});
afterAll(async () => {
  for (const gateway of gateways) await gateway.stop();
  await proxy?.stop();
  await products?.cleanup();
  for (const cleanup of afterCleanups) await cleanup();
});

async function gatewayWith(env: Record<string, string> = {}, now?: () => number): Promise<RunningGateway> {
  const urls = Object.fromEntries(Object.entries(products.products.subgraphs).map(([name, s]) => [name, name === 'customer' ? proxy.url : s.url]));
  const gateway = await startGateway(
    loadConfig(gatewayEnv(urls, { RATE_LIMITS_FILE: writeLimits({ default: { requests: BUDGET, cost: 1_000_000 } }), ...env })),
    silent,
    { now },
  );
  gateways.push(gateway);
  return gateway;
}

const token = (role: string, subject = 'ada') => mintDevToken({ roles: [role], subject, clientId: 'app' });

/** The request budget left after this response, from its RateLimit header. */
function requestsLeft(result: GraphQLResult): number {
  const match = /"requests";r=(\d+)/.exec(result.headers.get('ratelimit') ?? '');
  if (!match) throw new Error(`no RateLimit header: ${result.headers.get('ratelimit')}`);
  return Number(match[1]);
}

async function metric(gateway: RunningGateway, name: string): Promise<number> {
  const text = await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Sends the requests together while the customer product holds their calls, waits until `inFlight` calls or callers are waiting, then lets them go. */
async function together(requests: (() => Promise<GraphQLResult>)[], waitFor: () => Promise<void>): Promise<GraphQLResult[]> {
  proxy.hold('customers');
  const pending = requests.map((send) => send());
  try {
    await waitFor();
  } finally {
    proxy.release();
  }
  return Promise.all(pending);
}

describe('inbound request deduplication', () => {
  it('N identical concurrent queries of one caller execute once; each gets its own correct, independent answer, charge, usage count and headers', async () => {
    const gateway = await gatewayWith();
    const bearer = await token('marketing-analyst');
    const alone = await postGraphQL(gateway.url, LIST, { token: bearer });
    expect(alone.status).toBe(200);
    expect(alone.body.errors).toBeUndefined();
    const before = proxy.calls('customers');

    const N = 5;
    const results = await together(
      Array.from({ length: N }, () => () => postGraphQL(gateway.url, LIST, { token: bearer })),
      async () => {
        await proxy.whenHeld(1);
        await gateway.whenExecutionCallers(N);
      },
    );
    expect(proxy.calls('customers') - before).toBe(1);
    expect(await metric(gateway, 'dpg_inbound_requests_shared_total')).toBe(N - 1);
    for (const result of results) {
      expect(result.status).toBe(200);
      expect(result.body).toEqual(alone.body);
    }
    // Each caller was charged once, in its own pipeline: the budgets left are all different.
    expect(results.map(requestsLeft).sort((a, b) => a - b)).toEqual([BUDGET - 6, BUDGET - 5, BUDGET - 4, BUDGET - 3, BUDGET - 2]);
    // Independent copies: changing one answer changes no other.
    (results[0]!.body.data as { customers: { id: string }[] }).customers[0]!.id = 'changed';
    expect(results[1]!.body).toEqual(alone.body);

    // Each caller's usage was counted: the alone request and the N shared ones.
    await gateway.flushUsage();
    const usage = await postGraphQL<{ fieldUsage: { coordinate: string; requests: number }[] }>(
      gateway.url,
      '{ fieldUsage(product: "customer", first: 1000) { coordinate requests } }',
      { token: await token('data-product-owner', 'owner') },
    );
    expect(usage.body.errors).toBeUndefined();
    const requests = Object.fromEntries(usage.body.data!.fieldUsage.map((row) => [row.coordinate, row.requests]));
    expect(requests['Query.customers']).toBe(N + 1);
    expect(requests['Customer.segments']).toBe(N + 1);
  });

  it('callers with equal grants share, whoever they are, when the operation reads nothing personal', async () => {
    const gateway = await gatewayWith();
    const [ada, bob] = await Promise.all([token('marketing-analyst', 'ada'), token('marketing-analyst', 'bob')]);
    const before = proxy.calls('customers');
    const [a, b] = await together(
      [() => postGraphQL(gateway.url, LIST, { token: ada }), () => postGraphQL(gateway.url, LIST, { token: bob })],
      async () => {
        await proxy.whenHeld(1);
        await gateway.whenExecutionCallers(2);
      },
    );
    expect(proxy.calls('customers') - before).toBe(1);
    expect(a!.body).toEqual(b!.body);
    expect(a!.body.errors).toBeUndefined();
    expect(await metric(gateway, 'dpg_inbound_requests_shared_total')).toBe(1);
  });

  it('different grants never share: each executes with its own', async () => {
    const gateway = await gatewayWith();
    const [analyst, scientist] = await Promise.all([token('marketing-analyst', 'ada'), token('data-scientist', 'ada')]);
    const before = proxy.calls('customers');
    const [a, b] = await together(
      [() => postGraphQL(gateway.url, LIST, { token: analyst }), () => postGraphQL(gateway.url, LIST, { token: scientist })],
      () => proxy.whenHeld(2),
    );
    expect(proxy.calls('customers') - before).toBe(2);
    expect(a!.status).toBe(200);
    expect(b!.status).toBe(200);
    expect(a!.body).toEqual(b!.body); // both may read all of it: the same answer, computed twice
    expect(await metric(gateway, 'dpg_inbound_requests_shared_total')).toBe(0);
  });

  it('personal data is shared only within one subject: equal grants, different subjects execute apart', async () => {
    const gateway = await gatewayWith();
    const [ada, bob] = await Promise.all([token('sales-manager', 'ada'), token('sales-manager', 'bob')]);
    let before = proxy.calls('customers');
    await together(
      [() => postGraphQL(gateway.url, PERSONAL, { token: ada }), () => postGraphQL(gateway.url, PERSONAL, { token: bob })],
      () => proxy.whenHeld(2),
    );
    expect(proxy.calls('customers') - before).toBe(2);
    expect(await metric(gateway, 'dpg_inbound_requests_shared_total')).toBe(0);

    before = proxy.calls('customers');
    const [first, second] = await together(
      [() => postGraphQL(gateway.url, PERSONAL, { token: ada }), () => postGraphQL(gateway.url, PERSONAL, { token: ada })],
      async () => {
        await proxy.whenHeld(1);
        await gateway.whenExecutionCallers(2);
      },
    );
    expect(proxy.calls('customers') - before).toBe(1);
    expect(first!.body).toEqual(second!.body);
    expect((first!.body.data as { customers: { email: string }[] }).customers[0]!.email).toMatch(/@/);
  });

  it('the platform API (answered in-process, where fields about the caller belong) is shared within one subject only', async () => {
    // The catalogue asks every product's health: held at the customer product, the first asker's
    // check keeps its execution in flight while the others arrive.
    let at = Date.now();
    const gateway = await gatewayWith({}, () => at);
    const CATALOGUE = '{ dataProducts(first: 1) { name } }';
    const ask = (bearer: string) => () => postGraphQL(gateway.url, CATALOGUE, { token: bearer });
    const [ada, bob] = await Promise.all([token('marketing-analyst', 'ada'), token('marketing-analyst', 'bob')]);
    const inFlight = (callers: number) => async () => {
      await proxy.whenHeld(1);
      await gateway.whenExecutionCallers(callers);
    };
    const held = async (requests: (() => Promise<GraphQLResult>)[]) => {
      at += 10_000; // past the readiness cache: the next catalogue read checks health again
      proxy.hold('__typename');
      const pending = requests.map((send) => send());
      await inFlight(requests.length)();
      proxy.release();
      return Promise.all(pending);
    };

    const [a, b] = await held([ask(ada), ask(bob)]);
    expect(a!.body).toEqual({ data: { dataProducts: [{ name: 'customer' }] } });
    expect(b!.body).toEqual(a!.body);
    expect(await metric(gateway, 'dpg_inbound_requests_shared_total')).toBe(0);

    const [c, d] = await held([ask(ada), ask(ada)]);
    expect(c!.body).toEqual(a!.body);
    expect(d!.body).toEqual(a!.body);
    expect(await metric(gateway, 'dpg_inbound_requests_shared_total')).toBe(1);
  });

  it('a filtered answer is shared as executed, and each caller gets its own nulls and FORBIDDEN errors', async () => {
    const gateway = await gatewayWith();
    const bearer = await token('marketing-analyst', 'ada');
    const alone = await postGraphQL(gateway.url, PERSONAL, { token: bearer });
    expect(alone.body.errors?.map((e) => [e.extensions?.code, e.extensions?.coordinate])).toEqual([['FORBIDDEN', 'Customer.email']]);
    const rows = (alone.body.data as { customers: { id: string; email: string | null }[] }).customers;
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toEqual({ id: expect.stringMatching(/^C\d{6}$/), email: null });
    const results = await together(
      [1, 2, 3].map(() => () => postGraphQL(gateway.url, PERSONAL, { token: bearer })),
      async () => {
        await proxy.whenHeld(1);
        await gateway.whenExecutionCallers(3);
      },
    );
    for (const result of results) expect(result.body).toEqual(alone.body);
    expect(await metric(gateway, 'dpg_inbound_requests_shared_total')).toBe(2);
  });

  it('joined callers each get their own treatment and their own audit record', async () => {
    // With PostgreSQL, the trail goes to the products' scratch database (a schema of its own,
    // whose roles are dropped afterwards); else the embedded store, which takes seconds to start.
    const auditSchema = products.databaseUrl ? `audit_i_${randomBytes(4).toString('hex')}` : undefined;
    if (auditSchema) afterCleanups.push(() => dropAuditRoles(process.env.DATABASE_URL!, auditSchema));
    // The customer product's call is held until every caller joined: a loaded machine must not turn that into a timeout.
    const gateway = await gatewayWith({ SUBGRAPH_TIMEOUT_MS: '120000', ...(auditSchema ? { AUDIT_DATABASE_URL: products.databaseUrl!, AUDIT_SCHEMA: auditSchema } : {}) });
    const bearer = await token('data-scientist', 'ada');
    const alone = await postGraphQL(gateway.url, PERSONAL, { token: bearer });
    expect(alone.body.errors).toBeUndefined();
    // Pseudonymized, not clear: 'pse_' and base64url, whatever the shared execution fetched.
    for (const row of (alone.body.data as { customers: { email: string }[] }).customers) expect(row.email).toMatch(/^pse_[A-Za-z0-9_-]{22}$/);
    const results = await together(
      [1, 2, 3].map(() => () => postGraphQL(gateway.url, PERSONAL, { token: bearer })),
      async () => {
        await proxy.whenHeld(1);
        await gateway.whenExecutionCallers(3);
      },
    );
    for (const result of results) expect(result.body).toEqual(alone.body);
    expect(await metric(gateway, 'dpg_inbound_requests_shared_total')).toBe(2);

    // The trail's schema is created on the first audited read; on the shared test server another
    // file may be creating its own roles at that instant (PostgreSQL refuses concurrent role DDL),
    // and the writer keeps the batch and writes it on its next attempt: at most three attempts here.
    for (let attempt = 1; ; attempt++) {
      try {
        await gateway.flushAudit();
        break;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
    const mine = await postGraphQL<{ myAccess: { records: { requestId: string; outcome: string; accesses: { coordinate: string; treatment: string }[] }[] } }>(
      gateway.url,
      'query Mine($since: DateTime!) { myAccess(since: $since, first: 10) { records { requestId outcome accesses { coordinate treatment } } } }',
      { token: bearer, variables: { since: new Date(Date.now() - 3_600_000).toISOString() } },
    );
    expect(mine.body.errors).toBeUndefined();
    const records = mine.body.data!.myAccess.records;
    // Four reads (the one alone and three joined): four records, one per request.
    expect(records).toHaveLength(4);
    expect(new Set(records.map((r) => r.requestId)).size).toBe(4);
    for (const record of records) expect(record).toEqual({ requestId: expect.any(String), outcome: 'ok', accesses: [{ coordinate: 'Customer.email', treatment: 'pseudonymized' }] });
  }, 120_000);

  it('INBOUND_DEDUP=off: identical concurrent queries each execute', async () => {
    // Subgraph-call deduplication off too: otherwise the two executions' identical customer calls are one call.
    const gateway = await gatewayWith({ INBOUND_DEDUP: 'off', SUBGRAPH_DEDUP: 'off' });
    const bearer = await token('marketing-analyst');
    const before = proxy.calls('customers');
    const [a, b] = await together(
      [() => postGraphQL(gateway.url, LIST, { token: bearer }), () => postGraphQL(gateway.url, LIST, { token: bearer })],
      () => proxy.whenHeld(2),
    );
    expect(proxy.calls('customers') - before).toBe(2);
    expect(a!.body).toEqual(b!.body);
    await expect(gateway.whenExecutionCallers(1)).rejects.toThrow('INBOUND_DEDUP is off');
  });
});

describe('mutations', () => {
  // A counter subgraph of its own: the reference products have no mutations.
  const SDL = /* GraphQL */ `
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
    type Query { count: Int! }
    type Mutation { increment: Int! }
  `;
  let server: ApolloServer;
  let counterProxy: CountingProxy;
  let gateway: RunningGateway;
  let count = 0;

  beforeAll(async () => {
    server = new ApolloServer({
      schema: buildSubgraphSchema({ typeDefs: parse(SDL), resolvers: { Query: { count: () => count }, Mutation: { increment: () => ++count } } }),
    });
    const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
    counterProxy = await startCountingProxy(url);
    const composed = composeServices([{ name: 'counter', url: counterProxy.url, typeDefs: parse(SDL) }]);
    if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
    const file = join(mkdtempSync(join(tmpdir(), 'dpg-dedup-')), 'supergraph.graphql');
    writeFileSync(file, composed.supergraphSdl);
    gateway = await startGateway(loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: file }), silent);
  });
  afterAll(async () => {
    await gateway?.stop();
    await counterProxy?.stop();
    await server?.stop();
  });

  it('identical concurrent mutations are never shared: each executes', async () => {
    const bearer = await token('admin');
    counterProxy.hold('increment');
    const pending = [1, 2, 3].map(() => postGraphQL<{ increment: number }>(gateway.url, 'mutation { increment }', { token: bearer }));
    await counterProxy.whenHeld(3);
    counterProxy.release();
    const results = await Promise.all(pending);
    expect(results.map((r) => r.body.data?.increment).sort()).toEqual([1, 2, 3]);
    expect(counterProxy.calls('increment')).toBe(3);
    expect(await metric(gateway, 'dpg_inbound_requests_shared_total')).toBe(0);
  });

  it('the same subgraph\'s identical concurrent queries are (the control)', async () => {
    const bearer = await token('admin');
    counterProxy.hold('count');
    const pending = [1, 2, 3].map(() => postGraphQL<{ count: number }>(gateway.url, '{ count }', { token: bearer }));
    await counterProxy.whenHeld(1);
    await gateway.whenExecutionCallers(3);
    counterProxy.release();
    const results = await Promise.all(pending);
    expect(results.map((r) => r.body)).toEqual([1, 2, 3].map(() => ({ data: { count } })));
    expect(counterProxy.calls('count')).toBe(1);
    expect(await metric(gateway, 'dpg_inbound_requests_shared_total')).toBe(2);
  });
});

describe('the key (seeded properties)', () => {
  const SEED = 20261201;
  const names = fc.uniqueArray(fc.constantFrom('admin', 'sales-manager', 'marketing-analyst', 'customer:read', 'customer:pii', 'finance:read', 'risk:read'), { maxLength: 5 });
  const principal = (subject: string, roles: readonly string[], scopes: readonly string[]): Principal => ({
    kind: 'authenticated',
    issuer: 'https://issuer.example',
    subject,
    clientId: undefined,
    roles: new Set(roles),
    scopes: new Set(scopes),
  });

  it('equal grants give equal grant sets whatever their order and whoever holds them; different grants never do', () => {
    fc.assert(
      fc.property(names, names, names, names, fc.string(), fc.string(), (rolesA, scopesA, rolesB, scopesB, subjectA, subjectB) => {
        const a = principal(subjectA, rolesA, scopesA);
        expect(grantSetOf(principal(subjectB, [...rolesA].reverse(), [...scopesA].reverse()))).toBe(grantSetOf(a));
        const same = canonicalJson([[...rolesA].sort(), [...scopesA].sort()]) === canonicalJson([[...rolesB].sort(), [...scopesB].sort()]);
        expect(grantSetOf(principal(subjectB, rolesB, scopesB)) === grantSetOf(a)).toBe(same);
        // A role is not a scope of the same name.
        if (rolesA.length) expect(grantSetOf(principal(subjectA, [], rolesA))).not.toBe(grantSetOf(principal(subjectA, rolesA, [])));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('variables in any key order give one key; any other difference gives another', () => {
    const parts = { generation: 'g', queryHash: 'q', operationName: 'Op', grants: 'gr', subject: undefined };
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (variables) => {
        const reordered = Object.fromEntries(Object.entries(variables).reverse());
        const key = executionKey({ ...parts, variables });
        expect(executionKey({ ...parts, variables: reordered })).toBe(key);
        expect(key).toMatch(/^[0-9a-f]{64}$/);
        for (const changed of [{ generation: 'g2' }, { queryHash: 'q2' }, { operationName: null }, { grants: 'gr2' }, { subject: 'ada' }, { variables: { ...variables, extra: variables.extra === 1 ? 2 : 1 } }]) {
          expect(executionKey({ ...parts, variables, ...changed })).not.toBe(key);
        }
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});
