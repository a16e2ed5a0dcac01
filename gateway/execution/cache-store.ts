import type { Logger } from '../../lib/logger.js';
import { createRedisClient, whenReady } from '../../lib/redis-client.js';

/**
 * Where cached answers live: Redis when REDIS_URL is set (shared by replicas), else this process's
 * memory. Values are opaque strings; the cache decides what they hold and when they are fresh.
 */
export interface ResponseCacheStore {
  readonly kind: 'memory' | 'redis';
  /** Undefined on a miss, and when the store cannot answer (a cache never fails a request). */
  get(key: string): Promise<string | undefined>;
  /** Keeps `value` for `ttlMs`; a store that cannot take it drops it. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A bounded LRU: at most `maxBytes` of values (UTF-16 length as a cheap, conservative-enough
 * measure of their size), least recently used first out; expired entries go when met.
 */
export function createMemoryCacheStore(options: { maxBytes: number; now: () => number }): ResponseCacheStore {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  let bytes = 0;
  const remove = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    bytes -= entry.value.length;
  };
  return {
    kind: 'memory',
    async get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= options.now()) {
        remove(key);
        return undefined;
      }
      // Most recently used last: Map iteration order is insertion order.
      entries.delete(key);
      entries.set(key, entry);
      return entry.value;
    },
    async set(key, value, ttlMs) {
      remove(key);
      if (value.length > options.maxBytes || ttlMs <= 0) return;
      while (bytes + value.length > options.maxBytes) remove(entries.keys().next().value as string);
      entries.set(key, { value, expiresAt: options.now() + ttlMs });
      bytes += value.length;
    },
    ready: async () => undefined,
    close: async () => entries.clear(),
  };
}

/**
 * Redis: `SET key value PX ttl`, so every entry expires with its freshness (Redis evicts nothing
 * else of ours). Commands never queue while disconnected: a miss, and an answer not kept.
 */
export function createRedisCacheStore(options: {
  url: string;
  commandTimeoutMs: number;
  logger: Logger;
  onFailure: () => void;
  /** What the store keeps, for its log lines. @default 'response cache' */
  what?: string;
}): ResponseCacheStore {
  const redis = createRedisClient(options.url, { commandTimeoutMs: options.commandTimeoutMs });
  let lastProblem = '';
  const failed = (error: unknown) => {
    options.onFailure();
    const problem = error instanceof Error ? error.message : String(error);
    if (problem !== lastProblem) options.logger.warn({ store: 'redis', problem }, `${options.what ?? 'response cache'} store failed; answering without it`);
    lastProblem = problem;
  };
  redis.on('error', () => undefined); // reported per command above; ioredis reconnects on its own
  return {
    kind: 'redis',
    async get(key) {
      try {
        return (await redis.get(key)) ?? undefined;
      } catch (error) {
        failed(error);
        return undefined;
      }
    },
    async set(key, value, ttlMs) {
      if (ttlMs <= 0) return;
      try {
        await redis.set(key, value, 'PX', Math.ceil(ttlMs));
      } catch (error) {
        failed(error);
      }
    },
    ready: () => whenReady(redis),
    async close() {
      redis.disconnect();
    },
  };
}
