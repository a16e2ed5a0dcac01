import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { HOUR_MS, hourOf, parseCellField } from '../gateway/usage/model.js';
import { createRedisUsageStore, MAX_CELLS_PER_SCRIPT, usageKeys } from '../gateway/usage/redis-store.js';
import { createLogger } from '../lib/logger.js';
import { postGraphQL } from './helpers/http.js';
import { HAS_REDIS_SERVER, startOwnRedis, type OwnRedis } from './helpers/redis.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

/*
 * Redis crashes under load and comes back: the usage recorder keeps what it could not flush and
 * retries the same batches, so after the restart Redis holds exactly one count per request: none
 * lost, none doubled. The test's own redis-server writes an fsynced append-only file, so what Redis
 * acknowledged before the crash survives it, as a production Redis with persistence would.
 */
let toy: Toy;
let redis: OwnRedis;
let gateway: RunningGateway;

beforeAll(async () => {
  if (!HAS_REDIS_SERVER) return;
  toy = await startToySubgraphs();
  redis = await startOwnRedis({ durable: true });
  gateway = await startGateway(
    // The recorder's own schedule (the longest allowed) stays out of the way: the test flushes when it means to.
    loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: toy.supergraphPath, REDIS_URL: redis.url, USAGE_FLUSH_MS: '60000', REDIS_COMMAND_TIMEOUT_MS: '200' }),
    createLogger('test', 'silent'),
  );
});
afterAll(async () => {
  await gateway?.stop();
  await toy?.stop();
  await redis?.stop();
});

async function countsInRedis(coordinate: string): Promise<number> {
  const store = createRedisUsageStore({ url: redis.url, keyPrefix: 'dpg', commandTimeoutMs: 2_000, retentionMs: 86_400_000 });
  try {
    const now = Date.now();
    // The toy bookshop's `books` subgraph serves Query.books: its counts are kept with that product's.
    const counts = await store.read('books', hourOf(now) - HOUR_MS, hourOf(now) + HOUR_MS);
    let total = 0;
    for (const cells of counts.values()) for (const [field, n] of cells) if (parseCellField(field)?.coordinate === coordinate) total += n;
    return total;
  } finally {
    await store.close();
  }
}

describe.skipIf(!HAS_REDIS_SERVER)('usage through a Redis crash', () => {
  it('loses and duplicates nothing', async () => {
    let answered = 0;
    const send = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const result = await postGraphQL(gateway.url, '{ books { id } }');
        expect(result.status).toBe(200); // rate limiting fails open; the request is served
        answered += 1;
      }
    };
    await send(20);
    // Mid-run: a batch is in flight when Redis dies (sent, its reply not back); it may have landed or
    // not, and the store may refuse it: either way the recorder keeps it and retries it as it was.
    const inFlightAtCrash = gateway.flushUsage().catch(() => undefined);
    await redis.kill();
    await inFlightAtCrash;
    await send(15); // pending behind that batch while Redis is down
    await redis.restart();
    await send(15);
    // The gateway reconnects on its own; once it has, the retried batch and the pending counts go out.
    await gateway.storesReady();
    await gateway.flushUsage();
    const counted = await countsInRedis('Query.books');
    expect(answered).toBe(50);
    expect(counted).toBe(50);
    // And it stays exact: later retries must not add anything.
    await gateway.flushUsage();
    expect(await countsInRedis('Query.books')).toBe(50);
  });
});

describe.skipIf(!HAS_REDIS_SERVER)('a retried batch', () => {
  it('is applied once, even when its first attempt landed (the reply was lost)', async () => {
    const store = createRedisUsageStore({ url: redis.url, keyPrefix: 'retry', commandTimeoutMs: 2_000, retentionMs: 86_400_000 });
    const hour = hourOf(Date.now());
    const batch = { id: 'batch-1', parts: [{ hour, product: 'p', cells: new Map([['Query.x\tweb\t\tok', 3]]) }] };
    await store.ready(); // a new client: writes are not queued while it connects
    await store.apply(batch);
    await store.apply(batch);
    await store.apply({ id: 'batch-2', parts: batch.parts });
    expect(await store.read('p', hour, hour + HOUR_MS)).toEqual(new Map([[hour, new Map([['Query.x\tweb\t\tok', 6]])]]));
    expect(await store.read('q', hour, hour + HOUR_MS)).toEqual(new Map());
    await store.close();
  });

  it('is applied in bounded units when a part is big (a script blocks its node), each unit once', async () => {
    const store = createRedisUsageStore({ url: redis.url, keyPrefix: 'big', commandTimeoutMs: 2_000, retentionMs: 86_400_000 });
    const hour = hourOf(Date.now());
    const cells = new Map(Array.from({ length: 2 * MAX_CELLS_PER_SCRIPT + 1 }, (_, i) => [`Query.f${i}\tweb\t\tok`, 1]));
    const batch = { id: 'big-1', parts: [{ hour, product: 'p', cells }] };
    await store.ready();
    await store.apply(batch);
    await store.apply(batch);
    const read = (await store.read('p', hour, hour + HOUR_MS)).get(hour)!;
    expect(read.size).toBe(cells.size);
    expect(new Set(read.values())).toEqual(new Set([1]));
    const client = new Redis(redis.url);
    try {
      expect((await client.smembers(usageKeys('big').batches(hour, 'p'))).sort()).toEqual(['big-1:0', 'big-1:1', 'big-1:2']);
    } finally {
      client.disconnect();
    }
    await store.close();
  });
});
