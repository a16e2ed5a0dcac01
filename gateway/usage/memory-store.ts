import { randomUUID } from 'node:crypto';
import { HOUR_MS, type RollableUsageStore, type UsageCounts, type UsageSnapshot } from './model.js';

/** The embedded default: one process's counts, per hour and product, hours older than the retention dropped. */
export function createMemoryUsageStore(retentionMs: number, now: () => number = Date.now): RollableUsageStore {
  /** hour -> product -> (cell field -> count) */
  const hours = new Map<number, Map<string, Map<string, number>>>();
  /** hour -> product -> coordinate -> (operation field -> requests) */
  const operations = new Map<number, Map<string, Map<string, Map<string, number>>>>();
  const applied = new Set<string>();
  /** `<hour>\t<product>` -> the snapshot set aside for the history and not yet released. */
  const taken = new Map<string, UsageSnapshot>();
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
    async hoursWithCounts(product, fromHour, toHour) {
      const out = new Set<number>();
      for (const [hour, products] of hours) if (hour >= fromHour && hour < toHour && products.has(product)) out.add(hour);
      for (const [hour, products] of operations) if (hour >= fromHour && hour < toHour && products.has(product)) out.add(hour);
      for (const snapshot of taken.values()) if (snapshot.product === product && snapshot.hour >= fromHour && snapshot.hour < toHour) out.add(snapshot.hour);
      return [...out].sort((a, b) => a - b);
    },
    async takeHour(hour, product) {
      const key = `${hour}\t${product}`;
      const pending = taken.get(key);
      if (pending) return pending;
      const cells = hours.get(hour)?.get(product);
      const ops = operations.get(hour)?.get(product);
      if (!cells && !ops) return undefined;
      hours.get(hour)?.delete(product);
      operations.get(hour)?.delete(product);
      const snapshot: UsageSnapshot = { id: randomUUID(), hour, product, cells: cells ?? new Map(), operations: ops ?? new Map() };
      taken.set(key, snapshot);
      return snapshot;
    },
    async releaseHour(snapshot) {
      const key = `${snapshot.hour}\t${snapshot.product}`;
      if (taken.get(key)?.id === snapshot.id) taken.delete(key);
    },
    close: async () => undefined,
  };
}
