import type { Logger } from '../../lib/logger.js';
import { serialRounds } from '../../lib/serial-rounds.js';
import type { UsageHistory } from './history.js';
import { hourOf, type RollableUsageStore, type UsageCounts, type UsageStore } from './model.js';

export interface UsageRollupOptions {
  hot: RollableUsageStore;
  history: UsageHistory;
  /** The product groups whose hours are rolled up (the catalogue's products and OTHER_PRODUCT). */
  products: () => readonly string[];
  retentionMs: number;
  /** How long after an hour ends it is rolled up: longer than a flush takes to land. */
  delayMs: number;
  /** Between runs, in ms; 0: only when asked (`run()`). */
  intervalMs: number;
  logger: Logger;
  now?: () => number;
  onRun?: (result: { ok: boolean; hours: number }) => void;
}

export interface UsageRollup {
  /** Rolls every closed hour still in the hot store up into the history now; resolves with how many (hour, product) snapshots were added. */
  run(): Promise<number>;
  close(): void;
}

/**
 * Moves closed hours from the hot store to the history, exactly once: for each (hour, product)
 * still in the hot store and closed for `delayMs`, take its snapshot (set aside under an id), add it
 * to the history (one transaction with the id: a repeat is skipped), then release it. Stopped
 * anywhere, the next run resumes the same snapshot: nothing lost, nothing doubled. Counts that
 * land for an hour after its roll-up (a flush retried through an outage) start a new live hash,
 * rolled up by a later run and added to the same rows.
 */
export function createUsageRollup(options: UsageRollupOptions): UsageRollup {
  const now = options.now ?? Date.now;
  /** The retention's start this process last purged to: the history's hours move on once an hour. */
  let purgedBefore = -Infinity;
  const runOnce = async (): Promise<number> => {
    const at = now();
    const from = hourOf(at - options.retentionMs);
    // Hours that ended at least delayMs ago: the hour holding `at - delayMs` has not.
    const to = hourOf(at - options.delayMs);
    let added = 0;
    for (const product of options.products()) {
      for (const hour of await options.hot.hoursWithCounts(product, from, to)) {
        const snapshot = await options.hot.takeHour(hour, product);
        if (!snapshot) continue;
        if (await options.history.add(snapshot)) added += 1;
        await options.hot.releaseHour(snapshot);
      }
    }
    if (from > purgedBefore) {
      await options.history.purge(from);
      purgedBefore = from;
    }
    return added;
  };
  const run = serialRounds(async () => {
    try {
      const hours = await runOnce();
      options.onRun?.({ ok: true, hours });
      return hours;
    } catch (error) {
      options.onRun?.({ ok: false, hours: 0 });
      throw error;
    }
  });
  const timer = options.intervalMs > 0 ? setInterval(() => run().catch((error: unknown) => options.logger.warn({ err: error }, 'usage roll-up failed; the next run resumes it')), options.intervalMs) : undefined;
  timer?.unref();
  return {
    run,
    close: () => clearInterval(timer),
  };
}

function merge(into: UsageCounts, from: UsageCounts): UsageCounts {
  for (const [hour, cells] of from) {
    const target = into.get(hour);
    if (!target) {
      into.set(hour, new Map(cells));
      continue;
    }
    for (const [field, count] of cells) target.set(field, (target.get(field) ?? 0) + count);
  }
  return into;
}

/**
 * What the views read with a history: every hour from both, added up. Each count is in exactly one
 * of them (the hot store's live hashes, or the history once its snapshot was added there and
 * released); a snapshot set aside and not yet added is read from neither, for the moment the
 * roll-up takes, so nothing is ever counted twice.
 */
export function createLayeredUsageStore(hot: UsageStore, history: UsageHistory): UsageStore {
  return {
    ready: async () => {
      await Promise.all([hot.ready(), history.ready()]);
    },
    apply: (batch) => hot.apply(batch),
    async read(product, fromHour, toHour) {
      const [closed, open] = await Promise.all([history.read(product, fromHour, toHour), hot.read(product, fromHour, toHour)]);
      return merge(closed, open);
    },
    async readOperations(product, coordinate, fromHour, toHour) {
      const [closed, open] = await Promise.all([history.readOperations(product, coordinate, fromHour, toHour), hot.readOperations(product, coordinate, fromHour, toHour)]);
      return merge(closed, open);
    },
    async close() {
      await hot.close();
      await history.close();
    },
  };
}
