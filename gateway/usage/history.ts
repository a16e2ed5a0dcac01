import { createPostgresAuditSql, type AuditSql, type SqlQueryable } from '../audit/sql.js';
import type { UsageCounts, UsageSnapshot } from './model.js';

/** The usage history's PostgreSQL schema by default (USAGE_SCHEMA changes it, for tests chiefly). */
export const DEFAULT_USAGE_SCHEMA = 'usage';
/** A schema name that is safe to splice into DDL unquoted. */
export const USAGE_SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,40}$/;

/**
 * Closed hours of usage, rolled up from the hot store (Redis, or the process) into PostgreSQL,
 * where they survive a Redis restart and are backed up with the rest. Exactly once: a snapshot is
 * added in one transaction together with its id, and an id already there is skipped, so a roll-up
 * repeated or stopped half way neither loses nor doubles a count.
 */
export interface UsageHistory {
  /** Creates the schema and its tables when missing; resolves once the history can be used. */
  ready(): Promise<void>;
  /** Adds a snapshot's counts, once: false when its id was added before (nothing changes). */
  add(snapshot: UsageSnapshot): Promise<boolean>;
  /** One product's hours in [fromHour, toHour): hour -> (cell field -> count). */
  read(product: string, fromHour: number, toHour: number): Promise<UsageCounts>;
  /** One coordinate's operation cells in [fromHour, toHour): hour -> (operation field -> requests). */
  readOperations(product: string, coordinate: string, fromHour: number, toHour: number): Promise<UsageCounts>;
  /** Deletes hours before `beforeHour` (the retention), and the ids of their snapshots. */
  purge(beforeHour: number): Promise<void>;
  close(): Promise<void>;
}

function ddl(s: string): string {
  return /* SQL */ `
create schema if not exists ${s};
-- One row per hour, product and cell (coordinate, client, version, outcome): its count.
create table if not exists ${s}.cells (
  product text not null,
  hour bigint not null,
  field text not null,
  count bigint not null check (count >= 0),
  primary key (product, hour, field)
);
-- One row per hour, field and operation cell (operation name, document hash, client): requests.
create table if not exists ${s}.operations (
  product text not null,
  coordinate text not null,
  hour bigint not null,
  field text not null,
  count bigint not null check (count >= 0),
  primary key (product, coordinate, hour, field)
);
-- What was rolled up: a snapshot's id is added with its counts, in the same transaction.
create table if not exists ${s}.rollups (
  id text primary key,
  product text not null,
  hour bigint not null,
  cells integer not null,
  rolled_at timestamptz not null default now()
);
create index if not exists rollups_hour on ${s}.rollups (hour);
-- The retention's purge deletes by hour alone.
create index if not exists cells_hour on ${s}.cells (hour);
create index if not exists operations_hour on ${s}.operations (hour);
`;
}

async function addCounts(tx: SqlQueryable, s: string, snapshot: UsageSnapshot): Promise<void> {
  const fields = [...snapshot.cells.keys()];
  if (fields.length) {
    await tx.query(
      `insert into ${s}.cells (product, hour, field, count)
       select $1, $2, f, c from unnest($3::text[], $4::bigint[]) as t(f, c)
       on conflict (product, hour, field) do update set count = ${s}.cells.count + excluded.count`,
      [snapshot.product, snapshot.hour, fields, fields.map((f) => snapshot.cells.get(f)!)],
    );
  }
  const coordinates: string[] = [];
  const opFields: string[] = [];
  const counts: number[] = [];
  for (const [coordinate, ops] of snapshot.operations) {
    for (const [field, count] of ops) {
      coordinates.push(coordinate);
      opFields.push(field);
      counts.push(count);
    }
  }
  if (opFields.length) {
    await tx.query(
      `insert into ${s}.operations (product, coordinate, hour, field, count)
       select $1, c, $2, f, n from unnest($3::text[], $4::text[], $5::bigint[]) as t(c, f, n)
       on conflict (product, coordinate, hour, field) do update set count = ${s}.operations.count + excluded.count`,
      [snapshot.product, snapshot.hour, coordinates, opFields, counts],
    );
  }
}

function countsOf(rows: { hour: string | number; field: string; count: string | number }[]): UsageCounts {
  const out: UsageCounts = new Map();
  for (const row of rows) {
    const hour = Number(row.hour);
    let cells = out.get(hour);
    if (!cells) out.set(hour, (cells = new Map()));
    cells.set(row.field, Number(row.count));
  }
  return out;
}

export function createUsageHistory(sql: AuditSql, schema: string): UsageHistory {
  if (!USAGE_SCHEMA_PATTERN.test(schema)) throw new Error(`usage schema "${schema}" is not a plain lower-case name`);
  const s = schema;
  let created: Promise<void> | undefined;
  const ready = () => {
    // Retried on the next use when it failed (the database was not up yet).
    created ??= sql.query(ddl(s)).then(
      () => undefined,
      (error: unknown) => {
        created = undefined;
        throw error;
      },
    );
    return created;
  };
  return {
    ready,
    async add(snapshot) {
      await ready();
      return sql.transaction(async (tx) => {
        const marked = await tx.query(`insert into ${s}.rollups (id, product, hour, cells) values ($1, $2, $3, $4) on conflict (id) do nothing returning id`, [
          snapshot.id,
          snapshot.product,
          snapshot.hour,
          snapshot.cells.size,
        ]);
        if (marked.length === 0) return false;
        await addCounts(tx, s, snapshot);
        return true;
      });
    },
    async read(product, fromHour, toHour) {
      await ready();
      return countsOf(await sql.query<{ hour: string; field: string; count: string }>(`select hour, field, count from ${s}.cells where product = $1 and hour >= $2 and hour < $3`, [product, fromHour, toHour]));
    },
    async readOperations(product, coordinate, fromHour, toHour) {
      await ready();
      return countsOf(
        await sql.query<{ hour: string; field: string; count: string }>(`select hour, field, count from ${s}.operations where product = $1 and coordinate = $2 and hour >= $3 and hour < $4`, [
          product,
          coordinate,
          fromHour,
          toHour,
        ]),
      );
    },
    async purge(beforeHour) {
      await ready();
      await sql.transaction(async (tx) => {
        await tx.query(`delete from ${s}.cells where hour < $1`, [beforeHour]);
        await tx.query(`delete from ${s}.operations where hour < $1`, [beforeHour]);
        await tx.query(`delete from ${s}.rollups where hour < $1`, [beforeHour]);
      });
    },
    close: () => sql.close(),
  };
}

/** The history on PostgreSQL at `url`, in `schema` (the gateway's own role owns it). */
export function createPostgresUsageHistory(url: string, schema: string): UsageHistory {
  return createUsageHistory(createPostgresAuditSql(url), schema);
}
