import type { Logger } from '../../lib/logger.js';
import type { ExecutionConfig } from '../config.js';
import { createMemoryCacheStore, createRedisCacheStore, type ResponseCacheStore } from './cache-store.js';
import { cacheabilityOf, createCacheStats, isFresh, type Cacheability, type CachedAnswer, type CacheStats } from './freshness.js';

/** Bumped when what a cached value holds changes: old values are then never read. */
const FORMAT_VERSION = 1;

/**
 * The response cache: which operations may be cached and for how long (freshness.ts), answers
 * kept in the store under `<prefix>:rc:v1:<supergraph hash>:<execution key>` (a reload serves a new
 * hash, so nothing cached for the previous supergraph is read again), and the hit counts per product.
 */
export interface ResponseCache {
  readonly store: ResponseCacheStore;
  readonly stats: CacheStats;
  cacheability(products: ReadonlySet<string>): Cacheability;
  /**
   * A fresh answer for this key, if one is kept: within the window it was kept for, and within
   * `ttlMs` (today's promise) of when it was fetched, should a product have shortened its promise since.
   */
  lookup(generation: string, key: string, ttlMs: number): Promise<CachedAnswer | undefined>;
  /** Keeps an answer fetched at `fetchedAt` for `ttlMs` from then; undefined when it is too large to keep. */
  save(generation: string, key: string, data: Record<string, unknown>, fetchedAt: number, ttlMs: number): Promise<CachedAnswer | undefined>;
}

export interface ResponseCacheOptions {
  readonly settings: NonNullable<ExecutionConfig['responseCache']>;
  readonly redis: { readonly url: string | undefined; readonly keyPrefix: string; readonly commandTimeoutMs: number };
  /** The product's `freshnessMinutes` from its last valid descriptor (the catalogue). */
  freshnessMinutesOf(product: string): number | undefined;
  readonly logger: Logger;
  readonly now: () => number;
  onStoreFailure(): void;
  /** Called per recorded lookup (metrics). */
  onLookup(hit: boolean): void;
}

export function createResponseCache(options: ResponseCacheOptions): ResponseCache {
  const { settings, redis, now } = options;
  const store = redis.url
    ? createRedisCacheStore({ url: redis.url, commandTimeoutMs: redis.commandTimeoutMs, logger: options.logger, onFailure: options.onStoreFailure })
    : createMemoryCacheStore({ maxBytes: settings.maxBytes, now });
  const keyOf = (generation: string, key: string) => `${redis.keyPrefix}:rc:v${FORMAT_VERSION}:${generation}:${key}`;
  return {
    store,
    stats: createCacheStats(options.onLookup),
    cacheability: (products) => cacheabilityOf(products, settings.products, options.freshnessMinutesOf),
    async lookup(generation, key, ttlMs) {
      const value = await store.get(keyOf(generation, key));
      if (value === undefined) return undefined;
      const kept = parse(value);
      if (!kept) return undefined;
      const answer = { ...kept, expiresAt: Math.min(kept.expiresAt, kept.fetchedAt + ttlMs) };
      // The store's own expiry runs on its clock (Redis'); the promise is kept on the gateway's.
      return isFresh(answer, now()) ? answer : undefined;
    },
    async save(generation, key, data, fetchedAt, ttlMs) {
      const answer: CachedAnswer = { fetchedAt, expiresAt: fetchedAt + ttlMs, data };
      const value = JSON.stringify(answer);
      if (Buffer.byteLength(value) > settings.maxValueBytes) return undefined;
      const remaining = answer.expiresAt - now();
      if (remaining <= 0) return undefined;
      await store.set(keyOf(generation, key), value, remaining);
      return answer;
    },
  };
}

/** A stored value read back; anything else (another format, a damaged value) is a miss. */
function parse(value: string): CachedAnswer | undefined {
  try {
    const parsed = JSON.parse(value) as Partial<CachedAnswer>;
    if (typeof parsed.fetchedAt !== 'number' || typeof parsed.expiresAt !== 'number' || typeof parsed.data !== 'object' || parsed.data === null) return undefined;
    return parsed as CachedAnswer;
  } catch {
    return undefined;
  }
}
