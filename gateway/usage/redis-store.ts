import { createRedisClient, whenReady, type RedisConnection } from '../../lib/redis-client.js';
import { randomUUID } from 'node:crypto';
import { coordinateOfField, HOUR_MS, type RollableUsageStore, type UsageCounts, type UsagePart, type UsageSnapshot } from './model.js';

/**
 * Applies one unit of a flush (cells of one hour of one product, and the operation cells of its
 * coordinates), atomically, at most once: it first adds the batch's id to the set of ids already
 * applied to that hour; an id already there means an earlier attempt landed (its reply was lost),
 * and nothing is counted again. Every key shares one hash tag, so on a Redis Cluster the script
 * touches a single slot, and a failover replicates its effects together: counts and their id are
 * kept or lost as one.
 * KEYS: the applied-ids set, then the hashes the unit writes. ARGV: unit id, hash TTL (s), ids TTL
 * (s), then (key index, field, count) triples, the key index counting from 2 (KEYS[2] is the first hash).
 */
const APPLY = `
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
for i = 4, #ARGV, 3 do
  redis.call('HINCRBY', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
end
for k = 2, #KEYS do
  redis.call('EXPIRE', KEYS[k], tonumber(ARGV[2]))
end
return 1
`;

/**
 * Sets one hour of one product aside for the roll-up, atomically (one slot): renames its counts'
 * hash and its fields' operation hashes to snapshot keys and records the snapshot's id. A snapshot
 * not yet released is returned as it is (a roll-up stopped half way resumes it, same id); nothing
 * is taken twice. Later counts of that hour start new live hashes, rolled up on a later run.
 * KEYS: the rolling marker, the live hour hash, the snapshot hour hash, the snapshot's coordinates
 * set, then (live operations hash, snapshot operations hash) pairs. ARGV: new id, marker TTL (s),
 * then the coordinates of the pairs, in order. Returns the snapshot's id, or false when there is nothing.
 */
const TAKE = `
local pending = redis.call('GET', KEYS[1])
if pending then return pending end
local took = false
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[3])
  took = true
end
for i = 5, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('RENAME', KEYS[i], KEYS[i + 1])
    redis.call('SADD', KEYS[4], ARGV[3 + (i - 5) / 2])
    redis.call('EXPIRE', KEYS[4], tonumber(ARGV[2]))
    took = true
  end
end
if not took then return false end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
return ARGV[1]
`;

/**
 * Drops a snapshot the history holds: only the one named (a marker naming another id is left alone).
 * KEYS: the rolling marker, then every snapshot key. ARGV: the id.
 */
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', unpack(KEYS))
return 1
`;

/** How long an applied batch id is remembered: far longer than any retry of it. */
const BATCH_ID_TTL_S = 86_400;

/**
 * Cells (counts and operation cells together) one script applies at most: a script blocks its Redis node while it runs, and rate-limit
 * checks on that node have a 250 ms deadline. A bigger part is applied in several units, each with
 * its own id (`<batch id>:<n>`), cut the same way on every retry (a batch's parts never change).
 */
export const MAX_CELLS_PER_SCRIPT = 1_000;

export interface RedisUsageStoreOptions {
  url: string;
  keyPrefix: string;
  commandTimeoutMs: number;
  retentionMs: number;
}

type ApplyingRedis = RedisConnection & {
  dpgUsageApply(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  dpgUsageTake(numberOfKeys: number, ...args: (string | number)[]): Promise<string | null>;
  dpgUsageRelease(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
};

/** One script's worth of a part: the hashes it writes and its (key index, field, count) triples. */
interface Unit {
  readonly keys: string[];
  /** key -> its index in `keys` */
  readonly index: Map<string, number>;
  readonly triples: (string | number)[];
}

/**
 * Every usage key, built here only. v2: one hash tag per hour and product, `{<hour ms>:<product>}`,
 * so a cluster spreads them over its slots, and a view reads only the product it shows:
 *  - `<prefix>:usage:v2:h:{<hour>:<product>}`: hash, field = cell, value = count; expires a retention
 *    (plus an hour) after its last write.
 *  - `<prefix>:usage:v2:o:{<hour>:<product>}:<coordinate>`: hash, field = operation cell (operation
 *    name, document hash, client), value = requests: which operations read that field that hour, so
 *    reading one field's operations reads that field's hashes only. Expires with the hour's counts.
 *    Added within v2 (the counts' hashes are unchanged): hours recorded before it have no operations.
 *  - `<prefix>:usage:v2:batches:{<hour>:<product>}`: set of the batch ids applied to that hour's
 *    hashes; expires a day after its last write.
 *  - With a usage history (USAGE_DATABASE_URL), a closed hour being rolled up:
 *    `<prefix>:usage:v2:rolling:{<hour>:<product>}` (the snapshot's id), `...:r:{<hour>:<product>}`
 *    (its counts), `...:ro:{<hour>:<product>}:<coordinate>` (its operations) and
 *    `...:rc:{<hour>:<product>}` (the coordinates that have them); deleted once the history holds
 *    them, else expiring with the retention.
 * v1 (`<prefix>:usage:v1:{u}:...`, every hour under the one tag `{u}`) is no longer read or written:
 * its keys expire on their own within the retention.
 * The product is URI-encoded in the tag (a brace in a name would end the tag early).
 */
export function usageKeys(prefix: string) {
  const tag = (hour: number, product: string) => `{${hour}:${encodeURIComponent(product)}}`;
  return {
    hour: (hour: number, product: string) => `${prefix}:usage:v2:h:${tag(hour, product)}`,
    operations: (hour: number, product: string, coordinate: string) => `${prefix}:usage:v2:o:${tag(hour, product)}:${coordinate}`,
    rolling: (hour: number, product: string) => `${prefix}:usage:v2:rolling:${tag(hour, product)}`,
    takenHour: (hour: number, product: string) => `${prefix}:usage:v2:r:${tag(hour, product)}`,
    takenOperations: (hour: number, product: string, coordinate: string) => `${prefix}:usage:v2:ro:${tag(hour, product)}:${coordinate}`,
    takenCoordinates: (hour: number, product: string) => `${prefix}:usage:v2:rc:${tag(hour, product)}`,
    batches: (hour: number, product: string) => `${prefix}:usage:v2:batches:${tag(hour, product)}`,
    /** A SCAN pattern matching every hour hash (of every product) under this prefix. */
    allHours: `${prefix}:usage:v2:h:*`,
  };
}

/**
 * The units a part is applied in: its cells, then its operation cells, in order, MAX_CELLS_PER_SCRIPT
 * at a time (the same cut on every retry: a batch's parts never change).
 */
function unitsOf(part: UsagePart, keys: ReturnType<typeof usageKeys>): Unit[] {
  const units: Unit[] = [];
  let unit: Unit = { keys: [], index: new Map(), triples: [] };
  const add = (key: string, field: string, count: number) => {
    let index = unit.index.get(key);
    if (index === undefined) unit.index.set(key, (index = unit.keys.push(key) - 1));
    // KEYS[1] is the applied-ids set: the hashes start at 2.
    unit.triples.push(index + 2, field, count);
    if (unit.triples.length === 3 * MAX_CELLS_PER_SCRIPT) {
      units.push(unit);
      unit = { keys: [], index: new Map(), triples: [] };
    }
  };
  const hourKey = keys.hour(part.hour, part.product);
  for (const [field, count] of part.cells) add(hourKey, field, count);
  for (const [coordinate, ops] of part.operations ?? []) {
    const key = keys.operations(part.hour, part.product, coordinate);
    for (const [field, count] of ops) add(key, field, count);
  }
  if (unit.triples.length > 0) units.push(unit);
  return units;
}

export function createRedisUsageStore(options: RedisUsageStoreOptions): RollableUsageStore {
  // A flush may carry many cells: give it more time than a rate-limit check, still bounded.
  const redis = createRedisClient(options.url, { commandTimeoutMs: Math.max(options.commandTimeoutMs, 2_000) }) as ApplyingRedis;
  redis.on('error', () => undefined); // failures surface as rejected commands; the recorder retries
  redis.defineCommand('dpgUsageApply', { lua: APPLY });
  redis.defineCommand('dpgUsageTake', { lua: TAKE });
  redis.defineCommand('dpgUsageRelease', { lua: RELEASE });
  const keys = usageKeys(options.keyPrefix);
  /** Reads may wait briefly for a connection (a view opened right after start); writes are retried instead. */
  const connected = () => whenReady(redis);
  const ttlS = Math.ceil((options.retentionMs + HOUR_MS) / 1000);
  return {
    ready: connected,
    async apply(batch) {
      // Every unit goes out at once, each to the node of its slot. A unit that fails leaves the
      // others applied; the recorder retries the whole batch, and what landed is skipped by its id.
      const sent = batch.parts.flatMap((part) =>
        unitsOf(part, keys).map((unit, n) =>
          redis.dpgUsageApply(1 + unit.keys.length, keys.batches(part.hour, part.product), ...unit.keys, `${batch.id}:${n}`, ttlS, BATCH_ID_TTL_S, ...unit.triples),
        ),
      );
      const failed = (await Promise.allSettled(sent)).flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
      if (failed.length > 0) throw new AggregateError(failed, `${failed.length} of ${sent.length} usage units not applied (the batch is retried)`);
    },
    async read(product, fromHour, toHour) {
      await connected();
      const hours: number[] = [];
      for (let hour = fromHour; hour < toHour; hour += HOUR_MS) hours.push(hour);
      // One HGETALL per hour, sent together: on a cluster each goes to its own slot's node (a
      // pipeline would have to stay within one slot).
      const results = await Promise.all(hours.map((hour) => redis.hgetall(keys.hour(hour, product))));
      const out: UsageCounts = new Map();
      results.forEach((cells, i) => {
        if (Object.keys(cells).length === 0) return;
        out.set(hours[i]!, new Map(Object.entries(cells).map(([field, count]) => [field, Number(count)])));
      });
      return out;
    },
    async readOperations(product, coordinate, fromHour, toHour) {
      await connected();
      const hours: number[] = [];
      for (let hour = fromHour; hour < toHour; hour += HOUR_MS) hours.push(hour);
      const results = await Promise.all(hours.map((hour) => redis.hgetall(keys.operations(hour, product, coordinate))));
      const out: UsageCounts = new Map();
      results.forEach((ops, i) => {
        if (Object.keys(ops).length === 0) return;
        out.set(hours[i]!, new Map(Object.entries(ops).map(([field, count]) => [field, Number(count)])));
      });
      return out;
    },
    async hoursWithCounts(product, fromHour, toHour) {
      await connected();
      const hours: number[] = [];
      for (let hour = fromHour; hour < toHour; hour += HOUR_MS) hours.push(hour);
      // Both keys share the hour's tag: one EXISTS per hour, on its slot's node.
      const found = await Promise.all(hours.map((hour) => redis.exists(keys.hour(hour, product), keys.rolling(hour, product))));
      return hours.filter((_, i) => found[i]! > 0);
    },
    async takeHour(hour, product) {
      await connected();
      // The fields whose operations go with the counts: the coordinates of the hour's cells (a
      // field read by an operation was counted in the same flush unit's part).
      const coordinates = [...new Set((await redis.hkeys(keys.hour(hour, product))).map(coordinateOfField))];
      const pairs = coordinates.flatMap((c) => [keys.operations(hour, product, c), keys.takenOperations(hour, product, c)]);
      const id = await redis.dpgUsageTake(
        4 + pairs.length,
        keys.rolling(hour, product), keys.hour(hour, product), keys.takenHour(hour, product), keys.takenCoordinates(hour, product), ...pairs,
        randomUUID(), ttlS, ...coordinates,
      );
      if (!id) return undefined;
      const [cells, taken] = await Promise.all([redis.hgetall(keys.takenHour(hour, product)), redis.smembers(keys.takenCoordinates(hour, product))]);
      const operations = new Map<string, Map<string, number>>();
      const opsOf = await Promise.all(taken.map((c) => redis.hgetall(keys.takenOperations(hour, product, c))));
      taken.forEach((coordinate, i) => operations.set(coordinate, new Map(Object.entries(opsOf[i]!).map(([field, count]) => [field, Number(count)]))));
      return { id, hour, product, cells: new Map(Object.entries(cells).map(([field, count]) => [field, Number(count)])), operations } satisfies UsageSnapshot;
    },
    async releaseHour(snapshot) {
      const { hour, product } = snapshot;
      const snapshotKeys = [keys.takenHour(hour, product), keys.takenCoordinates(hour, product), ...[...snapshot.operations.keys()].map((c) => keys.takenOperations(hour, product, c))];
      await redis.dpgUsageRelease(1 + snapshotKeys.length, keys.rolling(hour, product), ...snapshotKeys, snapshot.id);
    },
    async close() {
      redis.disconnect();
    },
  };
}
