import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../../lib/logger.js';
import type { Decision, RateLimitStore } from './store.js';

/**
 * One round trip per request: a Lua script spends the request and its cost atomically, using the
 * Redis server's clock (the key's PTTL) for the window, so replicas agree without synchronized
 * clocks. Keys: `<prefix>:rl:v1:{<caller hash>}` (hash-tagged: one slot in Redis Cluster), a hash
 * with the fields `r` (requests) and `c` (cost), expiring with its window.
 */
const CONSUME = `
local key = KEYS[1]
local maxRequests = tonumber(ARGV[1])
local maxCost = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local windowMs = tonumber(ARGV[4])
local ttl = redis.call('PTTL', key)
if ttl < 0 then
  redis.call('DEL', key)
  ttl = windowMs
end
local requests = tonumber(redis.call('HGET', key, 'r') or '0')
local spent = tonumber(redis.call('HGET', key, 'c') or '0')
if requests + 1 > maxRequests or spent + cost > maxCost then
  return {0, maxRequests - requests, maxCost - spent, ttl}
end
redis.call('HINCRBY', key, 'r', 1)
redis.call('HINCRBY', key, 'c', cost)
if requests == 0 then redis.call('PEXPIRE', key, windowMs) end
return {1, maxRequests - requests - 1, maxCost - spent - cost, ttl}
`;

export interface RedisStoreOptions {
  url: string;
  /** Namespace of every key. @default 'dpg' */
  keyPrefix: string;
  /** Per command; past it the command fails (never queued while disconnected). */
  commandTimeoutMs: number;
  logger: Logger;
}

export function rateLimitKey(prefix: string, caller: string): string {
  // Callers are hashed: client ids, subjects and addresses never appear in Redis.
  return `${prefix}:rl:v1:{${createHash('sha256').update(caller).digest('base64url').slice(0, 22)}}`;
}

type ConsumingRedis = Redis & { dpgConsume(key: string, maxRequests: number, maxCost: number, cost: number, windowMs: number): Promise<[number, number, number, number]> };

export function createRedisStore(options: RedisStoreOptions): RateLimitStore {
  const redis = new Redis(options.url, {
    // Requests never wait for a connection: offline, a command fails at once and the caller's
    // fail mode decides. ioredis keeps reconnecting in the background.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    lazyConnect: false,
  }) as ConsumingRedis;
  redis.defineCommand('dpgConsume', { numberOfKeys: 1, lua: CONSUME });
  let lastState = '';
  const logState = (state: string) => {
    if (state === lastState) return;
    lastState = state;
    options.logger.info({ store: 'redis', state }, 'rate-limit store');
  };
  redis.on('ready', () => logState('ready'));
  redis.on('end', () => logState('closed'));
  redis.on('error', (error: Error) => logState(`error: ${error.message}`));
  // The gateway starts serving while the first connection is still being made (how long that
  // takes relative to the gateway's own start differs between Node.js lines). A request arriving
  // then waits for that attempt, at most one command timeout, instead of being counted in-process
  // by the fail mode; once the first attempt is over, a lost connection fails fast as before.
  let firstAttempt: Promise<void> | undefined = new Promise<void>((resolve) => {
    const over = () => {
      for (const event of ['ready', 'error', 'end'] as const) redis.off(event, over);
      firstAttempt = undefined;
      resolve();
    };
    for (const event of ['ready', 'error', 'end'] as const) redis.once(event, over);
  });
  return {
    kind: 'redis',
    async consume(key, cost, budget, windowMs): Promise<Decision> {
      if (firstAttempt) await waitAtMost(firstAttempt, options.commandTimeoutMs);
      const [allowed, remainingRequests, remainingCost, ttl] = await redis.dpgConsume(rateLimitKey(options.keyPrefix, key), budget.requests, budget.cost, cost, windowMs);
      return { allowed: allowed === 1, remainingRequests: Math.max(0, remainingRequests), remainingCost: Math.max(0, remainingCost), resetMs: Math.max(0, ttl) };
    },
    async close() {
      redis.disconnect();
    },
  };
}

async function waitAtMost(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
