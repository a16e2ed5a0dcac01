import type { Logger } from '../../lib/logger.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import type { UsageReader } from '../../subgraphs/platform/index.js';
import type { SchemaCatalog } from './catalog.js';
import { createMemoryUsageStore } from './memory-store.js';
import { createPostgresUsageHistory } from './history.js';
import { OTHER_PRODUCT, productOf, type UsageStore } from './model.js';
import { createOperationCap } from './operations.js';
import { createUsageReader } from './reader.js';
import { createRedisUsageStore } from './redis-store.js';
import { createLayeredUsageStore, createUsageRollup, type UsageRollup } from './rollup.js';
import { createUsageRecorder, type UsageRecorder } from './recorder.js';

export interface Usage {
  readonly store: UsageStore;
  /** Undefined when recording is off (the views still read what the store holds). */
  readonly recorder: UsageRecorder | undefined;
  readonly reader: UsageReader;
  /** Moves closed hours into the history (USAGE_DATABASE_URL); undefined without one. */
  readonly rollup: UsageRollup | undefined;
  /** Set when the gateway has loaded its schema: which product serves which field. */
  setCatalog(catalog: SchemaCatalog): void;
  /** Flushes what is recorded (bounded by `deadlineMs`), then closes the store. */
  close(deadlineMs: number): Promise<void>;
}

/**
 * Usage recording and reading: counted in Redis when REDIS_URL is set (replicas add up), else
 * in-process; with USAGE_DATABASE_URL, closed hours are rolled up into PostgreSQL and the views
 * read both.
 */
export function createUsage(config: Pick<GatewayConfig, 'redis' | 'usage'>, logger: Logger, metrics: GatewayMetrics, now: () => number = Date.now): Usage {
  const hot = config.redis.url
    ? createRedisUsageStore({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, commandTimeoutMs: config.redis.commandTimeoutMs, retentionMs: config.usage.retentionMs })
    : createMemoryUsageStore(config.usage.retentionMs, now);
  const history = config.usage.history && createPostgresUsageHistory(config.usage.history.url, config.usage.history.schema);
  const store: UsageStore = history ? createLayeredUsageStore(hot, history) : hot;
  // The schema is created at first use; asked now so that a wrong URL or a missing grant shows at start.
  history?.ready().catch((error: unknown) => logger.warn({ err: error }, 'usage history not ready; the roll-up and the views retry it'));
  let catalog: SchemaCatalog | undefined;
  const rollup =
    history && config.usage.history
      ? createUsageRollup({
          hot,
          history,
          // Every group the recorder writes: the products, and what no product serves.
          products: () => [...(catalog?.products ?? []), OTHER_PRODUCT],
          retentionMs: config.usage.retentionMs,
          delayMs: config.usage.history.rollupDelayMs,
          intervalMs: config.usage.history.rollupIntervalMs,
          logger,
          now,
          onRun: ({ ok }) => metrics.usageRollups.inc({ outcome: ok ? 'ok' : 'failed' }),
        })
      : undefined;
  const recorder = config.usage.enabled
    ? createUsageRecorder({
        store,
        flushIntervalMs: config.usage.flushIntervalMs,
        logger,
        now,
        // Counts are kept per hour and product, as the reader reads them (the catalogue is set before any request).
        productOf: (coordinate) => productOf(catalog, coordinate),
        // Distinct operations per hour and product are capped: a caller inventing documents cannot grow the keys.
        operationLabel: createOperationCap({ maxPerHour: config.usage.maxOperationsPerHour, onOverflow: ({ product }) => metrics.usageOperationOverflow.inc({ product }) }),
        // Every attempt (one per interval, failed or not) updates the lag, so it grows visibly during an outage.
        onFlush: ({ ok, lagMs }) => {
          if (!ok) metrics.usageFlushFailures.inc();
          metrics.usageFlushLag.set(lagMs / 1000);
        },
      })
    : undefined;
  const reader = createUsageReader(
    store,
    () => {
      if (!catalog) throw new Error('usage read before the schema was loaded');
      return catalog;
    },
    config.usage.retentionMs,
    now,
  );
  return {
    store,
    recorder,
    rollup,
    reader,
    setCatalog: (next) => {
      catalog = next;
    },
    async close(deadlineMs) {
      rollup?.close();
      await recorder?.close(deadlineMs);
      await store.close();
    },
  };
}
