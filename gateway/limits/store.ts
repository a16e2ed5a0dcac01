import type { Budget } from './policy.js';

/** The outcome of spending one request and `cost` points from a caller's window. */
export interface Decision {
  readonly allowed: boolean;
  /** What is left in the window after this request (unchanged when refused). */
  readonly remainingRequests: number;
  readonly remainingCost: number;
  /** Milliseconds until the window resets. */
  readonly resetMs: number;
}

/**
 * Budgets per caller and window, atomically: a request is allowed only if both its request and
 * its cost fit, and then both are spent. The memory store serves one process; the Redis store
 * shares budgets between gateway replicas.
 */
export interface RateLimitStore {
  readonly kind: 'memory' | 'redis';
  consume(key: string, cost: number, budget: Budget, windowMs: number): Promise<Decision>;
  close(): Promise<void>;
}

/** The embedded default: exact within one process. `now` is injectable for tests. */
export function createMemoryStore(now: () => number = Date.now, maxKeys = 100_000): RateLimitStore {
  const windows = new Map<string, { requests: number; cost: number; resetAt: number }>();
  return {
    kind: 'memory',
    async consume(key, cost, budget, windowMs) {
      const at = now();
      let window = windows.get(key);
      if (!window || window.resetAt <= at) {
        if (window) windows.delete(key);
        if (windows.size >= maxKeys) sweep(windows, at, maxKeys);
        window = { requests: 0, cost: 0, resetAt: at + windowMs };
        windows.set(key, window);
      }
      const resetMs = window.resetAt - at;
      if (window.requests + 1 > budget.requests || window.cost + cost > budget.cost) {
        return { allowed: false, remainingRequests: Math.max(0, budget.requests - window.requests), remainingCost: Math.max(0, budget.cost - window.cost), resetMs };
      }
      window.requests += 1;
      window.cost += cost;
      return { allowed: true, remainingRequests: budget.requests - window.requests, remainingCost: budget.cost - window.cost, resetMs };
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
