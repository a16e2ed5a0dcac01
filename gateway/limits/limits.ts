import type { Logger } from '../../lib/logger.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import { loadRateLimitPolicy, type RateLimitPolicy } from './policy.js';
import { createRedisStore } from './redis-store.js';
import { createResilientStore } from './resilient-store.js';
import { createMemoryStore, type RateLimitStore } from './store.js';

/** Demand control's configuration and state: the policy file, and where budgets are kept. */
export interface Limits {
  readonly policy: RateLimitPolicy;
  /** Absent when rate limiting is off (operation limits still apply). */
  readonly store: RateLimitStore | undefined;
  /** Waits (bounded) for a shared store to connect; a store that does not is logged and its fail mode applies. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createLimits(
  config: Pick<GatewayConfig, 'redis' | 'rateLimits'>,
  roles: ReadonlySet<string>,
  logger: Logger,
  metrics: Pick<GatewayMetrics, 'rateLimitStoreFallbacks'>,
  /** The clock of in-process windows (Redis windows run on the Redis server's clock). */
  now: () => number = Date.now,
): Limits {
  const policy = loadRateLimitPolicy(config.rateLimits.file, roles);
  const store = createRateLimitStore(config, logger, (mode) => metrics.rateLimitStoreFallbacks.inc({ mode }), now);
  return {
    policy,
    store,
    async start() {
      // Budgets shared in Redis are exact only once Redis answers: wait for it before taking
      // requests, rather than letting the first ones fall back to per-process limits.
      await store?.ready().catch((error: unknown) => logger.warn({ err: error, failMode: config.rateLimits.failMode }, 'rate-limit store not ready at start; its fail mode applies until it connects'));
    },
    stop: async () => store?.close(),
  };
}

/** Off, in-process (no REDIS_URL), or Redis shared by the replicas with the configured fail mode. */
export function createRateLimitStore(
  config: Pick<GatewayConfig, 'redis' | 'rateLimits'>,
  logger: Logger,
  onFallback?: (mode: 'open' | 'closed') => void,
  now: () => number = Date.now,
): RateLimitStore | undefined {
  if (!config.rateLimits.enabled) return undefined;
  if (!config.redis.url) return createMemoryStore(now);
  const redis = createRedisStore({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, commandTimeoutMs: config.redis.commandTimeoutMs, logger });
  return createResilientStore(redis, config.rateLimits.failMode, logger, onFallback, now);
}
