import type { Logger } from '../../lib/logger.js';
import type { GatewayConfig } from '../config.js';
import { createRedisStore } from './redis-store.js';
import { createResilientStore } from './resilient-store.js';
import { createMemoryStore, type RateLimitStore } from './store.js';

/** Off, in-process (no REDIS_URL), or Redis shared by the replicas with the configured fail mode. */
export function createRateLimitStore(
  config: Pick<GatewayConfig, 'redis' | 'rateLimits'>,
  logger: Logger,
  onFallback?: (mode: 'open' | 'closed') => void,
): RateLimitStore | undefined {
  if (!config.rateLimits.enabled) return undefined;
  if (!config.redis.url) return createMemoryStore();
  const redis = createRedisStore({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, commandTimeoutMs: config.redis.commandTimeoutMs, logger });
  return createResilientStore(redis, config.rateLimits.failMode, logger, onFallback);
}
