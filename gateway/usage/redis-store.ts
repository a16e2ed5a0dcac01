import { createRedisClient, whenReady, type RedisConnection } from '../../lib/redis-client.js';
import { HOUR_MS, type UsageCounts, type UsagePart, type UsageStore } from './model.js';

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

type ApplyingRedis = RedisConnection & { dpgUsageApply(numberOfKeys: number, ...args: (string | number)[]): Promise<number> };

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
 * v1 (`<prefix>:usage:v1:{u}:...`, every hour under the one tag `{u}`) is no longer read or written:
 * its keys expire on their own within the retention.
 * The product is URI-encoded in the tag (a brace in a name would end the tag early).
 */
export function usageKeys(prefix: string) {
  const tag = (hour: number, product: string) => `{${hour}:${encodeURIComponent(product)}}`;
  return {
    hour: (hour: number, product: string) => `${prefix}:usage:v2:h:${tag(hour, product)}`,
    operations: (hour: number, product: string, coordinate: string) => `${prefix}:usage:v2:o:${tag(hour, product)}:${coordinate}`,
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

export function createRedisUsageStore(options: RedisUsageStoreOptions): UsageStore {
  // A flush may carry many cells: give it more time than a rate-limit check, still bounded.
  const redis = createRedisClient(options.url, { commandTimeoutMs: Math.max(options.commandTimeoutMs, 2_000) }) as ApplyingRedis;
  redis.on('error', () => undefined); // failures surface as rejected commands; the recorder retries
  redis.defineCommand('dpgUsageApply', { lua: APPLY });
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
    async close() {
      redis.disconnect();
    },
  };
}
