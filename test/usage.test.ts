import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { postGraphQL } from './helpers/http.js';
import { spawnTs, type Spawned } from './helpers/process.js';
import { HAS_REDIS_SERVER, sharedRedisUrl, startOwnRedis, type OwnRedis } from './helpers/redis.js';
import { gatewayEnv, startStack, tokenFor, SUPERGRAPH_FILE, type Stack } from './helpers/stack.js';

/*
 * Per-field usage as owners read it: a scripted mix of clients and operations (aliases, fragments,
 * a refused field), then the same exact counts from the GraphQL API and the CLI.
 */
let stack: Stack;
let owner: string;

interface Row {
  coordinate: string;
  requests: number;
  errors: number;
  rejected: number;
  deprecated: boolean;
  lastSeen: string | null;
  clients: { name: string; version: string | null; requests: number }[];
}

const FIELD_USAGE = /* GraphQL */ `
  query FieldUsage($product: String!, $client: String) {
    fieldUsage(product: $product, client: $client) { coordinate requests errors rejected deprecated lastSeen clients { name version requests } }
  }
`;

async function fieldUsage(url: string, token: string, product = 'customer', client?: string): Promise<Map<string, Row>> {
  const result = await postGraphQL<{ fieldUsage: Row[] }>(url, FIELD_USAGE, { token, variables: { product, client } });
  expect(result.body.errors).toBeUndefined();
  return new Map(result.body.data!.fieldUsage.map((r) => [r.coordinate, r]));
}

beforeAll(async () => {
  stack = await startStack({ customers: 40 });
  owner = await tokenFor('data-product-owner');
  const web = { token: await tokenFor('sales-manager'), headers: { 'apollographql-client-name': 'Web', 'apollographql-client-version': '2.1' } };
  const ios = { token: await tokenFor('sales-manager'), headers: { 'apollographql-client-name': 'ios', 'apollographql-client-version': '5.0' } };
  const notebook = { token: await tokenFor('marketing-analyst') };
  // web: 3 operations, each selecting Customer.country under two aliases (one count per operation).
  for (let i = 0; i < 3; i++) await postGraphQL(stack.url, '{ customers(first: 2) { id a: country b: country } }', web);
  // ios: 2 operations through a named fragment, one with an inline fragment.
  await postGraphQL(stack.url, 'query Q { customers(first: 1) { ...F } } fragment F on Customer { country segments { name } }', ios);
  await postGraphQL(stack.url, '{ customer(id: "C000003") { ... on Customer { country fullName } } }', ios);
  // marketing notebook (client id from its token): email is refused, country is read.
  await postGraphQL(stack.url, '{ customers(first: 1) { country email } }', notebook);
  // What these operations recorded reaches the store now (the recorder would on its own schedule).
  await stack.gateway.flushUsage();
});

afterAll(async () => {
  await stack?.stop();
});

describe('usage API', () => {
  it('counts each field once per operation, per client and version, with refusals apart', async () => {
    const rows = await fieldUsage(stack.url, owner);
    expect(rows.get('Customer.country')).toMatchObject({
      requests: 6,
      errors: 0,
      rejected: 0,
      clients: [
        { name: 'web', version: '2.1', requests: 3 },
        { name: 'ios', version: '5.0', requests: 2 },
        { name: 'test-marketing-analyst', version: null, requests: 1 },
      ],
    });
    expect(rows.get('Query.customers')).toMatchObject({ requests: 5, rejected: 0 });
    expect(rows.get('Query.customers(first:)')).toMatchObject({ requests: 5 });
    expect(rows.get('Customer.segments')).toMatchObject({ requests: 1, clients: [{ name: 'ios', version: '5.0', requests: 1 }] });
    expect(rows.get('Customer.email')).toMatchObject({ requests: 0, rejected: 1, clients: [] });
    // Unused fields are listed too, with zeros; deprecation comes from the schema.
    expect(rows.get('Customer.phone')).toMatchObject({ requests: 0, rejected: 0, lastSeen: null, deprecated: false });
    expect(rows.get('Customer.fullName')).toMatchObject({ requests: 1, deprecated: true, clients: [{ name: 'ios', version: '5.0', requests: 1 }] });
    // Fields of other products are not this product's.
    expect(rows.has('Transaction.amount')).toBe(false);
  });

  it('filters by client', async () => {
    const rows = await fieldUsage(stack.url, owner, 'customer', 'ios');
    expect(rows.get('Customer.country')).toMatchObject({ requests: 2, clients: [{ name: 'ios', version: '5.0', requests: 2 }] });
  });

  it('is refused to roles without usage:read, and for unknown products', async () => {
    const refused = await postGraphQL(stack.url, FIELD_USAGE, { token: await tokenFor('data-scientist'), variables: { product: 'customer' } });
    expect(refused.body).toEqual({
      data: null,
      errors: [{ message: expect.any(String), path: ['fieldUsage'], extensions: { code: 'FORBIDDEN', coordinate: 'Query.fieldUsage', missingScopes: ['usage:read'] } }],
    });
    const unknown = await postGraphQL(stack.url, FIELD_USAGE, { token: owner, variables: { product: 'marketing' } });
    expect(unknown.body).toEqual({
      data: null,
      errors: [{ message: expect.any(String), path: ['fieldUsage'], extensions: { code: 'BAD_USER_INPUT', service: 'platform', argument: 'product' } }],
    });
  });

  it('serves an hourly series, and lists the products', async () => {
    const result = await postGraphQL<{ usageProducts: string[]; fieldUsageSeries: { hour: string; requests: number }[] }>(
      stack.url,
      '{ usageProducts fieldUsageSeries(coordinate: "Customer.country", since: "' + new Date(Date.now() - 3 * 3_600_000).toISOString() + '") { hour requests errors } }',
      { token: owner },
    );
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data!.usageProducts).toEqual(['customer', 'finance', 'product']);
    const series = result.body.data!.fieldUsageSeries;
    expect(series.length).toBeGreaterThanOrEqual(3);
    expect(series.reduce((n, p) => n + p.requests, 0)).toBe(6);
  });
});

describe('usage CLI', () => {
  it('prints the same counts as the API, as JSON and as a table', async () => {
    const api = await fieldUsage(stack.url, owner);
    const cli = spawnTs('scripts/usage.ts', ['--product', 'customer', '--since', '1d', '--json', '--gateway', stack.url, '--token', owner], {});
    expect(await cli.exited).toBe(0);
    const rows = JSON.parse(cli.lines.map((l) => String(l.text ?? JSON.stringify(l))).join('\n')) as (Row & { clients: { name: string; version: string | null; requests: number }[] })[];
    expect(rows.length).toBe(api.size);
    for (const row of rows) {
      const fromApi = api.get(row.coordinate)!;
      expect(row).toEqual({ coordinate: fromApi.coordinate, requests: fromApi.requests, errors: fromApi.errors, rejected: fromApi.rejected, lastSeen: fromApi.lastSeen, deprecated: fromApi.deprecated, clients: fromApi.clients });
    }
    const table = spawnTs('scripts/usage.ts', ['--product', 'customer', '--since', '1d', '--gateway', stack.url, '--token', owner], {});
    expect(await table.exited).toBe(0);
    const text = table.lines.map((l) => String(l.text ?? '')).join('\n');
    expect(text).toMatch(/Customer\.country\s+6\s+web 2\.1, ios 5\.0, test-marketing-analyst\s+0\s+0\s/);
    expect(text).toMatch(/Customer\.fullName\s+1\s+ios 5\.0\s+0\s+0\s+\S+\s+yes \(still used\)/);
  });

  it('exits 2 on a bad flag and 1 when the API refuses', async () => {
    const bad = spawnTs('scripts/usage.ts', ['--since', '7d'], {});
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('--product is required');
    const refused = spawnTs('scripts/usage.ts', ['--product', 'customer', '--gateway', stack.url, '--token', await tokenFor('marketing-analyst')], {});
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toContain('FORBIDDEN');
  });
});

const redisUrl = sharedRedisUrl();
describe.skipIf(!redisUrl && !HAS_REDIS_SERVER)('two gateway replicas sharing Redis', () => {
  let own: OwnRedis | undefined;
  const replicas: Spawned[] = [];
  const keyPrefix = `u${randomBytes(4).toString('hex')}`;
  afterAll(async () => {
    for (const r of replicas) r.kill();
    if (redisUrl) {
      // Usage keys live for the retention window: leave the machine's Redis as it was found.
      const redis = new Redis(redisUrl);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      redis.disconnect();
    }
    await own?.stop();
  });

  it('add their counts up', async () => {
    own = redisUrl ? undefined : await startOwnRedis();
    const env = {
      ...(gatewayEnv(stack.subgraphUrls) as Record<string, string>),
      REDIS_URL: redisUrl ?? own!.url,
      REDIS_KEY_PREFIX: keyPrefix,
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      SUPERGRAPH: SUPERGRAPH_FILE,
    };
    for (let i = 0; i < 2; i++) replicas.push(spawnTs('gateway/main.ts', [], env));
    const urls = await Promise.all(replicas.map(async (r) => String((await r.waitForLine((l) => l.msg === 'gateway ready')).url)));
    const token = await tokenFor('sales-manager');
    for (let i = 0; i < 7; i++) await postGraphQL(urls[i % 2]!, '{ customers(first: 1) { country } }', { token, headers: { 'apollographql-client-name': 'replica-test' } });
    // A separate process has no flush hook: a replica flushes what it recorded when it stops (SIGTERM), before it exits.
    for (const replica of replicas) replica.child.kill('SIGTERM');
    expect(await Promise.all(replicas.map((r) => r.exited))).toEqual([0, 0]);
    // Any gateway on that Redis then reads the same total, 4 + 3: two more, started after both wrote.
    const readers: RunningGateway[] = [];
    try {
      for (let i = 0; i < 2; i++) readers.push(await startGateway(loadConfig(env), createLogger('test', 'silent')));
      for (const reader of readers) {
        const rows = await fieldUsage(reader.url, owner, 'customer', 'replica-test');
        expect(rows.get('Customer.country')).toMatchObject({ requests: 7, clients: [{ name: 'replica-test', version: null, requests: 7 }] });
      }
    } finally {
      await Promise.all(readers.map((r) => r.stop()));
    }
  });
});

describe('what is not usage', () => {
  it('an operation that fails validation counts nothing; an unknown coordinate is refused', async () => {
    await stack.gateway.flushUsage(); // the count before is all that was recorded before
    const before = (await fieldUsage(stack.url, owner)).get('Customer.id')!.requests;
    const invalid = await postGraphQL(stack.url, '{ customers(first: 1) { id nope } }', { token: await tokenFor('sales-manager') });
    expect(invalid.status).toBe(400);
    const marker = await postGraphQL(stack.url, '{ customers(first: 1) { phone } }', { token: await tokenFor('sales-manager'), headers: { 'apollographql-client-name': 'marker' } });
    expect(marker.status).toBe(200);
    // The flush carries everything recorded so far: the invalid operation's counts, had it any, and the marker's.
    await stack.gateway.flushUsage();
    expect((await fieldUsage(stack.url, owner)).get('Customer.id')!.requests).toBe(before);
    const unknown = await postGraphQL(stack.url, '{ fieldUsageSeries(coordinate: "Nope.nothing") { hour } }', { token: owner });
    expect(unknown.body).toEqual({
      data: null,
      errors: [{ message: expect.any(String), path: ['fieldUsageSeries'], extensions: { code: 'BAD_USER_INPUT', service: 'platform', argument: 'coordinate' } }],
    });
  });
});
