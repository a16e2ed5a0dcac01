import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { DEFAULT_APQ_TTL_S } from '../gateway/config.js';
import { apqKey } from '../gateway/documents/persisted-queries.js';
import { spawnTs, type Spawned } from './helpers/process.js';
import { HAS_REDIS_SERVER, sharedRedisUrl, startOwnRedis, type OwnRedis } from './helpers/redis.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

/*
 * Automatic persisted queries shared by replicas: two real gateway processes on one Redis (the
 * machine's, REDIS_URL, as in CI; else a redis-server of this test's own). A query registered on
 * one answers by hash on the other; the registration is a versioned, prefixed key with a TTL.
 */
const machineRedis = sharedRedisUrl();
const canRun = Boolean(machineRedis) || HAS_REDIS_SERVER;
const QUERY = '{ books { id title } }';
const HASH = createHash('sha256').update(QUERY).digest('hex');

let toy: Toy;
let own: OwnRedis | undefined;
let redisUrl: string;
const keyPrefix = `t${randomBytes(4).toString('hex')}`;
const replicas: Spawned[] = [];

beforeAll(async () => {
  if (!canRun) return;
  toy = await startToySubgraphs();
  own = machineRedis ? undefined : await startOwnRedis();
  redisUrl = machineRedis ?? own!.url;
});
afterAll(async () => {
  for (const replica of replicas) replica.kill();
  if (canRun) {
    const redis = new Redis(redisUrl);
    await redis.del(apqKey(keyPrefix, HASH));
    redis.disconnect();
  }
  await toy?.stop();
  await own?.stop();
});

async function send(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

describe.skipIf(!canRun)('automatic persisted queries in Redis', () => {
  it('registered on one gateway process, found by hash on the other', async () => {
    const env = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: keyPrefix, NODE_ENV: 'development', LOG_LEVEL: 'info' };
    for (let i = 0; i < 2; i++) replicas.push(spawnTs('gateway/main.ts', ['--supergraph', toy.supergraphPath, '--port', '0'], env));
    const [a, b] = await Promise.all(replicas.map(async (r) => String((await r.waitForLine((l) => l.msg === 'gateway ready')).url)));
    const byHash = { extensions: { persistedQuery: { version: 1, sha256Hash: HASH } } };
    const data = { data: { books: [{ id: '1', title: 'Dune' }, { id: '2', title: 'Emma' }] } };

    expect(await send(b!, byHash)).toEqual({ status: 200, body: { errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] } });
    expect(await send(a!, { query: QUERY, ...byHash })).toEqual({ status: 200, body: data });
    expect(await send(b!, byHash)).toEqual({ status: 200, body: data });

    const redis = new Redis(redisUrl);
    try {
      const key = apqKey(keyPrefix, HASH);
      expect(key).toBe(`${keyPrefix}:apq:v1:${HASH}`);
      expect(await redis.get(key)).toBe(QUERY);
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(DEFAULT_APQ_TTL_S * 1000);
    } finally {
      redis.disconnect();
    }
    for (const replica of replicas) replica.child.kill('SIGTERM');
    expect(await Promise.all(replicas.map((r) => r.exited))).toEqual([0, 0]);
    // Two gateway processes starting through tsx on a shared 2-core machine.
  }, 120_000);
});

it.skipIf(canRun)('needs Redis: set REDIS_URL or install redis-server', () => {
  // A bare machine has nothing to run these tests against; CI always has REDIS_URL.
  expect(canRun).toBe(false);
});
