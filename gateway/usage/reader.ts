import type { FieldUsageRow, OperationUsageRow, UsagePointRow, UsageReader, UsageWindow } from '../../subgraphs/platform/index.js';
import type { SchemaCatalog } from './catalog.js';
import { HOUR_MS, hourOf, OPERATION_OVERFLOW, parseCellField, parseOperationField, productOf, type UsageCounts, type UsageStore } from './model.js';

const REJECTED = new Set(['forbidden', 'rate_limited', 'rejected']);

/**
 * Hours read from the store at a time: a window is folded a day at a time, so memory holds one
 * day of one product's cells, never a whole retention's, nor the other products'.
 */
const READ_CHUNK_HOURS = 24;

/**
 * Distinct operations one read folds at most: each hour holds at most the cap's worth per product,
 * but a month of hours could hold a month of different ones. Past this, the rest are folded into
 * OPERATION_OVERFLOW, so a field's answer stays bounded in memory whatever callers sent.
 */
export const MAX_OPERATIONS_PER_READ = 2_000;

/** One product's hours in the store from `from` to `to`, a chunk at a time, oldest first. */
async function* chunks(
  store: UsageStore,
  product: string,
  from: number,
  to: number,
  read: (from: number, to: number) => Promise<UsageCounts> = (f, t) => store.read(product, f, t),
): AsyncGenerator<[number, Map<string, number>]> {
  for (let start = from; start < to; start += READ_CHUNK_HOURS * HOUR_MS) {
    const counts = await read(start, Math.min(to, start + READ_CHUNK_HOURS * HOUR_MS));
    for (const hour of [...counts.keys()].sort((a, b) => a - b)) yield [hour, counts.get(hour)!];
  }
}

/** Hours of a window: from the hour holding `since` to the hour holding the instant before `until`. */
function hoursOf(window: UsageWindow): { from: number; to: number } {
  return { from: hourOf(window.since.getTime()), to: hourOf(window.until.getTime() - 1) + HOUR_MS };
}

/** The usage API's reads: the store's hourly cells folded per field and client, every product field listed. */
export function createUsageReader(store: UsageStore, catalog: () => SchemaCatalog, retentionMs: number, now: () => number = Date.now): UsageReader {
  return {
    products: () => catalog().products,
    knows: (coordinate) => catalog().entry(coordinate) !== undefined,
    retentionStart: () => new Date(hourOf(now() - retentionMs)),
    now,
    async fieldUsage(product, window) {
      const entries = catalog().coordinatesOf(product);
      const rows = new Map<string, FieldUsageRow>(
        entries.map((e) => [
          e.coordinate,
          { coordinate: e.coordinate, product, requests: 0, errors: 0, rejected: 0, clients: [], firstSeen: null, lastSeen: null, deprecated: e.deprecationReason !== null, deprecationReason: e.deprecationReason },
        ]),
      );
      const clients = new Map<string, Map<string, FieldUsageRow['clients'][number]>>();
      const { from, to } = hoursOf(window);
      for await (const [hour, cells] of chunks(store, product, from, to)) {
        for (const [field, count] of cells) {
          const cell = parseCellField(field);
          if (!cell || (window.client && cell.client !== window.client)) continue;
          const row = rows.get(cell.coordinate);
          if (!row) continue;
          const seen = new Date(hour);
          row.firstSeen ??= seen;
          row.lastSeen = seen;
          if (REJECTED.has(cell.outcome)) {
            row.rejected += count;
            continue;
          }
          row.requests += count;
          if (cell.outcome === 'error') row.errors += count;
          let byClient = clients.get(cell.coordinate);
          if (!byClient) clients.set(cell.coordinate, (byClient = new Map()));
          const key = `${cell.client}\t${cell.version}`;
          let client = byClient.get(key);
          if (!client) byClient.set(key, (client = { name: cell.client, version: cell.version || null, requests: 0, errors: 0, lastSeen: null }));
          client.requests += count;
          if (cell.outcome === 'error') client.errors += count;
          client.lastSeen = seen;
        }
      }
      for (const [coordinate, byClient] of clients) {
        rows.get(coordinate)!.clients = [...byClient.values()].sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name));
      }
      return [...rows.values()];
    },
    async fieldOperations(coordinate, window) {
      const { from, to } = hoursOf(window);
      const product = productOf(catalog(), coordinate);
      const rows = new Map<string, OperationUsageRow & { byClient: Map<string, OperationUsageRow['clients'][number]> }>();
      for await (const [hour, ops] of chunks(store, product, from, to, (f, t) => store.readOperations(product, coordinate, f, t))) {
        const seen = new Date(hour);
        for (const [field, count] of ops) {
          const cell = parseOperationField(field);
          if (!cell || (window.client && cell.client !== window.client)) continue;
          let key = `${cell.name}\t${cell.hash}`;
          let row = rows.get(key);
          if (!row && rows.size >= MAX_OPERATIONS_PER_READ) row = rows.get((key = `${OPERATION_OVERFLOW}\t`));
          if (!row) {
            const overflow = key === `${OPERATION_OVERFLOW}\t`;
            rows.set(key, (row = { name: overflow ? OPERATION_OVERFLOW : cell.name, hash: overflow ? null : cell.hash, requests: 0, lastSeen: seen, clients: [], byClient: new Map() }));
          }
          row.requests += count;
          row.lastSeen = seen;
          let client = row.byClient.get(cell.client);
          if (!client) row.byClient.set(cell.client, (client = { name: cell.client, requests: 0, lastSeen: seen }));
          client.requests += count;
          client.lastSeen = seen;
        }
      }
      return [...rows.values()]
        .map(({ byClient, ...row }) => ({ ...row, clients: [...byClient.values()].sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name)) }))
        .sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name) || (a.hash ?? '').localeCompare(b.hash ?? ''));
    },
    async series(coordinate, window) {
      const { from, to } = hoursOf(window);
      const byHour = new Map<number, { requests: number; errors: number }>();
      // A coordinate's counts are kept with its product's (the recorder groups them the same way).
      for await (const [hour, cells] of chunks(store, productOf(catalog(), coordinate), from, to)) {
        const point = { requests: 0, errors: 0 };
        for (const [field, count] of cells) {
          const cell = parseCellField(field);
          if (!cell || cell.coordinate !== coordinate || (window.client && cell.client !== window.client) || REJECTED.has(cell.outcome)) continue;
          point.requests += count;
          if (cell.outcome === 'error') point.errors += count;
        }
        byHour.set(hour, point);
      }
      const points: UsagePointRow[] = [];
      for (let hour = from; hour < to; hour += HOUR_MS) points.push({ hour: new Date(hour), ...(byHour.get(hour) ?? { requests: 0, errors: 0 }) });
      return points;
    },
  };
}
