import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ISSUER } from '../gateway/auth/authenticate.js';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { loadConfig } from '../gateway/config.js';
import { rateLimitKey } from '../gateway/limits/redis-store.js';
import { callerKey } from '../gateway/pipeline/demand-control.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { HOUR_MS, hourOf, parseCellField, type UsagePart } from '../gateway/usage/model.js';
import { createRedisUsageStore, usageKeys } from '../gateway/usage/redis-store.js';
import { createLogger } from '../lib/logger.js';
import { ANONYMOUS } from '../lib/principal.js';
import { codesOf, postGraphQL } from './helpers/http.js';
import { writeLimits } from './helpers/limits.js';
import { HAS_REDIS_CLUSTER_TOOLS, startOwnRedisCluster, type ClusterNode, type OwnRedisCluster } from './helpers/redis-cluster.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

/*
 * Rate limits and usage on a real Redis Cluster: three masters of this test's own (the machine's
 * redis-server, spare ports, nothing on disk), two gateways on it. One budget per caller across both
 * gateways, a client ceiling spent atomically with its users' budgets in its slot, usage counted
 * exactly once with keys spread over slots and nodes, and a flush that lands only in part retried
 * without counting anything twice.
 */
const BOOKS = '{ books { id title rating } }';
const RETENTION_DAYS = 2;
const silent = createLogger('test', 'silent');

let toy: Toy;
let cluster: OwnRedisCluster;
const gateways: RunningGateway[] = [];
const keyPrefix = `c${randomBytes(4).toString('hex')}`;
// One usage hour for the whole file, whatever the wall clock does meanwhile.
const frozen = Date.now();
const hour = hourOf(frozen);

beforeAll(async () => {
  if (!HAS_REDIS_CLUSTER_TOOLS) return;
  [toy, cluster] = await Promise.all([startToySubgraphs(), startOwnRedisCluster(3)]);
  const limits = writeLimits({
    windowSeconds: 600,
    anonymous: { requests: 7, cost: 1_000_000 },
    default: { requests: 3, cost: 1_000_000 },
    clients: { 'usage-app': { requests: 1_000, cost: 1_000_000 } },
    clientCeilings: { 'shared-app': { requests: 4, cost: 1_000_000 } },
  });
  for (let i = 0; i < 2; i++) {
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: '0',
      LOG_LEVEL: 'silent',
      SUPERGRAPH: toy.supergraphPath,
      REDIS_URL: cluster.url,
      REDIS_KEY_PREFIX: keyPrefix,
      RATE_LIMITS_FILE: limits,
      RATE_LIMIT_FAIL_MODE: 'closed',
      USAGE_RETENTION_DAYS: String(RETENTION_DAYS),
      // The test flushes when it means to.
      USAGE_FLUSH_MS: '60000',
    });
    gateways.push(await startGateway(config, silent, { now: () => frozen }));
  }
  await Promise.all(gateways.map((g) => g.storesReady()));
}, 60_000);

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await toy?.stop();
  await cluster?.stop();
});

/** Sends `count` requests, alternating between the two gateways; per gateway, how many were answered 200 (the rest must be RATE_LIMITED). */
async function alternate(count: number, query: string, options: { token?: string; headers?: Record<string, string> } = {}): Promise<[number, number]> {
  const allowed: [number, number] = [0, 0];
  for (let i = 0; i < count; i++) {
    const result = await postGraphQL(gateways[i % 2]!.url, query, options);
    if (result.status === 200) allowed[i % 2 === 0 ? 0 : 1] += 1;
    else expect(codesOf(result)).toEqual(['RATE_LIMITED']);
  }
  return allowed;
}

const token = (subject: string, clientId = 'cluster-test') => mintDevToken({ subject, clientId });
const sum = (pair: readonly number[]) => pair.reduce((a, b) => a + b, 0);

/** Nodes holding at least one of these keys. */
async function nodesOf(keys: readonly string[]): Promise<Set<ClusterNode>> {
  return new Set(await Promise.all(keys.map((key) => cluster.nodeOf(key))));
}

describe.skipIf(!HAS_REDIS_CLUSTER_TOOLS)('rate limits on a Redis Cluster', () => {
  it('two gateways enforce one budget per caller: exactly N allowed in total', async () => {
    // Anonymous callers from one address share one budget (7), whichever gateway they reach.
    const anonymous = await alternate(12, BOOKS);
    expect(sum(anonymous)).toBe(7);
    expect(anonymous).toEqual([4, 3]);
    // Six principals, each its own budget of 3, each key in its own slot.
    const subjects = ['ana', 'ben', 'cleo', 'dev', 'eve', 'finn'];
    for (const subject of subjects) expect(sum(await alternate(5, BOOKS, { token: await token(subject) })), subject).toBe(3);

    const keys = subjects.map((subject) => rateLimitKey(keyPrefix, `principal:${DEV_ISSUER}:${subject}`));
    const held = await cluster.keysByNode(`${keyPrefix}:rl:v1:*`);
    const everywhere = [...held.values()].flat();
    for (const key of [...keys, rateLimitKey(keyPrefix, callerKey(ANONYMOUS, '127.0.0.1'))]) expect(everywhere).toContain(key);
    // Spread: the budgets live on more than one node, each where its slot is.
    expect((await nodesOf(keys)).size).toBeGreaterThan(1);
    for (const [node, found] of held) for (const key of found) expect(await cluster.nodeOf(key)).toBe(node);
    const node = await cluster.nodeOf(keys[0]!);
    expect(await node.redis.hgetall(keys[0]!)).toEqual({ r: '3', c: expect.any(String) });
    expect(await node.redis.pttl(keys[0]!)).toBeGreaterThan(0);
  });

  it("spends a client ceiling and its users' budgets in one script, in the ceiling's slot", async () => {
    // Own budgets of 3, a ceiling of 4 for all users of shared-app together, across both gateways.
    const outcomes: string[] = [];
    for (const [i, subject] of ['a', 'a', 'a', 'a', 'b', 'b', 'c'].entries()) {
      const result = await postGraphQL(gateways[i % 2]!.url, BOOKS, { token: await token(subject, 'shared-app') });
      outcomes.push(`${subject}:${result.status}`);
    }
    // a: its own 3, then refused by its own budget (nothing spent from the ceiling); b: the ceiling's last 1.
    expect(outcomes).toEqual(['a:200', 'a:200', 'a:200', 'a:429', 'b:200', 'b:429', 'c:429']);
    const ceiling = rateLimitKey(keyPrefix, `client:${DEV_ISSUER}:shared-app`);
    const users = ['a', 'b', 'c'].map((s) => rateLimitKey(keyPrefix, `principal:${DEV_ISSUER}:${s}`, `client:${DEV_ISSUER}:shared-app`));
    const slots = await Promise.all([ceiling, ...users].map((key) => cluster.nodes[0]!.redis.cluster('KEYSLOT', key)));
    expect(new Set(slots).size).toBe(1);
    const node = await cluster.nodeOf(ceiling);
    expect(await node.redis.hget(ceiling, 'r')).toBe('4');
    expect(await Promise.all(users.map((key) => node.redis.hget(key, 'r')))).toEqual(['3', '1', null]);
  });
});

describe.skipIf(!HAS_REDIS_CLUSTER_TOOLS)('usage on a Redis Cluster', () => {
  it('two gateways count every operation exactly once, in hashes per hour and product spread over the slots', async () => {
    const headers = { 'apollographql-client-name': 'cluster-usage' };
    const usageToken = await token('usage-reader', 'usage-app');
    expect(await alternate(10, BOOKS, { token: usageToken, headers })).toEqual([5, 5]);
    expect(await alternate(7, '{ books { id } }', { token: usageToken, headers })).toEqual([4, 3]);
    await Promise.all(gateways.map((g) => g.flushUsage()));

    const store = createRedisUsageStore({ url: cluster.url, keyPrefix, commandTimeoutMs: 2_000, retentionMs: RETENTION_DAYS * 86_400_000 });
    try {
      const counted = async () => {
        const out: Record<string, number> = {};
        // Query.books and Book.id/title are the books product's; Book.rating the reviews product's.
        for (const product of ['books', 'reviews']) {
          for (const cells of (await store.read(product, hour, hour + HOUR_MS)).values()) {
            for (const [field, n] of cells) {
              const cell = parseCellField(field);
              if (cell?.client === 'cluster-usage' && cell.outcome === 'ok') out[`${product} ${cell.coordinate}`] = (out[`${product} ${cell.coordinate}`] ?? 0) + n;
            }
          }
        }
        return out;
      };
      const expected = { 'books Query.books': 17, 'books Book.id': 17, 'books Book.title': 10, 'reviews Book.rating': 10 };
      expect(await counted()).toEqual(expected);
      // Flushing again (nothing new, nothing in flight) adds nothing.
      await Promise.all(gateways.map((g) => g.flushUsage()));
      expect(await counted()).toEqual(expected);
    } finally {
      await store.close();
    }

    // The whole file's usage: one hash per product this hour, in different slots, each with its
    // applied-batches set and its fields' operation hashes in the same slot; every key expires.
    const keys = usageKeys(keyPrefix);
    const operationKeys = {
      books: ['Book.id', 'Book.title', 'Query.books'].map((c) => keys.operations(hour, 'books', c)),
      reviews: [keys.operations(hour, 'reviews', 'Book.rating')],
    };
    const hashes = [...(await cluster.keysByNode(`${keyPrefix}:usage:*`)).values()].flat().sort();
    expect(hashes).toEqual([keys.batches(hour, 'books'), keys.batches(hour, 'reviews'), keys.hour(hour, 'books'), keys.hour(hour, 'reviews'), ...operationKeys.books, ...operationKeys.reviews].sort());
    const slotOf = (key: string) => cluster.nodes[0]!.redis.cluster('KEYSLOT', key);
    expect(await slotOf(keys.hour(hour, 'books'))).not.toBe(await slotOf(keys.hour(hour, 'reviews')));
    for (const product of ['books', 'reviews']) {
      expect(await slotOf(keys.batches(hour, product))).toBe(await slotOf(keys.hour(hour, product)));
      const node = await cluster.nodeOf(keys.hour(hour, product));
      const hashTtl = await node.redis.ttl(keys.hour(hour, product));
      expect(hashTtl).toBeGreaterThan(RETENTION_DAYS * 86_400 - 60);
      expect(hashTtl).toBeLessThanOrEqual(RETENTION_DAYS * 86_400 + 3_600);
      const idsTtl = await node.redis.ttl(keys.batches(hour, product));
      expect(idsTtl).toBeGreaterThan(0);
      expect(idsTtl).toBeLessThanOrEqual(86_400);
      for (const key of operationKeys[product as 'books' | 'reviews']) {
        expect(await slotOf(key)).toBe(await slotOf(keys.hour(hour, product)));
        expect(await node.redis.ttl(key)).toBeGreaterThan(RETENTION_DAYS * 86_400 - 60);
      }
    }
  });

  it('a batch spanning slots: a retry applies only the parts that did not land, and skips those that did, replies lost or not', async () => {
    const prefix = `${keyPrefix}-retry`;
    const store = createRedisUsageStore({ url: cluster.url, keyPrefix: prefix, commandTimeoutMs: 2_000, retentionMs: RETENTION_DAYS * 86_400_000 });
    const at = Date.UTC(2026, 0, 1, 12); // a fixed hour: the same slots on every run
    const part = (product: string, n: number): UsagePart => ({ hour: at, product, cells: new Map([[`Query.${product}\tweb\t\tok`, n]]) });
    const parts = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'].map((product, i) => part(product, i + 1));
    const keys = usageKeys(prefix);
    const nodes = await nodesOf(parts.map((p) => keys.hour(p.hour, p.product)));
    expect(nodes.size).toBeGreaterThan(1);
    const totals = async () => {
      const out: Record<string, number> = {};
      for (const p of parts) for (const cells of (await store.read(p.product, at, at + HOUR_MS)).values()) for (const [field, n] of cells) out[field.split('\t')[0]!] = n;
      return out;
    };
    const once = { 'Query.alpha': 1, 'Query.beta': 2, 'Query.gamma': 3, 'Query.delta': 4, 'Query.epsilon': 5 };
    try {
      await store.ready();
      // The first attempt reached some slots only (two parts landed), then the whole batch is retried.
      await store.apply({ id: 'b1', parts: [parts[0]!, parts[3]!] });
      await store.apply({ id: 'b1', parts });
      expect(await totals()).toEqual(once);

      // A node stops answering writes mid-flush: its part times out (the attempt fails), while the
      // others land; the paused script still runs once the node resumes (a lost reply). The retry
      // then lands nothing twice.
      const paused = await cluster.nodeOf(keys.hour(at, 'beta'));
      await paused.redis.client('PAUSE', 60_000, 'WRITE');
      let failure: unknown;
      try {
        await store.apply({ id: 'b2', parts });
      } catch (error) {
        failure = error;
      } finally {
        await paused.redis.client('UNPAUSE');
      }
      expect(failure).toBeInstanceOf(AggregateError);
      // Each part is one unit (one cell): exactly the paused node's parts failed.
      const onPaused = (await Promise.all(parts.map(async (p) => (await cluster.nodeOf(keys.hour(p.hour, p.product))) === paused))).filter(Boolean);
      expect((failure as AggregateError).errors).toHaveLength(onPaused.length);
      expect(onPaused.length).toBeLessThan(parts.length);
      await store.apply({ id: 'b2', parts });
      await store.apply({ id: 'b2', parts });
      expect(await totals()).toEqual(Object.fromEntries(Object.entries(once).map(([k, v]) => [k, 2 * v])));
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!HAS_REDIS_CLUSTER_TOOLS)('a node of the cluster crashes', () => {
  it("only the callers in that node's slots get its fail mode (503 when closed); the others are served from theirs", async () => {
    const subjects = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8'];
    const nodeOfSubject = new Map(await Promise.all(subjects.map(async (s) => [s, await cluster.nodeOf(rateLimitKey(keyPrefix, `principal:${DEV_ISSUER}:${s}`))] as const)));
    const victim = nodeOfSubject.get('k1')!;
    const survivor = subjects.find((s) => nodeOfSubject.get(s) !== victim);
    expect(survivor, 'some subject lives on another node').toBeDefined();
    await victim.kill();
    const onVictim = await postGraphQL(gateways[0]!.url, BOOKS, { token: await token('k1') });
    expect(onVictim.status).toBe(503);
    expect(codesOf(onVictim)).toEqual(['SERVICE_UNAVAILABLE']);
    for (const gateway of gateways) expect((await postGraphQL(gateway.url, BOOKS, { token: await token(survivor!) })).status).toBe(200);
  });
});

it.skipIf(HAS_REDIS_CLUSTER_TOOLS)('needs redis-server and redis-cli to start a Redis Cluster of its own', () => {
  // A bare machine cannot run these; CI installs Redis, whose redis-server runs in cluster mode too.
  expect(HAS_REDIS_CLUSTER_TOOLS).toBe(false);
});
