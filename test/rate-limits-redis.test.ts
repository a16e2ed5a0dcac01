import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadConfig } from '../gateway/config.js';
import { rateLimitKey } from '../gateway/limits/redis-store.js';
import { callerKey } from '../gateway/pipeline/demand-control.js';
import { DEV_ISSUER } from '../gateway/auth/authenticate.js';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { ANONYMOUS } from '../lib/principal.js';
import { codesOf, postGraphQL } from './helpers/http.js';
import { writeLimits } from './helpers/limits.js';
import { spawnTs, type Spawned } from './helpers/process.js';
import { HAS_REDIS_SERVER, sharedRedisUrl, startOwnRedis, type OwnRedis } from './helpers/redis.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

/*
 * Budgets shared through Redis: the machine's Redis (REDIS_URL, always set in CI) for the shared
 * budget tests, and a redis-server of this test's own, on a spare port, for the crash test.
 * Without either (a bare machine), this file has nothing to run against and says so.
 */
const machineRedis = sharedRedisUrl();
const canRun = Boolean(machineRedis) || HAS_REDIS_SERVER;
const BOOKS = '{ books { id title } }';
const silent = createLogger('test', 'silent');

let toy: Toy;
let own: OwnRedis | undefined;
let redisUrl: string;
const cleanup: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  if (!canRun) return;
  toy = await startToySubgraphs();
  own = HAS_REDIS_SERVER ? await startOwnRedis() : undefined;
  redisUrl = machineRedis ?? own!.url;
});
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
  if (canRun && machineRedis) {
    // The keys expire with their windows anyway; leave the machine's Redis as it was found.
    const redis = new Redis(machineRedis);
    for (const p of prefixes) {
      const [, keys] = await redis.scan('0', 'MATCH', `${p}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
    }
    redis.disconnect();
  }
  await toy?.stop();
  await own?.stop();
});

const prefixes: string[] = [];
const prefix = () => {
  const p = `t${randomBytes(4).toString('hex')}`;
  prefixes.push(p);
  return p;
};

function env(extra: Record<string, string>): Record<string, string> {
  return { NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: toy.supergraphPath, ...extra };
}

async function inProcessGateway(extra: Record<string, string>): Promise<RunningGateway> {
  const gateway = await startGateway(loadConfig(env(extra)), silent);
  cleanup.push(() => gateway.stop());
  return gateway;
}

describe.skipIf(!canRun)('rate limits in Redis', () => {
  it('N + k requests: exactly N allowed; the key is namespaced, hashed, hash-tagged and expires with its window', async () => {
    const keyPrefix = prefix();
    const gateway = await inProcessGateway({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: keyPrefix, RATE_LIMITS_FILE: writeLimits({ windowSeconds: 120, anonymous: { requests: 7, cost: 1_000_000 } }) });
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await postGraphQL(gateway.url, BOOKS)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(7);
    expect(statuses.slice(7)).toEqual([429, 429, 429]);

    const redis = new Redis(redisUrl);
    cleanup.push(() => redis.disconnect());
    const key = rateLimitKey(keyPrefix, callerKey(ANONYMOUS, '127.0.0.1'));
    expect(key).toMatch(new RegExp(`^${keyPrefix}:rl:v1:\\{[A-Za-z0-9_-]{22}\\}$`));
    expect(await redis.hgetall(key)).toEqual({ r: '7', c: '70' });
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120_000);
  });

  it('a client ceiling and its users\' budgets are spent atomically, in one Redis Cluster slot', async () => {
    const keyPrefix = prefix();
    const gateway = await inProcessGateway({
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      RATE_LIMITS_FILE: writeLimits({ default: { requests: 2, cost: 1_000_000 }, clientCeilings: { 'shared-app': { requests: 3, cost: 1_000_000 } } }),
    });
    const user = (subject: string) => mintDevToken({ roles: ['marketing-analyst'], clientId: 'shared-app', subject });
    const outcomes: string[] = [];
    for (const subject of ['a', 'a', 'a', 'b', 'b']) outcomes.push(`${subject}:${(await postGraphQL(gateway.url, BOOKS, { token: await user(subject) })).status}`);
    // a: its own 2, then refused by its own budget (nothing spent from the ceiling); b: the ceiling's last 1.
    expect(outcomes).toEqual(['a:200', 'a:200', 'a:429', 'b:200', 'b:429']);
    const redis = new Redis(redisUrl);
    cleanup.push(() => redis.disconnect());
    const [, keys] = await redis.scan('0', 'MATCH', `${keyPrefix}:rl:v1:*`, 'COUNT', 1000);
    const ceiling = rateLimitKey(keyPrefix, `client:${DEV_ISSUER}:shared-app`);
    const tag = ceiling.slice(ceiling.indexOf('{'));
    // The ceiling and each user's bucket (a, b): all three under the client's hash tag.
    expect(keys).toHaveLength(3);
    for (const key of keys) expect(key).toMatch(new RegExp(`^${keyPrefix}:rl:v1:${tag.replace(/[{}]/g, '\\$&')}(:[A-Za-z0-9_-]{22})?$`));
    expect(await redis.hgetall(ceiling)).toEqual({ r: '3', c: '30' });
    expect(await redis.hgetall(rateLimitKey(keyPrefix, callerKey({ kind: 'authenticated', issuer: DEV_ISSUER, subject: 'a', clientId: 'shared-app', roles: new Set(), scopes: new Set() }, ''), `client:${DEV_ISSUER}:shared-app`))).toEqual({ r: '2', c: '20' });
  });

  it('two gateway processes sharing Redis enforce one global budget (no doubling)', async () => {
    const shared = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix(), RATE_LIMITS_FILE: writeLimits({ anonymous: { requests: 6, cost: 1_000_000 } }), NODE_ENV: 'development', LOG_LEVEL: 'info' };
    const replicas: Spawned[] = [];
    for (let i = 0; i < 2; i++) {
      const replica = spawnTs('gateway/main.ts', ['--supergraph', toy.supergraphPath, '--port', '0'], shared);
      cleanup.push(() => replica.kill());
      replicas.push(replica);
    }
    const urls = await Promise.all(replicas.map(async (r) => String((await r.waitForLine((l) => l.msg === 'gateway ready')).url)));
    const allowed = [0, 0];
    for (let i = 0; i < 12; i++) {
      const result = await postGraphQL(urls[i % 2]!, BOOKS);
      if (result.status === 200) allowed[i % 2]! += 1;
      else expect(codesOf(result)).toEqual(['RATE_LIMITED']);
    }
    expect(allowed[0]! + allowed[1]!).toBe(6);
    expect(allowed).toEqual([3, 3]);
    for (const replica of replicas) replica.child.kill('SIGTERM');
    expect(await Promise.all(replicas.map((r) => r.exited))).toEqual([0, 0]);
  });
});

describe.skipIf(!HAS_REDIS_SERVER)('Redis crashes mid-run, then comes back', () => {
  it('fail-open keeps answering with in-process limits, fail-closed answers 503; both recover without a restart', async () => {
    const crashy = await startOwnRedis();
    cleanup.push(() => crashy.stop());
    const limits = writeLimits({ anonymous: { requests: 4, cost: 1_000_000 } });
    const common = { REDIS_URL: crashy.url, RATE_LIMITS_FILE: limits, REDIS_COMMAND_TIMEOUT_MS: '200' };
    const open = await inProcessGateway({ ...common, REDIS_KEY_PREFIX: prefix(), RATE_LIMIT_FAIL_MODE: 'open' });
    const closed = await inProcessGateway({ ...common, REDIS_KEY_PREFIX: prefix(), RATE_LIMIT_FAIL_MODE: 'closed' });
    expect((await postGraphQL(open.url, BOOKS)).status).toBe(200);
    expect((await postGraphQL(closed.url, BOOKS)).status).toBe(200);

    await crashy.kill();
    // Fail-open: answered, and still limited, now by this process alone (4 per window).
    const openStatuses = [];
    for (let i = 0; i < 6; i++) openStatuses.push((await postGraphQL(open.url, BOOKS)).status);
    expect(openStatuses).toEqual([200, 200, 200, 200, 429, 429]);
    // Fail-closed: 503 with a valid GraphQL body and Retry-After, never a hang.
    const refused = await postGraphQL(closed.url, BOOKS);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'SERVICE_UNAVAILABLE' } }] });

    await crashy.restart();
    // The gateway's clients reconnect on their own; this resolves once they have (no restart, no retry here).
    await closed.storesReady();
    const recovered = (await postGraphQL(closed.url, BOOKS)).status === 200 ? 1 : 0;
    expect(recovered).toBe(1);
    // Back on Redis: the restarted (empty) server holds the closed gateway's budget again.
    const redis = new Redis(crashy.url);
    cleanup.push(() => redis.disconnect());
    const keys = await redis.scan('0', 'MATCH', '*:rl:v1:*', 'COUNT', 1000);
    expect(keys[1].length).toBeGreaterThanOrEqual(1);
  });
});

it.skipIf(canRun)('needs Redis: set REDIS_URL or install redis-server', () => {
  // A bare machine has nothing to run these tests against; CI always has REDIS_URL.
  expect(canRun).toBe(false);
});
