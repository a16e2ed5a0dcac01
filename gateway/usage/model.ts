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

/** A flush: counts per cell, applied to the store exactly once under its id. */
export interface UsageBatch {
  readonly id: string;
  /** hour -> (cell field -> count) */
  readonly counts: ReadonlyMap<number, ReadonlyMap<string, number>>;
}

/** Counts read back for a window: hour -> (cell field -> count). */
export type UsageCounts = Map<number, Map<string, number>>;

/**
 * Where usage counts live. `apply` is idempotent per batch id (a retried flush never counts twice);
 * `read` returns the hours of a window that have counts.
 */
export interface UsageStore {
  /** Resolves once the store can be written (a shared store has connected); rejects when it cannot yet. */
  ready(): Promise<void>;
  apply(batch: UsageBatch): Promise<void>;
  read(fromHour: number, toHour: number): Promise<UsageCounts>;
  close(): Promise<void>;
}
