import type { PersistedQueryOptions } from '@apollo/server';
import type { Logger } from '../../lib/logger.js';
import { createMemoryCacheStore, createRedisCacheStore, type ResponseCacheStore } from '../execution/cache-store.js';
import { sha256Hex } from './manifest.js';
import type { TrustedDocuments } from './trusted.js';

/** @apollo/server's persisted query cache (its KeyValueCache of query texts). */
export type PersistedQueryCache = NonNullable<PersistedQueryOptions['cache']>;

/** The prefix @apollo/server puts before every hash it asks its persisted query cache for. */
const APOLLO_PREFIX = 'apq:';
/** Bumped when what a registration holds changes; old keys then expire on their own. */
export const APQ_FORMAT_VERSION = 1;
const SHA256 = /^[0-9a-f]{64}$/;

/** Where one registration of an automatic persisted query is kept (Redis, and each replica's memory). */
export const apqKey = (keyPrefix: string, hash: string) => `${keyPrefix}:apq:v${APQ_FORMAT_VERSION}:${hash}`;

export interface PersistedQueriesOptions {
  /** The trusted documents now (they change on reload). */
  trusted(): TrustedDocuments;
  /** Undefined: automatic persisted queries off (nothing is registered; trusted documents still answer by hash). */
  apq: { readonly ttlS: number; readonly memoryMaxBytes: number; readonly maxDocumentBytes: number } | undefined;
  redis: { readonly url: string | undefined; readonly keyPrefix: string; readonly commandTimeoutMs: number };
  logger: Logger;
  now: () => number;
}

export interface PersistedQueries {
  /** For `new ApolloServer({ persistedQueries })`. */
  readonly options: PersistedQueryOptions;
  /** Where registrations live: 'redis' (shared by replicas), 'memory' (this process), or 'off'. */
  readonly kind: 'redis' | 'memory' | 'off';
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Documents by hash, for @apollo/server: the trusted documents first (they never expire and never
 * leave memory), then automatic persisted queries' registrations. With REDIS_URL registrations are
 * shared by every replica (a client that switches replicas does not start over), each kept for
 * APQ_TTL_S; this process keeps the ones it met in a bounded LRU in front of Redis, so a hit costs no
 * round trip (a hash names one text forever: a copy is never stale). Without Redis that LRU is the
 * store. A document over APQ_MAX_DOCUMENT_BYTES runs but is not registered; a trusted document is
 * never registered (it is already known). A store that fails answers "not found": the client sends
 * the document again, and the request still runs.
 */
export function createPersistedQueries(options: PersistedQueriesOptions): PersistedQueries {
  const { apq, redis, trusted } = options;
  const memory = apq ? createMemoryCacheStore({ maxBytes: apq.memoryMaxBytes, now: options.now }) : undefined;
  const shared: ResponseCacheStore | undefined =
    apq && redis.url ? createRedisCacheStore({ url: redis.url, commandTimeoutMs: redis.commandTimeoutMs, logger: options.logger, onFailure: () => undefined, what: 'persisted query' }) : undefined;
  const hashOf = (key: string) => {
    const hash = key.startsWith(APOLLO_PREFIX) ? key.slice(APOLLO_PREFIX.length) : key;
    return SHA256.test(hash) ? hash : undefined;
  };
  const cache: PersistedQueryCache = {
    async get(key) {
      const hash = hashOf(key);
      if (!hash) return undefined;
      const document = trusted().documentOf(hash);
      if (document !== undefined || !memory) return document;
      const storeKey = apqKey(redis.keyPrefix, hash);
      const local = await memory.get(storeKey);
      if (local !== undefined || !shared) return local;
      const registered = await shared.get(storeKey);
      // What another process wrote is checked once, as it enters this one: a hash names its text.
      if (registered === undefined || sha256Hex(registered) !== hash) return undefined;
      await memory.set(storeKey, registered, apq!.ttlS * 1000);
      return registered;
    },
    async set(key, value, setOptions) {
      const hash = hashOf(key);
      if (!hash || !memory || trusted().documentOf(hash) !== undefined) return;
      if (Buffer.byteLength(value) > apq!.maxDocumentBytes) return;
      const ttlMs = (setOptions?.ttl ?? apq!.ttlS) * 1000;
      const storeKey = apqKey(redis.keyPrefix, hash);
      await memory.set(storeKey, value, ttlMs);
      await shared?.set(storeKey, value, ttlMs);
    },
    // Registrations are immutable (a hash names one text): nothing ever deletes one but its TTL.
    async delete() {
      return false;
    },
  };
  return {
    options: { cache, ttl: apq?.ttlS ?? null },
    kind: shared ? 'redis' : memory ? 'memory' : 'off',
    ready: async () => shared?.ready(),
    async close() {
      await shared?.close();
      await memory?.close();
    },
  };
}
