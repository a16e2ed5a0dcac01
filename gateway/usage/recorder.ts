import { serialRounds } from '../../lib/serial-rounds.js';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../lib/logger.js';
import { cellField, coordinateOfField, hourOf, operationField, OTHER_PRODUCT, type Outcome, type UsageBatch, type UsagePart, type UsageStore } from './model.js';
import type { OperationLabel } from './operations.js';

export interface UsageRecorderOptions {
  store: UsageStore;
  /** Between flushes, in ms. @default 1000 */
  flushIntervalMs?: number;
  logger: Logger;
  now?: () => number;
  /** Called after each flush attempt, for metrics. */
  onFlush?: (result: { ok: boolean; lagMs: number }) => void;
  /** The data product whose counts a coordinate's belong with (the store keeps each hour of each product apart). @default every coordinate in OTHER_PRODUCT */
  productOf?: (coordinate: string) => string;
  /**
   * The label an operation is counted under in one hour of one product (the cap of distinct
   * operations, gateway/usage/operations.ts). @default every operation under its own label
   */
  operationLabel?: (hour: number, product: string, operation: OperationLabel) => OperationLabel;
}

export interface UsageRecorder {
  /** Counts one operation: each coordinate once, with its outcome. Cheap: a few map updates. */
  record(event: { coordinates: readonly string[]; outcomeOf: (coordinate: string) => Outcome; client: string; version: string; operation?: OperationLabel | undefined }): void;
  /** Flushes now (and retries what failed before); resolves when the store has everything or it failed. */
  flush(): Promise<boolean>;
  /** Age of the oldest count not yet in the store, in ms (0 when all is flushed). */
  lagMs(): number;
  /** Stops the timer and flushes until the store has everything or `deadlineMs` passes. */
  close(deadlineMs: number): Promise<void>;
}

type Counts = Map<number, Map<string, number>>;
/** hour -> product -> coordinate -> (operation field -> requests) */
type OperationCounts = Map<number, Map<string, Map<string, Map<string, number>>>>;
/** One product's operation cells of the hour, and the field this request's operation counts under in them. */
interface OperationGroup {
  readonly product: string;
  readonly byCoordinate: Map<string, Map<string, number>>;
  readonly opField: string;
}
const NO_OPERATIONS: ReadonlyMap<string, ReadonlyMap<string, number>> = new Map();

/** Only operations that ran read a field (as `requests` counts them); refused ones and denied fields did not. */
const READ: ReadonlySet<Outcome> = new Set(['ok', 'error']);

/** On close, between attempts to flush to a store that failed. */
const CLOSE_RETRY_MS = 200;

/** Splits an hour -> cells aggregate into its (hour, product) parts, once, when a batch is formed. */
function partsOf(counts: Counts, operations: OperationCounts, productOf: (coordinate: string) => string): UsagePart[] {
  const parts: UsagePart[] = [];
  for (const [hour, cells] of counts) {
    const byProduct = new Map<string, Map<string, number>>();
    for (const [field, count] of cells) {
      const product = productOf(coordinateOfField(field));
      let part = byProduct.get(product);
      if (!part) byProduct.set(product, (part = new Map()));
      part.set(field, count);
    }
    // Operation cells were grouped by product when recorded; a catalogue reloaded since may group
    // a product differently: a part may then carry only one of the two.
    const hourOperations = operations.get(hour);
    const products = new Set([...byProduct.keys(), ...(hourOperations?.keys() ?? [])]);
    for (const product of products) {
      parts.push({ hour, product, cells: byProduct.get(product) ?? new Map(), operations: hourOperations?.get(product) ?? NO_OPERATIONS });
    }
  }
  return parts;
}

/**
 * Aggregates in process and flushes in batches. Exactly once: a batch keeps its id until the store
 * accepted it, and a failed batch is retried as it was (same id, same counts: the store skips it if
 * an earlier attempt landed after all). Counts recorded meanwhile wait in the next batch, which is
 * only formed when the previous one is done, so memory stays bounded by the number of distinct
 * cells, however long the store is down. A batch is split into its (hour, product) parts when it
 * is formed, never again: a retry carries the very same parts, whatever the catalogue says by then.
 */
export function createUsageRecorder(options: UsageRecorderOptions): UsageRecorder {
  const now = options.now ?? Date.now;
  const productOf = options.productOf ?? (() => OTHER_PRODUCT);
  const operationLabel = options.operationLabel ?? ((_hour: number, _product: string, operation: OperationLabel) => operation);
  let pending: Counts = new Map();
  let pendingOperations: OperationCounts = new Map();
  let pendingSince: number | undefined;
  let inFlight: { batch: UsageBatch; since: number } | undefined;

  const attempt = async (): Promise<boolean> => {
    if (!inFlight) {
      if (pending.size === 0) return true;
      inFlight = { batch: { id: randomUUID(), parts: partsOf(pending, pendingOperations, productOf) }, since: pendingSince ?? now() };
      pending = new Map();
      pendingOperations = new Map();
      pendingSince = undefined;
    }
    const { batch } = inFlight;
    try {
      await options.store.apply(batch);
      inFlight = undefined;
      options.onFlush?.({ ok: true, lagMs: lag() });
      return true;
    } catch (error) {
      options.logger.warn({ err: error, batch: batch.id }, 'usage flush failed; will retry');
      options.onFlush?.({ ok: false, lagMs: lag() });
      return false;
    }
  };

  // Rounds run one after the other (lib/serial-rounds.ts): the batch in flight first, then
  // whatever accumulated while it was out.
  const flush = serialRounds(async () => (await attempt()) && (await attempt()));

  const lag = () => {
    const oldest = Math.min(inFlight?.since ?? Infinity, pendingSince ?? Infinity);
    return Number.isFinite(oldest) ? now() - oldest : 0;
  };

  const timer = setInterval(() => void flush(), options.flushIntervalMs ?? 1_000);
  timer.unref();

  return {
    record({ coordinates, outcomeOf, client, version, operation }) {
      if (coordinates.length === 0) return;
      const at = now();
      const hour = hourOf(at);
      let cells = pending.get(hour);
      if (!cells) pending.set(hour, (cells = new Map()));
      pendingSince ??= at;
      // The products this operation's coordinates belong to (mostly one or two): each is labelled
      // once per request, so the cap is asked once per product and its overflow counted once.
      let groups: OperationGroup[] | undefined;
      let group: OperationGroup | undefined;
      for (const coordinate of coordinates) {
        const outcome = outcomeOf(coordinate);
        const field = cellField({ coordinate, client, version, outcome });
        cells.set(field, (cells.get(field) ?? 0) + 1);
        if (!operation || !READ.has(outcome)) continue;
        const product = productOf(coordinate);
        if (group?.product !== product) {
          groups ??= [];
          group = groups.find((g) => g.product === product);
          if (!group) {
            let byProduct = pendingOperations.get(hour);
            if (!byProduct) pendingOperations.set(hour, (byProduct = new Map()));
            let byCoordinate = byProduct.get(product);
            if (!byCoordinate) byProduct.set(product, (byCoordinate = new Map()));
            const label = operationLabel(hour, product, operation);
            groups.push((group = { product, byCoordinate, opField: operationField({ name: label.name, hash: label.hash, client }) }));
          }
        }
        const { byCoordinate, opField } = group;
        let ops = byCoordinate.get(coordinate);
        if (!ops) byCoordinate.set(coordinate, (ops = new Map()));
        ops.set(opField, (ops.get(opField) ?? 0) + 1);
      }
    },
    flush,
    lagMs: lag,
    async close(deadlineMs) {
      clearInterval(timer);
      // A bound on real time, not on the injected clock (which a test may freeze): shutdown ends.
      const until = performance.now() + deadlineMs;
      const timeLeft = () => until - performance.now();
      for (;;) {
        // A store that never answers must not hold the shutdown either.
        let giveUp: NodeJS.Timeout | undefined;
        const flushed = await Promise.race([flush(), new Promise<boolean>((resolve) => (giveUp = setTimeout(() => resolve(false), Math.max(0, timeLeft()))))]);
        clearTimeout(giveUp);
        if (flushed) return;
        if (timeLeft() <= 0) {
          options.logger.error({ lagMs: lag() }, 'usage not flushed before shutdown');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(CLOSE_RETRY_MS, timeLeft())));
      }
    },
  };
}
