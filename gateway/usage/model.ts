/** What happened to one field of one operation, for usage counts. */
export const OUTCOMES = ['ok', 'error', 'forbidden', 'rate_limited', 'rejected'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** One counted cell: an hour, a schema coordinate, a client (name and version), an outcome. */
export interface UsageCell {
  /** Start of the hour, ms since the epoch. */
  readonly hour: number;
  readonly coordinate: string;
  readonly client: string;
  /** '' when the client sent no version. */
  readonly version: string;
  readonly outcome: Outcome;
}

export const HOUR_MS = 3_600_000;
export const hourOf = (ms: number): number => ms - (ms % HOUR_MS);

const SEP = '\t';
/** The field of a cell inside its hour (tabs never occur in normalized names or coordinates). */
export function cellField(cell: Omit<UsageCell, 'hour'>): string {
  return [cell.coordinate, cell.client, cell.version, cell.outcome].join(SEP);
}

export function parseCellField(field: string): Omit<UsageCell, 'hour'> | undefined {
  const [coordinate, client, version, outcome] = field.split(SEP);
  if (!coordinate || client === undefined || version === undefined || !(OUTCOMES as readonly string[]).includes(outcome ?? '')) return undefined;
  return { coordinate, client, version, outcome: outcome as Outcome };
}

/** The coordinate of a cell field, without parsing the rest. */
export function coordinateOfField(field: string): string {
  const end = field.indexOf(SEP);
  return end < 0 ? field : field.slice(0, end);
}

/**
 * Which operations read a field: besides its cells, an hour keeps, per coordinate, requests per
 * (operation name, document hash, client name). Only operations that ran count (`ok` and `error`,
 * as `requests` does); an operation is its name (`(anonymous)` without one) and the SHA-256 (hex)
 * of its document, the id trusted documents and persisted queries use. Operations past the hour's
 * cap are counted under OPERATION_OVERFLOW with an empty hash.
 */
export const ANONYMOUS_OPERATION = '(anonymous)';
export const OPERATION_OVERFLOW = '~other';

export interface OperationCell {
  readonly name: string;
  /** '' for OPERATION_OVERFLOW. */
  readonly hash: string;
  readonly client: string;
}

/** The field of an operation cell inside its coordinate's hour (names are GraphQL names or ours: no tabs). */
export function operationField(cell: OperationCell): string {
  return [cell.name, cell.hash, cell.client].join(SEP);
}

export function parseOperationField(field: string): OperationCell | undefined {
  const [name, hash, client, extra] = field.split(SEP);
  if (!name || hash === undefined || !client || extra !== undefined) return undefined;
  return { name, hash, client };
}

/**
 * Counts are kept per hour and data product, the unit a view reads: one product's hours for its
 * field usage, one coordinate's product's hours for a series. Coordinates no product serves (the
 * gateway's own usage API, introspection, anything recorded before the schema was known) are kept
 * under this group, which no view reads but which still counts.
 */
export const OTHER_PRODUCT = '~other';

/** The group a coordinate's counts are kept under: the product serving it, else OTHER_PRODUCT. */
export function productOf(catalog: { entry(coordinate: string): { readonly product: string } | undefined } | undefined, coordinate: string): string {
  return catalog?.entry(coordinate)?.product ?? OTHER_PRODUCT;
}

/** One hour of one product's counts: cell field -> count. */
export interface UsagePart {
  /** Start of the hour, ms since the epoch. */
  readonly hour: number;
  readonly product: string;
  readonly cells: ReadonlyMap<string, number>;
  /** Coordinate -> (operation field -> requests): which operations read each field this hour. */
  readonly operations?: ReadonlyMap<string, ReadonlyMap<string, number>> | undefined;
}

/**
 * A flush, applied to the store exactly once under its id. Its parts are fixed when it is formed,
 * so a retry splits exactly as the first attempt did (a store may apply each part on its own).
 */
export interface UsageBatch {
  readonly id: string;
  readonly parts: readonly UsagePart[];
}

/** Counts read back for a window: hour -> (cell field -> count). */
export type UsageCounts = Map<number, Map<string, number>>;

/**
 * Where usage counts live. `apply` is idempotent per batch id (a retried flush never counts twice);
 * `read` returns one product's hours of a window that have counts.
 */
export interface UsageStore {
  /** Resolves once the store can be written (a shared store has connected); rejects when it cannot yet. */
  ready(): Promise<void>;
  apply(batch: UsageBatch): Promise<void>;
  read(product: string, fromHour: number, toHour: number): Promise<UsageCounts>;
  /** One coordinate's operation cells (hour -> operation field -> requests), of the product that serves it. */
  readOperations(product: string, coordinate: string, fromHour: number, toHour: number): Promise<UsageCounts>;
  close(): Promise<void>;
}

/**
 * One hour of one product's counts taken out of the hot store to be rolled up into the history:
 * set aside under `id` (no longer read, no longer written: later counts of that hour start anew)
 * until the history holds it and it is released. A roll-up that stopped between the two finds the
 * same snapshot, same id, the next time, so the history adds it once.
 */
export interface UsageSnapshot {
  readonly id: string;
  readonly hour: number;
  readonly product: string;
  readonly cells: ReadonlyMap<string, number>;
  /** Coordinate -> (operation field -> requests). */
  readonly operations: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

/** A hot store whose closed hours can be moved to the history (gateway/usage/rollup.ts). */
export interface RollableUsageStore extends UsageStore {
  /** Hours in [fromHour, toHour) that hold counts of the product, or a snapshot not yet released. */
  hoursWithCounts(product: string, fromHour: number, toHour: number): Promise<number[]>;
  /** Sets an hour's counts aside (or returns the snapshot a previous roll-up set aside and did not release); undefined when there is nothing. */
  takeHour(hour: number, product: string): Promise<UsageSnapshot | undefined>;
  /** Drops a snapshot, once the history holds it. */
  releaseHour(snapshot: UsageSnapshot): Promise<void>;
}
