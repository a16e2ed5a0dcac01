import type { Redis } from 'ioredis';
import { createRedisClient, whenReady } from '../../lib/redis-client.js';
import { HOUR_MS, type UsageCounts, type UsageStore } from './model.js';

/**
 * Usage counts in Redis: one hash per hour, `<prefix>:usage:v1:{u}:h:<hour ms>`, field = cell,
 * value = count, expiring after the retention window. A flush is one Lua script, atomic, that
 * first claims its batch id (`...:batch:<id>`, kept a day): a retried batch whose first attempt
 * did land is skipped, so nothing is counted twice. All keys share the `{u}` hash tag, so the
 * script touches a single Redis Cluster slot.
 */
const APPLY = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) == false then return 0 end
local ttl = tonumber(ARGV[2])
for i = 3, #ARGV, 3 do
  redis.call('HINCRBY', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
end
for i = 2, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
return 1
`;

/** How long a batch id is remembered: far longer than any retry of it. */
const BATCH_ID_TTL_S = 86_400;

export interface RedisUsageStoreOptions {
  url: string;
  keyPrefix: string;
  commandTimeoutMs: number;
  retentionMs: number;
}

type ApplyingRedis = Redis & { dpgUsageApply(numberOfKeys: number, ...args: (string | number)[]): Promise<number> };

export function usageKeys(prefix: string) {
  return {
    hour: (hour: number) => `${prefix}:usage:v1:{u}:h:${hour}`,
    batch: (id: string) => `${prefix}:usage:v1:{u}:batch:${id}`,
  };
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
      const hourKeys = [...batch.counts.keys()].map(keys.hour);
      if (hourKeys.length === 0) return;
      const args: (string | number)[] = [BATCH_ID_TTL_S, ttlS];
      let index = 2; // KEYS[1] is the batch marker
      for (const cells of batch.counts.values()) {
        for (const [field, count] of cells) args.push(index, field, count);
        index += 1;
      }
      await redis.dpgUsageApply(1 + hourKeys.length, keys.batch(batch.id), ...hourKeys, ...args);
    },
    async read(fromHour, toHour) {
      await connected();
      const hours: number[] = [];
      for (let hour = fromHour; hour < toHour; hour += HOUR_MS) hours.push(hour);
      const pipeline = redis.pipeline();
      for (const hour of hours) pipeline.hgetall(keys.hour(hour));
      const results = (await pipeline.exec()) ?? [];
      const out: UsageCounts = new Map();
      results.forEach(([error, value], i) => {
        if (error) throw error;
        const cells = value as Record<string, string>;
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
