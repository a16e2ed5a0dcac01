import { HOUR_MS, type UsageCounts, type UsageStore } from './model.js';

/** The embedded default: one process's counts, hours older than the retention dropped. */
export function createMemoryUsageStore(retentionMs: number, now: () => number = Date.now): UsageStore {
  const hours: UsageCounts = new Map();
  const applied = new Set<string>();
  return {
    ready: async () => undefined,
    async apply(batch) {
      if (applied.has(batch.id)) return;
      applied.add(batch.id);
      for (const [hour, cells] of batch.counts) {
        let stored = hours.get(hour);
        if (!stored) hours.set(hour, (stored = new Map()));
        for (const [field, count] of cells) stored.set(field, (stored.get(field) ?? 0) + count);
      }
      const oldest = now() - retentionMs - HOUR_MS;
      for (const hour of hours.keys()) if (hour < oldest) hours.delete(hour);
      if (applied.size > 10_000) applied.clear(); // ids only guard retries of recent batches
    },
    async read(fromHour, toHour) {
      const out: UsageCounts = new Map();
      for (const [hour, cells] of hours) if (hour >= fromHour && hour < toHour) out.set(hour, new Map(cells));
      return out;
    },
    close: async () => undefined,
  };
}
