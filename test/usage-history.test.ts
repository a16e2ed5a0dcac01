import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresUsageHistory, type UsageHistory } from '../gateway/usage/history.js';
import { createMemoryUsageStore } from '../gateway/usage/memory-store.js';
import { HOUR_MS, hourOf, type UsageSnapshot } from '../gateway/usage/model.js';
import { createRedisUsageStore } from '../gateway/usage/redis-store.js';
import { createLayeredUsageStore, createUsageRollup } from '../gateway/usage/rollup.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { createScratchDatabase } from './helpers/database.js';
import { postGraphQL } from './helpers/http.js';
import { HAS_REDIS_SERVER, startOwnRedis, type OwnRedis } from './helpers/redis.js';
import { gatewayEnv, startStack, tokenFor, type Stack } from './helpers/stack.js';

/*
 * Durable usage history: closed hours are rolled up from the hot store into PostgreSQL, exactly
 * once. A Redis restart (no persistence, as in compose) erases only what was not rolled up yet;
 * the history owners read is what was recorded. A repeated or half-done roll-up never doubles.
 */
const databaseUrl = process.env.DATABASE_URL;
const silent = createLogger('test', 'silent');
const MINUTE = 60_000;

describe.skipIf(!databaseUrl)('usage history in PostgreSQL', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let history: UsageHistory;
  const schema = `usage_t_${randomBytes(4).toString('hex')}`;
  const H = hourOf(Date.now()) - 5 * HOUR_MS;
  const snapshot = (id: string, hour: number, count: number, opCount = count): UsageSnapshot => ({
    id,
    hour,
    product: 'customer',
    cells: new Map([[`Customer.country\tweb\t2.1\tok`, count]]),
    operations: new Map([['Customer.country', new Map([[`Shelf\t${'a'.repeat(64)}\tweb`, opCount]])]]),
  });
  const countryIn = async (h: UsageHistory | ReturnType<typeof createLayeredUsageStore>, hour: number) =>
    (await h.read('customer', hour, hour + HOUR_MS)).get(hour)?.get('Customer.country\tweb\t2.1\tok') ?? 0;
  const operationsIn = async (h: UsageHistory | ReturnType<typeof createLayeredUsageStore>, hour: number) =>
    (await h.readOperations('customer', 'Customer.country', hour, hour + HOUR_MS)).get(hour)?.get(`Shelf\t${'a'.repeat(64)}\tweb`) ?? 0;

  beforeAll(async () => {
    scratch = await createScratchDatabase(databaseUrl!);
    history = createPostgresUsageHistory(scratch.url, schema);
    await history.ready();
  });
  afterAll(async () => {
    await history?.close();
    await scratch?.drop();
  });

  it('adds a snapshot once, however often it is repeated', async () => {
    expect(await history.add(snapshot('s-1', H, 4))).toBe(true);
    expect(await history.add(snapshot('s-1', H, 4))).toBe(false);
    expect(await countryIn(history, H)).toBe(4);
    expect(await operationsIn(history, H)).toBe(4);
    // Another snapshot of the same hour (counts that landed after its roll-up) adds to it.
    expect(await history.add(snapshot('s-2', H, 3))).toBe(true);
    expect(await countryIn(history, H)).toBe(7);
    expect(await operationsIn(history, H)).toBe(7);
  });

  it('a roll-up that fails half way leaves nothing, and its retry counts once', async () => {
    const hour = H + HOUR_MS;
    // The operations' insert fails after the counts' and the id's: the transaction leaves none of them.
    await expect(history.add(snapshot('s-3', hour, 5, -1))).rejects.toThrow();
    expect(await countryIn(history, hour)).toBe(0);
    expect(await history.add(snapshot('s-3', hour, 5))).toBe(true);
    expect(await history.add(snapshot('s-3', hour, 5))).toBe(false);
    expect(await countryIn(history, hour)).toBe(5);
    expect(await operationsIn(history, hour)).toBe(5);
  });

  it('a roll-up stopped between the history and the release resumes the same snapshot: nothing doubled, nothing lost', async () => {
    const product = 'customer';
    let now = H + 2 * HOUR_MS + 10 * MINUTE;
    const hot = createMemoryUsageStore(30 * 86_400_000, () => now);
    const own = createPostgresUsageHistory(scratch.url, `${schema}_r`);
    const layered = createLayeredUsageStore(hot, own);
    const rollup = createUsageRollup({ hot, history: own, products: () => [product], retentionMs: 30 * 86_400_000, delayMs: 5 * MINUTE, intervalMs: 0, logger: silent, now: () => now });
    const hour = hourOf(now);
    const part = { hour, product, cells: new Map([['Customer.country\tweb\t2.1\tok', 6]]), operations: new Map([['Customer.country', new Map([[`Shelf\t${'a'.repeat(64)}\tweb`, 6]])]]) };
    try {
      await hot.apply({ id: 'b-1', parts: [part] });
      // The hour is still open (and within the delay after it): not rolled up.
      now = hour + HOUR_MS + 2 * MINUTE;
      expect(await rollup.run()).toBe(0);
      now = hour + HOUR_MS + 6 * MINUTE;
      // A run stops after the history took the snapshot, before the hot store released it.
      const taken = (await hot.takeHour(hour, product))!;
      expect(await own.add(taken)).toBe(true);
      // Meanwhile a read counts the snapshot once (from the history; the hot store no longer shows it).
      expect(await countryIn(layered, hour)).toBe(6);
      // The next run finds the same snapshot (same id): the history skips it, the hot store releases it.
      expect(await rollup.run()).toBe(0);
      expect(await hot.hoursWithCounts(product, hour, hour + HOUR_MS)).toEqual([]);
      expect(await countryIn(layered, hour)).toBe(6);
      expect(await operationsIn(layered, hour)).toBe(6);
      // A flush that lands late for that hour counts in the hot store, then in the history: once.
      await hot.apply({ id: 'b-2', parts: [{ ...part, cells: new Map([['Customer.country\tweb\t2.1\tok', 2]]), operations: new Map() }] });
      expect(await countryIn(layered, hour)).toBe(8);
      expect(await rollup.run()).toBe(1);
      expect(await countryIn(layered, hour)).toBe(8);
      expect(await countryIn(own, hour)).toBe(8);
    } finally {
      rollup.close();
      await own.close();
    }
  });
});

describe.skipIf(!databaseUrl || !HAS_REDIS_SERVER)('usage history through a Redis restart', () => {
  let stack: Stack;
  let redis: OwnRedis;
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let owner: string;
  // The gateway's clock: an hour that started ten minutes ago, then later ones.
  let now = hourOf(Date.now()) + 10 * MINUTE;
  let env: Record<string, string>;
  const H1 = hourOf(now);
  const SHELF = 'query Shelf { customers(first: 1) { country } }';

  beforeAll(async () => {
    redis = await startOwnRedis(); // no persistence: a restart empties it, as in compose
    scratch = await createScratchDatabase(databaseUrl!);
    env = { REDIS_URL: redis.url, USAGE_DATABASE_URL: scratch.url, USAGE_SCHEMA: `usage_s_${randomBytes(4).toString('hex')}`, USAGE_FLUSH_MS: '60000', USAGE_ROLLUP_INTERVAL_MS: '3600000' };
    stack = await startStack({ customers: 10, now: () => now, env });
    await stack.gateway.storesReady();
    owner = await tokenFor('data-product-owner');
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
    await scratch?.drop();
  });

  const send = async (n: number) => {
    const token = await tokenFor('sales-manager');
    for (let i = 0; i < n; i++) expect((await postGraphQL(stack.url, SHELF, { token, headers: { 'apollographql-client-name': 'web' } })).status).toBe(200);
    await stack.gateway.flushUsage();
  };
  const read = async (url = stack.url) => {
    const since = new Date(H1 - HOUR_MS).toISOString();
    const result = await postGraphQL<{ fieldUsage: { coordinate: string; requests: number; firstSeen: string | null; lastSeen: string | null }[]; fieldUsageSeries: { hour: string; requests: number }[]; fieldOperations: { name: string; requests: number; lastSeen: string }[] }>(
      url,
      `query ($since: DateTime) {
        fieldUsage(product: "customer", since: $since) { coordinate requests firstSeen lastSeen }
        fieldUsageSeries(coordinate: "Customer.country", since: $since) { hour requests }
        fieldOperations(coordinate: "Customer.country", since: $since) { name requests lastSeen }
      }`,
      { token: owner, variables: { since } },
    );
    expect(result.body.errors).toBeUndefined();
    const data = result.body.data!;
    return {
      country: data.fieldUsage.find((r) => r.coordinate === 'Customer.country'),
      series: data.fieldUsageSeries.filter((p) => p.requests > 0),
      operations: data.fieldOperations,
    };
  };

  it('Redis sets an hour aside once: a second take resumes the same snapshot, a release names it, later counts start anew', async () => {
    const store = createRedisUsageStore({ url: redis.url, keyPrefix: `take${randomBytes(3).toString('hex')}`, commandTimeoutMs: 2_000, retentionMs: 86_400_000 });
    try {
      const hour = hourOf(Date.now()) - HOUR_MS;
      const op = `Shelf\t${'b'.repeat(64)}\tweb`;
      const part = (n: number) => ({ hour, product: 'p', cells: new Map([['Query.x\tweb\t\tok', n]]), operations: new Map([['Query.x', new Map([[op, n]])]]) });
      await store.ready();
      await store.apply({ id: 'a', parts: [part(3)] });
      expect(await store.hoursWithCounts('p', hour - HOUR_MS, hour + HOUR_MS)).toEqual([hour]);
      const taken = await store.takeHour(hour, 'p');
      expect(taken).toEqual({ id: expect.any(String), hour, product: 'p', cells: new Map([['Query.x\tweb\t\tok', 3]]), operations: new Map([['Query.x', new Map([[op, 3]])]]) });
      // Set aside: no longer read, and a take before its release resumes it.
      expect(await store.read('p', hour, hour + HOUR_MS)).toEqual(new Map());
      await store.apply({ id: 'b', parts: [part(2)] }); // a late flush of that hour: new live hashes
      expect(await store.takeHour(hour, 'p')).toEqual(taken);
      await store.releaseHour({ ...taken!, id: 'someone-else' }); // names another snapshot: nothing happens
      expect(await store.takeHour(hour, 'p')).toEqual(taken);
      await store.releaseHour(taken!);
      // Released; the late counts are the next snapshot's.
      const next = await store.takeHour(hour, 'p');
      expect(next).toEqual({ id: expect.any(String), hour, product: 'p', cells: new Map([['Query.x\tweb\t\tok', 2]]), operations: new Map([['Query.x', new Map([[op, 2]])]]) });
      expect(next!.id).not.toBe(taken!.id);
      await store.releaseHour(next!);
      expect(await store.takeHour(hour, 'p')).toBeUndefined();
      expect(await store.hoursWithCounts('p', hour - HOUR_MS, hour + HOUR_MS)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('keeps what was rolled up when Redis restarts empty; reads never double count', async () => {
    await send(5); // hour H1
    now = H1 + HOUR_MS + 6 * MINUTE; // H1 closed, past the roll-up delay
    await send(3); // hour H2, open
    expect(await stack.gateway.rollUpUsage()).toBeGreaterThanOrEqual(1);
    const h1 = new Date(H1).toISOString();
    const h2 = new Date(H1 + HOUR_MS).toISOString();
    const recorded = {
      country: { coordinate: 'Customer.country', requests: 8, firstSeen: h1, lastSeen: h2 },
      series: [{ hour: h1, requests: 5 }, { hour: h2, requests: 3 }],
      operations: [{ name: 'Shelf', requests: 8, lastSeen: h2 }],
    };
    // H1 from PostgreSQL, H2 from Redis: each count once.
    expect(await read()).toEqual(recorded);
    // A repeated roll-up adds nothing.
    expect(await stack.gateway.rollUpUsage()).toBe(0);
    expect(await read()).toEqual(recorded);

    now = H1 + 2 * HOUR_MS + 6 * MINUTE; // H2 closed too
    expect(await stack.gateway.rollUpUsage()).toBeGreaterThanOrEqual(1);
    await redis.kill();
    await redis.restart(); // empty: nothing was persisted
    await stack.gateway.storesReady();
    expect(await read()).toEqual(recorded);
    // Another gateway process on that history and a Redis of its own (another prefix: empty) reads the same.
    const other = await startGateway(loadConfig(gatewayEnv(stack.subgraphUrls, { ...env, REDIS_KEY_PREFIX: 'elsewhere' })), silent, { now: () => now });
    try {
      expect(await read(other.url)).toEqual(recorded);
    } finally {
      await other.stop();
    }
  });
});
