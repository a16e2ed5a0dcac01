import { createHash } from 'node:crypto';
import type { Budget } from './policy.js';

/** Bucket keys (subjects, client ids, addresses) are stored hashed: their size is never the caller's to choose. */
export function hashedKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}

/** One budget a request spends from: the caller's own, or a ceiling shared by every user of a client. */
export interface Bucket {
  /** Who the budget belongs to (hashed before it reaches Redis). */
  readonly key: string;
  readonly budget: Budget;
}

/** What is left of one bucket after the decision (unchanged when refused). */
export interface BucketState {
  readonly remainingRequests: number;
  readonly remainingCost: number;
  /** Milliseconds until this bucket's window resets. */
  readonly resetMs: number;
}

/** The outcome of spending one request and `cost` points from every bucket of a request at once. */
export interface Decision {
  readonly allowed: boolean;
  /** One state per bucket, in the order given. */
  readonly buckets: readonly BucketState[];
  /** When refused: milliseconds until every bucket that refused has reset; 0 when allowed. */
  readonly retryAfterMs: number;
}

/**
 * Budgets per window, atomically across a request's buckets: a request is allowed only if its
 * request and its cost fit in every bucket, and then all of them are spent. The memory store
 * serves one process; the Redis store shares budgets between gateway replicas.
 */
export interface RateLimitStore {
  readonly kind: 'memory' | 'redis';
  /** Resolves once the store can answer (a shared store has connected); rejects when it cannot yet. */
  ready(): Promise<void>;
  consume(buckets: readonly Bucket[], cost: number, windowMs: number): Promise<Decision>;
  close(): Promise<void>;
}

/** Refused buckets decide when to retry: the latest of their resets. */
export function decide(states: readonly (BucketState & { fits: boolean })[]): Decision {
  const allowed = states.every((s) => s.fits);
  const retryAfterMs = allowed ? 0 : Math.max(...states.filter((s) => !s.fits).map((s) => s.resetMs));
  return { allowed, buckets: states.map(({ remainingRequests, remainingCost, resetMs }) => ({ remainingRequests, remainingCost, resetMs })), retryAfterMs };
}

interface Window {
  requests: number;
  cost: number;
  resetAt: number;
}

/** The embedded default: exact within one process. `now` is injectable for tests. */
export function createMemoryStore(now: () => number = Date.now, maxKeys = 100_000): RateLimitStore {
  const windows = new Map<string, Window>();
  const current = (caller: string, at: number, windowMs: number): Window => {
    const key = hashedKey(caller);
    let window = windows.get(key);
    if (!window || window.resetAt <= at) {
      if (window) windows.delete(key);
      if (windows.size >= maxKeys) sweep(windows, at, maxKeys);
      window = { requests: 0, cost: 0, resetAt: at + windowMs };
      windows.set(key, window);
    }
    return window;
  };
  return {
    kind: 'memory',
    ready: async () => undefined,
    async consume(buckets, cost, windowMs) {
      const at = now();
      const found = buckets.map((bucket) => ({ bucket, window: current(bucket.key, at, windowMs) }));
      const fits = found.map(({ bucket, window }) => window.requests + 1 <= bucket.budget.requests && window.cost + cost <= bucket.budget.cost);
      const allowed = fits.every(Boolean);
      return decide(
        found.map(({ bucket, window }, i) => {
          if (allowed) {
            window.requests += 1;
            window.cost += cost;
          }
          return {
            fits: fits[i]!,
            remainingRequests: Math.max(0, bucket.budget.requests - window.requests),
            remainingCost: Math.max(0, bucket.budget.cost - window.cost),
            resetMs: window.resetAt - at,
          };
        }),
      );
    },
    close: async () => undefined,
  };
}

/** Drops expired windows, then the oldest, so the map stays bounded. */
function sweep(windows: Map<string, { resetAt: number }>, at: number, maxKeys: number): void {
  for (const [key, window] of windows) if (window.resetAt <= at) windows.delete(key);
  for (const key of windows.keys()) {
    if (windows.size < maxKeys) break;
    windows.delete(key);
  }
}
