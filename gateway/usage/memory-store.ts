import { HOUR_MS, type UsageCounts, type UsageStore } from './model.js';

/** The embedded default: one process's counts, per hour and product, hours older than the retention dropped. */
export function createMemoryUsageStore(retentionMs: number, now: () => number = Date.now): UsageStore {
  /** hour -> product -> (cell field -> count) */
  const hours = new Map<number, Map<string, Map<string, number>>>();
  /** hour -> product -> coordinate -> (operation field -> requests) */
  const operations = new Map<number, Map<string, Map<string, Map<string, number>>>>();
  const applied = new Set<string>();
  return {
    ready: async () => undefined,
    async apply(batch) {
      if (applied.has(batch.id)) return;
      applied.add(batch.id);
      for (const { hour, product, cells, operations: byCoordinate } of batch.parts) {
        let products = hours.get(hour);
        if (!products) hours.set(hour, (products = new Map()));
        let stored = products.get(product);
        if (!stored) products.set(product, (stored = new Map()));
        for (const [field, count] of cells) stored.set(field, (stored.get(field) ?? 0) + count);
        if (!byCoordinate?.size) continue;
        let opProducts = operations.get(hour);
        if (!opProducts) operations.set(hour, (opProducts = new Map()));
        let coordinates = opProducts.get(product);
        if (!coordinates) opProducts.set(product, (coordinates = new Map()));
        for (const [coordinate, ops] of byCoordinate) {
          let storedOps = coordinates.get(coordinate);
          if (!storedOps) coordinates.set(coordinate, (storedOps = new Map()));
          for (const [field, count] of ops) storedOps.set(field, (storedOps.get(field) ?? 0) + count);
        }
      }
      const oldest = now() - retentionMs - HOUR_MS;
      for (const hour of hours.keys()) if (hour < oldest) hours.delete(hour);
      for (const hour of operations.keys()) if (hour < oldest) operations.delete(hour);
      if (applied.size > 10_000) applied.clear(); // ids only guard retries of recent batches
    },
    async read(product, fromHour, toHour) {
      const out: UsageCounts = new Map();
      for (const [hour, products] of hours) {
        const cells = products.get(product);
        if (cells && hour >= fromHour && hour < toHour) out.set(hour, new Map(cells));
      }
      return out;
    },
    async readOperations(product, coordinate, fromHour, toHour) {
      const out: UsageCounts = new Map();
      for (const [hour, products] of operations) {
        const ops = products.get(product)?.get(coordinate);
        if (ops && hour >= fromHour && hour < toHour) out.set(hour, new Map(ops));
      }
      return out;
    },
    close: async () => undefined,
  };
}
