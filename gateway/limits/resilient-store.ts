import type { Logger } from '../../lib/logger.js';
import { createMemoryStore, type RateLimitStore } from './store.js';

export type FailMode = 'open' | 'closed';

export class RateLimitStoreUnavailable extends Error {
  override readonly name = 'RateLimitStoreUnavailable';
}

/** Between warnings about a failing shared store, so an outage does not flood the log. */
const WARN_EVERY_MS = 10_000;

/**
 * The shared store with a defined behaviour when it fails: fail-open decides with in-process
 * limits (each replica then enforces the budget on its own), fail-closed refuses the request
 * (RateLimitStoreUnavailable, answered 503). Either way the failure is logged and counted.
 */
export function createResilientStore(shared: RateLimitStore, mode: FailMode, logger: Logger, onFallback: (mode: FailMode) => void = () => undefined, now: () => number = Date.now): RateLimitStore {
  const local = createMemoryStore(now);
  let lastWarning = 0;
  return {
    kind: shared.kind,
    ready: () => shared.ready(),
    async consume(buckets, cost, windowMs) {
      try {
        return await shared.consume(buckets, cost, windowMs);
      } catch (error) {
        onFallback(mode); // counted in dpg_rate_limit_store_fallbacks_total
        const at = now();
        if (at - lastWarning > WARN_EVERY_MS) {
          lastWarning = at;
          logger.warn({ store: shared.kind, failMode: mode, err: error }, 'rate-limit store failed');
        }
        if (mode === 'closed') throw new RateLimitStoreUnavailable('rate-limit store unavailable');
        return local.consume(buckets, cost, windowMs);
      }
    },
    close: () => shared.close(),
  };
}
