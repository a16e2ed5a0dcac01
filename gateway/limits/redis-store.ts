import { createRedisClient, whenReady, type RedisConnection } from '../../lib/redis-client.js';
import type { Logger } from '../../lib/logger.js';
import { decide, hashedKey, type RateLimitStore } from './store.js';

/**
 * One round trip per request: a Lua script checks every bucket of the request, and spends the
 * request and its cost from all of them only if all allow it, using the Redis server's clock
 * (each key's PTTL) for the windows, so replicas agree without synchronized clocks. A key is a
 * hash with the fields `r` (requests) and `c` (cost), expiring with its window. Returns, per key:
 * fits (1/0), requests left, cost left, ms until reset.
 */
const CONSUME = `
local cost = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local allowed = true
local found = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local maxRequests = tonumber(ARGV[1 + 2 * i])
  local maxCost = tonumber(ARGV[2 + 2 * i])
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('DEL', key)
    ttl = windowMs
  end
  local requests = tonumber(redis.call('HGET', key, 'r') or '0')
  local spent = tonumber(redis.call('HGET', key, 'c') or '0')
  local fits = requests + 1 <= maxRequests and spent + cost <= maxCost
  if not fits then allowed = false end
  found[i] = {fits, requests, spent, ttl, maxRequests, maxCost}
end
local out = {}
for i = 1, #KEYS do
  local f = found[i]
  local requests, spent = f[2], f[3]
  if allowed then
    redis.call('HINCRBY', KEYS[i], 'r', 1)
    redis.call('HINCRBY', KEYS[i], 'c', cost)
    if requests == 0 then redis.call('PEXPIRE', KEYS[i], windowMs) end
    requests = requests + 1
    spent = spent + cost
  end
  out[#out + 1] = f[1] and 1 or 0
  out[#out + 1] = f[5] - requests
  out[#out + 1] = f[6] - spent
  out[#out + 1] = f[4]
end
return out
`;

export interface RedisStoreOptions {
  url: string;
  /** Namespace of every key. @default 'dpg' */
  keyPrefix: string;
  /** Per command; past it the command fails (never queued while disconnected). */
  commandTimeoutMs: number;
  logger: Logger;
}

/**
 * `<prefix>:rl:v1:{<hash>}`: callers are hashed (client ids, subjects and addresses never appear
 * in Redis), and the hash is the key's hash tag. The buckets of one request must share a Redis
 * Cluster slot to be spent atomically: a caller under a client ceiling is keyed
 * `<prefix>:rl:v1:{<client hash>}:<caller hash>`, beside its client's `<prefix>:rl:v1:{<client hash>}`.
 */
export function rateLimitKey(prefix: string, key: string, slotOf?: string): string {
  if (slotOf === undefined || slotOf === key) return `${prefix}:rl:v1:{${hashedKey(key)}}`;
  return `${prefix}:rl:v1:{${hashedKey(slotOf)}}:${hashedKey(key)}`;
}

type ConsumingRedis = RedisConnection & { dpgConsume(numberOfKeys: number, ...args: (string | number)[]): Promise<number[]> };

export function createRedisStore(options: RedisStoreOptions): RateLimitStore {
  // Requests never wait for a connection: offline, a command fails at once and the caller's fail mode decides.
  const redis = createRedisClient(options.url, { commandTimeoutMs: options.commandTimeoutMs }) as ConsumingRedis;
  redis.defineCommand('dpgConsume', { lua: CONSUME });
  let lastState = '';
  const logState = (state: string) => {
    if (state === lastState) return;
    lastState = state;
    options.logger.info({ store: 'redis', state }, 'rate-limit store');
  };
  redis.on('ready', () => logState('ready'));
  redis.on('end', () => logState('closed'));
  redis.on('error', (error: Error) => logState(`error: ${error.message}`));
  return {
    kind: 'redis',
    ready: () => whenReady(redis),
    async consume(buckets, cost, windowMs) {
      // The last bucket is the widest (a client ceiling, when there is one): every key lives in its slot.
      const slotOf = buckets.length > 1 ? buckets[buckets.length - 1]!.key : undefined;
      const keys = buckets.map((b) => rateLimitKey(options.keyPrefix, b.key, slotOf));
      const args = [cost, windowMs, ...buckets.flatMap((b) => [b.budget.requests, b.budget.cost])];
      const out = await redis.dpgConsume(keys.length, ...keys, ...args);
      return decide(
        buckets.map((_, i) => ({
          fits: out[i * 4] === 1,
          remainingRequests: Math.max(0, out[i * 4 + 1]!),
          remainingCost: Math.max(0, out[i * 4 + 2]!),
          resetMs: Math.max(0, out[i * 4 + 3]!),
        })),
      );
    },
    async close() {
      redis.disconnect();
    },
  };
}

