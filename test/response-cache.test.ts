import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { ConfigError, loadConfig } from '../gateway/config.js';
import { createMemoryCacheStore } from '../gateway/execution/cache-store.js';
import { createResponseCache } from '../gateway/execution/response-cache.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { startCountingProxy, type CountingProxy } from './helpers/counting-proxy.js';
import { postGraphQL, type GraphQLResult } from './helpers/http.js';
import { sharedRedisUrl } from './helpers/redis.js';
import { gatewayEnv, startProducts, SUPERGRAPH_FILE } from './helpers/stack.js';

/*
 * The response cache and its freshness promise, over real HTTP: the three data products on port 0,
 * the customer and product products behind counting proxies (a call that reaches a product is a
 * miss), real gateways with a frozen clock that the tests move. The descriptors promise: customer
 * 60 minutes, finance 15, product 5; customer and product opt in, finance does not.
 */
const silent = createLogger('test', 'silent');
const LIST = '{ customers(first: 3) { id country segments { name } } }';
const PERSONAL = '{ customers(first: 2) { id email } }';
const MINUTE = 60_000;
const T0 = Date.parse('2026-12-01T08:00:00.000Z');

let products: Awaited<ReturnType<typeof startProducts>>;
let customer: CountingProxy;
let product: CountingProxy;
const gateways: RunningGateway[] = [];
const redisPrefixes: string[] = [];

beforeAll(async () => {
  products = await startProducts();
  customer = await startCountingProxy(products.products.subgraphs.customer!.url);
  product = await startCountingProxy(products.products.subgraphs.product!.url);
});
afterAll(async () => {
  for (const gateway of gateways) await gateway.stop();
  const url = sharedRedisUrl();
  if (url && redisPrefixes.length) {
    const redis = new Redis(url);
    for (const prefix of redisPrefixes) {
      const keys = await scanAll(redis, `${prefix}:*`);
      if (keys.length) await redis.del(...keys);
    }
    redis.disconnect();
  }
  await customer?.stop();
  await product?.stop();
  await products?.cleanup();
});

async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** A gateway whose clock is `clock.at`, with the response cache on for customer and product; descriptors already fetched. */
async function gatewayWith(clock: { at: number }, env: Record<string, string> = {}): Promise<RunningGateway> {
  const urls = Object.fromEntries(
    Object.entries(products.products.subgraphs).map(([name, s]) => [name, name === 'customer' ? customer.url : name === 'product' ? product.url : s.url]),
  );
  const gateway = await startGateway(loadConfig(gatewayEnv(urls, { RESPONSE_CACHE: 'on', RESPONSE_CACHE_PRODUCTS: 'customer,product', ...env })), silent, { now: () => clock.at });
  gateways.push(gateway);
  await gateway.storesReady();
  await gateway.refreshCatalog();
  return gateway;
}

const token = (role: string, subject = 'ada') => mintDevToken({ roles: [role], subject, clientId: 'app', now: Math.floor(T0 / 1000), ttlS: 7 * 86_400 });

/** The response's cache headers, exactly. */
const cacheHeaders = (result: GraphQLResult) => ({ 'cache-control': result.headers.get('cache-control'), age: result.headers.get('age') });
const kept = (maxAge: number, age: number) => ({ 'cache-control': `private, max-age=${maxAge}`, age: String(age) });
const NOT_KEPT = { 'cache-control': 'no-store', age: null };

async function hitRate(gateway: RunningGateway, name: string): Promise<number | null> {
  const result = await postGraphQL<{ dataProduct: { status: { cacheHitRate: number | null } } }>(gateway.url, `{ dataProduct(name: "${name}") { status { cacheHitRate } } }`, {
    token: await token('admin', 'root'),
  });
  expect(result.body.errors).toBeUndefined();
  return result.body.data!.dataProduct.status.cacheHitRate;
}

describe('response cache', () => {
  it('answers from the cache within the product\'s freshness window and never after it (frozen clock); headers exact; the catalogue shows the hit rate', async () => {
    const clock = { at: T0 };
    const gateway = await gatewayWith(clock);
    const bearer = await token('marketing-analyst');
    expect(await hitRate(gateway, 'customer')).toBeNull();
    const calls = customer.calls('customers');

    const first = await postGraphQL(gateway.url, LIST, { token: bearer });
    expect(first.status).toBe(200);
    expect(first.body.errors).toBeUndefined();
    expect(cacheHeaders(first)).toEqual(kept(3600, 0));
    expect(customer.calls('customers') - calls).toBe(1);

    const again = await postGraphQL(gateway.url, LIST, { token: bearer });
    expect(again.body).toEqual(first.body);
    expect(cacheHeaders(again)).toEqual(kept(3600, 0));

    clock.at = T0 + 10 * MINUTE;
    const later = await postGraphQL(gateway.url, LIST, { token: bearer });
    expect(later.body).toEqual(first.body);
    expect(cacheHeaders(later)).toEqual(kept(3000, 600));

    clock.at = T0 + 60 * MINUTE - 1;
    const last = await postGraphQL(gateway.url, LIST, { token: bearer });
    expect(cacheHeaders(last)).toEqual(kept(0, 3600));
    expect(customer.calls('customers') - calls).toBe(1);

    // The window is over: the product is asked again, and the new answer starts a new window.
    clock.at = T0 + 60 * MINUTE;
    const renewed = await postGraphQL(gateway.url, LIST, { token: bearer });
    expect(renewed.body).toEqual(first.body);
    expect(cacheHeaders(renewed)).toEqual(kept(3600, 0));
    expect(customer.calls('customers') - calls).toBe(2);

    // 3 hits of 5 lookups; finance was never looked up.
    expect(await hitRate(gateway, 'customer')).toBe(0.6);
    expect(await hitRate(gateway, 'finance')).toBeNull();
    const metrics = await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toContain('dpg_response_cache_lookups_total{result="hit"} 3');
    expect(metrics).toContain('dpg_response_cache_lookups_total{result="miss"} 2');
  });

  it('an operation touching several products keeps the shortest promise; one touching a product that did not opt in is not cached', async () => {
    const clock = { at: T0 };
    const gateway = await gatewayWith(clock);
    const bearer = await token('data-scientist');
    const BOTH = '{ customers(first: 2) { id } products(first: 2) { sku name } }';
    const calls = product.calls('products');
    expect(cacheHeaders(await postGraphQL(gateway.url, BOTH, { token: bearer }))).toEqual(kept(300, 0));
    clock.at = T0 + 5 * MINUTE - 1000;
    expect(cacheHeaders(await postGraphQL(gateway.url, BOTH, { token: bearer }))).toEqual(kept(1, 299));
    expect(product.calls('products') - calls).toBe(1);
    clock.at = T0 + 5 * MINUTE;
    expect(cacheHeaders(await postGraphQL(gateway.url, BOTH, { token: bearer }))).toEqual(kept(300, 0));
    expect(product.calls('products') - calls).toBe(2);

    // Finance (lifetime value) did not opt in.
    const WITH_FINANCE = '{ customers(first: 2) { id lifetimeValue { amount } } }';
    const before = customer.calls('customers');
    for (let i = 0; i < 2; i++) {
      const result = await postGraphQL(gateway.url, WITH_FINANCE, { token: bearer });
      expect(result.body.errors).toBeUndefined();
      expect(cacheHeaders(result)).toEqual(NOT_KEPT);
    }
    expect(customer.calls('customers') - before).toBe(2);
    expect(await hitRate(gateway, 'finance')).toBeNull();
  });

  it('personal data is never served across principals; other answers are shared by equal grants only', async () => {
    const clock = { at: T0 };
    const gateway = await gatewayWith(clock);
    const [ada, bob] = await Promise.all([token('sales-manager', 'ada'), token('sales-manager', 'bob')]);
    const calls = () => customer.calls('customers');
    const start = calls();
    const adaFirst = await postGraphQL(gateway.url, PERSONAL, { token: ada });
    expect(cacheHeaders(adaFirst)).toEqual(kept(3600, 0));
    expect((adaFirst.body.data as { customers: { email: string }[] }).customers[0]!.email).toMatch(/@/);
    await postGraphQL(gateway.url, PERSONAL, { token: ada });
    expect(calls() - start).toBe(1);
    const bobFirst = await postGraphQL(gateway.url, PERSONAL, { token: bob });
    expect(bobFirst.body).toEqual(adaFirst.body);
    expect(calls() - start).toBe(2); // bob's own execution, not ada's answer
    await postGraphQL(gateway.url, PERSONAL, { token: bob });
    expect(calls() - start).toBe(2);

    // Nothing personal: equal grants share the entry, other grants do not.
    const [analystAda, analystBob, scientist] = await Promise.all([token('marketing-analyst', 'ada'), token('marketing-analyst', 'bob'), token('data-scientist', 'ada')]);
    await postGraphQL(gateway.url, LIST, { token: analystAda });
    expect(calls() - start).toBe(3);
    expect(cacheHeaders(await postGraphQL(gateway.url, LIST, { token: analystBob }))).toEqual(kept(3600, 0));
    expect(calls() - start).toBe(3);
    await postGraphQL(gateway.url, LIST, { token: scientist });
    expect(calls() - start).toBe(4);
  });

  it('answers with errors, refused operations and answers over the size bound are never kept', async () => {
    const clock = { at: T0 };
    const gateway = await gatewayWith(clock, { RESPONSE_CACHE_MAX_VALUE_BYTES: '200' });
    const bearer = await token('marketing-analyst');
    const start = customer.calls('customers');
    for (let i = 0; i < 2; i++) {
      const failed = await postGraphQL(gateway.url, '{ customers(first: 500) { id } }', { token: bearer });
      expect(failed.body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      expect(cacheHeaders(failed)).toEqual(NOT_KEPT);
    }
    expect(customer.calls('customers') - start).toBe(2);

    const invalid = await postGraphQL(gateway.url, '{ customers(first: 1) { nope } }', { token: bearer });
    expect(invalid.status).toBe(400);
    expect(cacheHeaders(invalid)).toEqual(NOT_KEPT);

    // LIST's answer is larger than 200 bytes.
    for (let i = 0; i < 2; i++) expect(cacheHeaders(await postGraphQL(gateway.url, LIST, { token: bearer }))).toEqual(NOT_KEPT);
    expect(customer.calls('customers') - start).toBe(4);
    // A small one still is.
    expect(cacheHeaders(await postGraphQL(gateway.url, '{ customers(first: 1) { id } }', { token: bearer }))).toEqual(kept(3600, 0));
  });

  it('a supergraph reload invalidates every kept answer', async () => {
    const clock = { at: T0 };
    const file = join(mkdtempSync(join(tmpdir(), 'dpg-cache-')), 'supergraph.graphql');
    const sdl = readFileSync(SUPERGRAPH_FILE, 'utf8');
    writeFileSync(file, sdl);
    const gateway = await gatewayWith(clock, { SUPERGRAPH: file, SUPERGRAPH_POLL_MS: '0' });
    const bearer = await token('marketing-analyst');
    const start = customer.calls('customers');
    await postGraphQL(gateway.url, LIST, { token: bearer });
    await postGraphQL(gateway.url, LIST, { token: bearer });
    expect(customer.calls('customers') - start).toBe(1);

    writeFileSync(file, `${sdl}\n# released again\n`);
    expect(await gateway.reloadSupergraph()).toMatchObject({ outcome: 'applied' });
    const after = await postGraphQL(gateway.url, LIST, { token: bearer });
    expect(cacheHeaders(after)).toEqual(kept(3600, 0));
    expect(customer.calls('customers') - start).toBe(2);
    await postGraphQL(gateway.url, LIST, { token: bearer });
    expect(customer.calls('customers') - start).toBe(2);
  });

  it('property: whatever the clock does, an answer is served from the cache exactly while its window lasts (seeded)', async () => {
    const clock = { at: T0 };
    const gateway = await gatewayWith(clock);
    const bearer = await token('marketing-analyst');
    // Each run starts past any earlier window: a fresh fetch.
    let fetchedAt: number | undefined;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 25 * MINUTE }), { minLength: 1, maxLength: 8 }), async (steps) => {
        clock.at += 61 * MINUTE;
        fetchedAt = undefined;
        for (const step of steps) {
          clock.at += step;
          const before = customer.calls('customers');
          const result = await postGraphQL(gateway.url, LIST, { token: bearer });
          expect(result.body.errors, JSON.stringify(result.body.errors)).toBeUndefined();
          const executed = customer.calls('customers') - before === 1;
          const fresh = fetchedAt !== undefined && clock.at - fetchedAt < 60 * MINUTE;
          // Served from the cache if and only if within the window since it was fetched.
          expect(executed).toBe(!fresh);
          if (executed) fetchedAt = clock.at;
          const age = clock.at - fetchedAt!;
          // The body in the message: a no-store here says why (an error in the answer, or a promise not known).
          expect(cacheHeaders(result), JSON.stringify(result.body).slice(0, 400)).toEqual(kept(Math.floor((60 * MINUTE - age) / 1000), Math.ceil(age / 1000)));
        }
      }),
      { seed: 20261201, numRuns: 15 },
    );
  });
});

describe('response cache, the rest', () => {
  it('a batch is answered no-store (one header cannot speak for several answers), and its operations are still cached', async () => {
    const clock = { at: T0 };
    const gateway = await gatewayWith(clock);
    const bearer = await token('marketing-analyst');
    const start = customer.calls('customers');
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify([{ query: LIST }, { query: '{ customers(first: 1) { id } }' }]),
    });
    expect(response.status).toBe(200);
    expect((await response.json()) as unknown[]).toHaveLength(2);
    expect({ 'cache-control': response.headers.get('cache-control'), age: response.headers.get('age') }).toEqual(NOT_KEPT);
    expect(customer.calls('customers') - start).toBe(2);
    expect(cacheHeaders(await postGraphQL(gateway.url, LIST, { token: bearer }))).toEqual(kept(3600, 0));
    expect(customer.calls('customers') - start).toBe(2);
  });

  it('a product that shortens its promise is heard at once: a kept answer is served only within the shorter window', async () => {
    let at = T0;
    const cache = createResponseCache({
      settings: { products: new Set(['customer']), maxBytes: 10_000, maxValueBytes: 1000 },
      redis: { url: undefined, keyPrefix: 'dpg', commandTimeoutMs: 250 },
      freshnessMinutesOf: () => 60,
      logger: silent,
      now: () => at,
      onStoreFailure: () => undefined,
      onLookup: () => undefined,
    });
    expect(await cache.save('g1', 'k', { n: 1 }, T0, 60 * MINUTE)).toEqual({ fetchedAt: T0, expiresAt: T0 + 60 * MINUTE, data: { n: 1 } });
    at = T0 + 4 * MINUTE;
    expect(await cache.lookup('g1', 'k', 5 * MINUTE)).toEqual({ fetchedAt: T0, expiresAt: T0 + 5 * MINUTE, data: { n: 1 } });
    expect(await cache.lookup('g2', 'k', 60 * MINUTE)).toBeUndefined(); // another supergraph
    at = T0 + 5 * MINUTE;
    expect(await cache.lookup('g1', 'k', 5 * MINUTE)).toBeUndefined();
    expect(await cache.lookup('g1', 'k', 60 * MINUTE)).toMatchObject({ data: { n: 1 } });
  });

  it('the in-memory store keeps within its byte budget, least recently used out first, and drops what expired', async () => {
    let at = 0;
    const store = createMemoryCacheStore({ maxBytes: 10, now: () => at });
    await store.set('a', 'aaaa', 1000);
    await store.set('b', 'bbbb', 1000);
    expect(await store.get('a')).toBe('aaaa'); // a is now the most recently used
    await store.set('c', 'cccc', 1000);
    expect([await store.get('a'), await store.get('b'), await store.get('c')]).toEqual(['aaaa', undefined, 'cccc']);
    await store.set('huge', 'x'.repeat(11), 1000);
    expect(await store.get('huge')).toBeUndefined();
    at = 999;
    expect(await store.get('a')).toBe('aaaa');
    at = 1000;
    expect([await store.get('a'), await store.get('c')]).toEqual([undefined, undefined]);
  });
});

const redisUrl = sharedRedisUrl();

describe.skipIf(!redisUrl)('response cache in Redis', () => {
  it('two gateways share kept answers through Redis; the freshness promise holds on the gateway\'s clock', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    redisPrefixes.push(prefix);
    const clock = { at: T0 };
    const env = { REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix };
    const [one, two] = [await gatewayWith(clock, env), await gatewayWith(clock, env)];
    const bearer = await token('marketing-analyst');
    const start = customer.calls('customers');

    const first = await postGraphQL(one.url, LIST, { token: bearer });
    expect(cacheHeaders(first)).toEqual(kept(3600, 0));
    clock.at = T0 + 20 * MINUTE;
    const shared = await postGraphQL(two.url, LIST, { token: bearer });
    expect(shared.body).toEqual(first.body);
    expect(cacheHeaders(shared)).toEqual(kept(2400, 1200));
    expect(customer.calls('customers') - start).toBe(1);

    // One key, versioned, under the supergraph's hash, expiring with what is left of the window.
    const redis = new Redis(redisUrl!);
    try {
      const keys = await scanAll(redis, `${prefix}:rc:*`);
      expect(keys).toEqual([expect.stringMatching(new RegExp(`^${prefix}:rc:v1:${one.supergraphHash()}:[0-9a-f]{64}$`))]);
      const ttl = await redis.pttl(keys[0]!);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60 * MINUTE);
      expect(await redis.get(keys[0]!)).not.toContain('ada'); // the key and the value name no subject
    } finally {
      redis.disconnect();
    }

    // Redis still holds it (its own clock), but the window is over on the gateways' clock.
    clock.at = T0 + 60 * MINUTE;
    expect(cacheHeaders(await postGraphQL(two.url, LIST, { token: bearer }))).toEqual(kept(3600, 0));
    expect(customer.calls('customers') - start).toBe(2);
    expect(cacheHeaders(await postGraphQL(one.url, LIST, { token: bearer }))).toEqual(kept(3600, 0));
    expect(customer.calls('customers') - start).toBe(2);
  });
});

describe('configuration', () => {
  const base = { NODE_ENV: 'test', SUPERGRAPH: SUPERGRAPH_FILE };
  it('is off by default, with inbound deduplication on', () => {
    const config = loadConfig(base);
    expect(config.execution).toEqual({ inboundDedup: true, responseCache: undefined, personalDataScopes: new Set(['customer:pii']) });
  });
  it('reads the products, bounds and personal-data scopes', () => {
    const config = loadConfig({ ...base, RESPONSE_CACHE: 'on', RESPONSE_CACHE_PRODUCTS: 'customer, product', RESPONSE_CACHE_MAX_BYTES: '1000', RESPONSE_CACHE_MAX_VALUE_BYTES: '100', PERSONAL_DATA_SCOPES: 'customer:pii,hr:pii', INBOUND_DEDUP: 'off' });
    expect(config.execution).toEqual({
      inboundDedup: false,
      responseCache: { products: new Set(['customer', 'product']), maxBytes: 1000, maxValueBytes: 100 },
      personalDataScopes: new Set(['customer:pii', 'hr:pii']),
    });
  });
  it.each([
    [{ RESPONSE_CACHE: 'on' }, 'RESPONSE_CACHE_PRODUCTS'],
    [{ RESPONSE_CACHE: 'yes' }, 'RESPONSE_CACHE'],
    [{ INBOUND_DEDUP: 'yes' }, 'INBOUND_DEDUP'],
    [{ RESPONSE_CACHE_PRODUCTS: 'Customer' }, 'RESPONSE_CACHE_PRODUCTS'],
    [{ RESPONSE_CACHE_MAX_VALUE_BYTES: '0' }, 'RESPONSE_CACHE_MAX_VALUE_BYTES'],
    [{ RESPONSE_CACHE_MAX_BYTES: '10', RESPONSE_CACHE_MAX_VALUE_BYTES: '100' }, 'RESPONSE_CACHE_MAX_VALUE_BYTES'],
  ])('refuses %o naming %s', (env, key) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...env })).toThrow(new RegExp(`${key}:`));
  });
});
