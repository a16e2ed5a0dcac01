import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import type { SchemaCatalog } from '../gateway/usage/catalog.js';
import { createMemoryUsageStore } from '../gateway/usage/memory-store.js';
import { HOUR_MS, hourOf } from '../gateway/usage/model.js';
import { createUsageReader, MAX_OPERATIONS_PER_READ } from '../gateway/usage/reader.js';
import { createLogger } from '../lib/logger.js';
import { postGraphQL } from './helpers/http.js';
import { spawnTs } from './helpers/process.js';
import { HAS_REDIS_SERVER, sharedRedisUrl, startOwnRedis, type OwnRedis } from './helpers/redis.js';
import { gatewayEnv, startStack, tokenFor, type Stack } from './helpers/stack.js';

/*
 * Which operations read a field: the same scripted operations through a gateway on the in-process
 * store and one on Redis (with a cap of three operations per hour and product), then the owners'
 * API and the CLI name each operation with its document hash, clients and last use.
 */
const NOW = Date.now();
const now = () => NOW;
const HOUR = new Date(hourOf(NOW)).toISOString();
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const COUNTRIES = 'query CustomerCountries { customers(first: 2) { id country } }';
const ANONYMOUS = '{ customer(id: "C000003") { country } }';
const EMAILS = 'query Emails { customers(first: 1) { country email } }';
const EXTRA = 'query Extra { customers(first: 1) { country } }';

const FIELD_OPERATIONS = /* GraphQL */ `
  query FieldOperations($coordinate: String!, $client: String, $first: Int) {
    fieldOperations(coordinate: $coordinate, client: $client, first: $first) { name hash requests lastSeen clients { name requests lastSeen } }
  }
`;

interface OperationRow {
  name: string;
  hash: string | null;
  requests: number;
  lastSeen: string;
  clients: { name: string; requests: number; lastSeen: string }[];
}

let stack: Stack;
let owner: string;

/** The scripted traffic: four distinct operations over Customer.country, one of them refused Customer.email. */
async function sendOperations(url: string): Promise<void> {
  const web = { token: await tokenFor('sales-manager'), headers: { 'apollographql-client-name': 'web', 'apollographql-client-version': '2.1' } };
  const ios = { token: await tokenFor('sales-manager'), headers: { 'apollographql-client-name': 'ios' } };
  const notebook = { token: await tokenFor('marketing-analyst') };
  const sent: [string, typeof web | typeof notebook][] = [
    [COUNTRIES, web], [COUNTRIES, web], [COUNTRIES, web], [COUNTRIES, ios],
    [ANONYMOUS, ios],
    [EMAILS, notebook], [EMAILS, notebook],
    [EXTRA, web], [EXTRA, web], [EXTRA, web],
  ];
  for (const [query, caller] of sent) expect((await postGraphQL(url, query, caller)).status).toBe(200);
}

async function fieldOperations(url: string, variables: Record<string, unknown>, token = owner) {
  return (await postGraphQL<{ fieldOperations: OperationRow[] }>(url, FIELD_OPERATIONS, { token, variables })).body;
}

const row = (name: string, query: string | null, clients: [string, number][]): OperationRow => ({
  name,
  hash: query === null ? null : sha256(query),
  requests: clients.reduce((n, [, r]) => n + r, 0),
  lastSeen: HOUR,
  clients: clients.map(([client, requests]) => ({ name: client, requests, lastSeen: HOUR })),
});

beforeAll(async () => {
  stack = await startStack({ customers: 20, now });
  owner = await tokenFor('data-product-owner');
  await sendOperations(stack.url);
  await stack.gateway.flushUsage();
});
afterAll(async () => {
  await stack?.stop();
});

describe('usage per operation, in-process store', () => {
  it('names the operations that read a field, with their hashes, clients and last use', async () => {
    expect(await fieldOperations(stack.url, { coordinate: 'Customer.country' })).toEqual({
      data: {
        fieldOperations: [
          row('CustomerCountries', COUNTRIES, [['web', 3], ['ios', 1]]),
          row('Extra', EXTRA, [['web', 3]]),
          row('Emails', EMAILS, [['test-marketing-analyst', 2]]),
          row('(anonymous)', ANONYMOUS, [['ios', 1]]),
        ],
      },
    });
  });

  it('counts only operations that read the field: a refused field has none; filters by client; pages', async () => {
    expect(await fieldOperations(stack.url, { coordinate: 'Customer.email' })).toEqual({ data: { fieldOperations: [] } });
    expect(await fieldOperations(stack.url, { coordinate: 'Customer.country', client: 'ios' })).toEqual({
      // Equal counts sort by name.
      data: { fieldOperations: [row('(anonymous)', ANONYMOUS, [['ios', 1]]), row('CustomerCountries', COUNTRIES, [['ios', 1]])] },
    });
    expect(await fieldOperations(stack.url, { coordinate: 'Customer.country', first: 1 })).toEqual({ data: { fieldOperations: [row('CustomerCountries', COUNTRIES, [['web', 3], ['ios', 1]])] } });
  });

  it('refuses a page over its maximum, an unknown coordinate, and callers without usage:read', async () => {
    expect(await fieldOperations(stack.url, { coordinate: 'Customer.country', first: 101 })).toEqual({
      data: null,
      errors: [{ message: expect.any(String), path: ['fieldOperations'], extensions: { code: 'BAD_USER_INPUT', service: 'platform', argument: 'first', maximum: 100 } }],
    });
    expect(await fieldOperations(stack.url, { coordinate: 'Nope.nothing' })).toEqual({
      data: null,
      errors: [{ message: expect.any(String), path: ['fieldOperations'], extensions: { code: 'BAD_USER_INPUT', service: 'platform', argument: 'coordinate' } }],
    });
    expect(await fieldOperations(stack.url, { coordinate: 'Customer.country' }, await tokenFor('data-scientist'))).toEqual({
      data: null,
      errors: [{ message: expect.any(String), path: ['fieldOperations'], extensions: { code: 'FORBIDDEN', coordinate: 'Query.fieldOperations', missingScopes: ['usage:read'] } }],
    });
  });
});

describe('usage CLI --operations', () => {
  it('lists the operations of one field as JSON, the same as the API', async () => {
    const api = (await fieldOperations(stack.url, { coordinate: 'Customer.country' })).data!.fieldOperations;
    const cli = spawnTs('scripts/usage.ts', ['--product', 'customer', '--operations', '--field', 'Customer.country', '--since', '1d', '--json', '--gateway', stack.url, '--token', owner], {});
    expect(await cli.exited).toBe(0);
    expect(JSON.parse(cli.lines.map((l) => String(l.text ?? JSON.stringify(l))).join('\n'))).toEqual([{ coordinate: 'Customer.country', operations: api }]);
  });

  it('lists every read field\'s operations as a table; refuses --field without --operations', async () => {
    const cli = spawnTs('scripts/usage.ts', ['--product', 'customer', '--operations', '--since', '1d', '--gateway', stack.url, '--token', owner], {});
    expect(await cli.exited).toBe(0);
    const text = cli.lines.map((l) => String(l.text ?? '')).join('\n');
    expect(text).toMatch(new RegExp(`^Customer\\.country\\s+CustomerCountries\\s+${sha256(COUNTRIES).slice(0, 12)}\\s+4\\s+web, ios\\s+${HOUR}$`, 'm'));
    expect(text).toMatch(new RegExp(`^Query\\.customer\\s+\\(anonymous\\)\\s+${sha256(ANONYMOUS).slice(0, 12)}\\s+1\\s+ios\\s+${HOUR}$`, 'm'));
    // A field no operation read successfully is not listed.
    expect(text).not.toMatch(/^Customer\.email /m);
    const bad = spawnTs('scripts/usage.ts', ['--product', 'customer', '--field', 'Customer.country'], {});
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('--field goes with --operations');
  });
});

const redisUrl = sharedRedisUrl();
describe.skipIf(!redisUrl && !HAS_REDIS_SERVER)('usage per operation, Redis store, capped', () => {
  let own: OwnRedis | undefined;
  let gateway: RunningGateway;
  const keyPrefix = `uo${randomBytes(4).toString('hex')}`;
  let url: string;

  beforeAll(async () => {
    own = redisUrl ? undefined : await startOwnRedis();
    url = redisUrl ?? own!.url;
    gateway = await startGateway(
      loadConfig(gatewayEnv(stack.subgraphUrls, { REDIS_URL: url, REDIS_KEY_PREFIX: keyPrefix, USAGE_MAX_OPERATIONS: '3', USAGE_FLUSH_MS: '60000' })),
      createLogger('test', 'silent'),
      { now },
    );
    await gateway.storesReady();
    await sendOperations(gateway.url);
    await gateway.flushUsage();
  });
  afterAll(async () => {
    await gateway?.stop();
    if (redisUrl) {
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

  it('counts operations past the hourly cap as ~other, with a metric', async () => {
    expect(await fieldOperations(gateway.url, { coordinate: 'Customer.country' })).toEqual({
      data: {
        fieldOperations: [
          row('CustomerCountries', COUNTRIES, [['web', 3], ['ios', 1]]),
          row('~other', null, [['web', 3]]),
          row('Emails', EMAILS, [['test-marketing-analyst', 2]]),
          row('(anonymous)', ANONYMOUS, [['ios', 1]]),
        ],
      },
    });
    const metrics = await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/^dpg_usage_operation_overflow_total\{product="customer"\} 3$/m);
  });

  it('keeps one field\'s operations in a hash of its own, expiring with the hour', async () => {
    const redis = new Redis(url);
    try {
      const key = `${keyPrefix}:usage:v2:o:{${hourOf(NOW)}:customer}:Customer.country`;
      expect(await redis.hgetall(key)).toEqual({
        [`CustomerCountries\t${sha256(COUNTRIES)}\tweb`]: '3',
        [`CustomerCountries\t${sha256(COUNTRIES)}\tios`]: '1',
        [`(anonymous)\t${sha256(ANONYMOUS)}\tios`]: '1',
        [`Emails\t${sha256(EMAILS)}\ttest-marketing-analyst`]: '2',
        ['~other\t\tweb']: '3',
      });
      expect(await redis.ttl(key)).toBeGreaterThan(30 * 86_400);
    } finally {
      redis.disconnect();
    }
  });
});

describe('one read of a field\'s operations', () => {
  it('folds at most MAX_OPERATIONS_PER_READ distinct operations; the rest count as ~other', async () => {
    // Hours of distinct documents, each hour within its cap: a month could hold a month of them.
    const store = createMemoryUsageStore(30 * 86_400_000, now);
    const entry = { coordinate: 'Customer.country', product: 'customer', deprecationReason: null };
    const catalog: SchemaCatalog = { products: ['customer'], coordinatesOf: () => [entry], entry: (c) => (c === entry.coordinate ? entry : undefined) };
    const hours = 3;
    const perHour = Math.ceil((MAX_OPERATIONS_PER_READ + 5) / hours);
    for (let h = 0; h < hours; h++) {
      const hour = hourOf(NOW) - (hours - 1 - h) * HOUR_MS;
      const ops = new Map(Array.from({ length: perHour }, (_, i) => [`Op${h}_${i}\t${sha256(`${h}:${i}`)}\tweb`, 1]));
      await store.apply({ id: `b${h}`, parts: [{ hour, product: 'customer', cells: new Map([['Customer.country\tweb\t\tok', perHour]]), operations: new Map([['Customer.country', ops]]) }] });
    }
    const reader = createUsageReader(store, () => catalog, 30 * 86_400_000, now);
    const rows = await reader.fieldOperations('Customer.country', { since: new Date(NOW - 7 * 86_400_000), until: new Date(NOW + 1), client: undefined });
    const overflow = rows.find((r) => r.name === '~other');
    expect(rows).toHaveLength(MAX_OPERATIONS_PER_READ + 1);
    expect(overflow).toMatchObject({ hash: null, requests: hours * perHour - MAX_OPERATIONS_PER_READ, clients: [{ name: 'web', requests: hours * perHour - MAX_OPERATIONS_PER_READ }] });
    expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(hours * perHour);
  });
});
