import { createRedisClient, whenReady, type RedisConnection } from '../../lib/redis-client.js';
import { HOUR_MS, type UsageCounts, type UsagePart, type UsageStore } from './model.js';

/**
 * Applies one unit of a flush (cells of one hour of one product), atomically, at most once: it
 * first adds the batch's id to the set of ids already applied to that hash; an id already there
 * means an earlier attempt landed (its reply was lost), and nothing is counted again. Both keys
 * share one hash tag, so on a Redis Cluster the script touches a single slot, and a failover
 * replicates its effects together: counts and their id are kept or lost as one.
 * KEYS: the hash, its applied-ids set. ARGV: unit id, hash TTL (s), ids TTL (s), then field, count pairs.
 */
const APPLY = `
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
for i = 4, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
`;

/** How long an applied batch id is remembered: far longer than any retry of it. */
const BATCH_ID_TTL_S = 86_400;

/**
 * Cells one script applies at most: a script blocks its Redis node while it runs, and rate-limit
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

/**
 * Every usage key, built here only. v2: one hash tag per hour and product, `{<hour ms>:<product>}`,
 * so a cluster spreads them over its slots, and a view reads only the product it shows:
 *  - `<prefix>:usage:v2:h:{<hour>:<product>}`: hash, field = cell, value = count; expires a retention
 *    (plus an hour) after its last write.
 *  - `<prefix>:usage:v2:batches:{<hour>:<product>}`: set of the batch ids applied to that hash; expires a
 *    day after its last write.
 * v1 (`<prefix>:usage:v1:{u}:...`, every hour under the one tag `{u}`) is no longer read or written:
 * its keys expire on their own within the retention.
 * The product is URI-encoded in the tag (a brace in a name would end the tag early).
 */
export function usageKeys(prefix: string) {
  const tag = (hour: number, product: string) => `{${hour}:${encodeURIComponent(product)}}`;
  return {
    hour: (hour: number, product: string) => `${prefix}:usage:v2:h:${tag(hour, product)}`,
    batches: (hour: number, product: string) => `${prefix}:usage:v2:batches:${tag(hour, product)}`,
    /** A SCAN pattern matching every hour hash (of every product) under this prefix. */
    allHours: `${prefix}:usage:v2:h:*`,
  };
}

/** The units a part is applied in: its cells in order, MAX_CELLS_PER_SCRIPT at a time. */
function unitsOf(part: UsagePart): (string | number)[][] {
  const units: (string | number)[][] = [];
  let unit: (string | number)[] = [];
  for (const [field, count] of part.cells) {
    unit.push(field, count);
    if (unit.length === 2 * MAX_CELLS_PER_SCRIPT) {
      units.push(unit);
      unit = [];
    }
  }
  if (unit.length > 0) units.push(unit);
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
        unitsOf(part).map((cells, n) => redis.dpgUsageApply(2, keys.hour(part.hour, part.product), keys.batches(part.hour, part.product), `${batch.id}:${n}`, ttlS, BATCH_ID_TTL_S, ...cells)),
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
    async close() {
      redis.disconnect();
    },
  };
}
