import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import type { SqlSession } from './migrations.js';

export type Row = Record<string, unknown>;

/**
 * The one data-access path of every data product: the same SQL runs on PostgreSQL (DATABASE_URL)
 * and on the embedded PGlite default. Statements use `$1` placeholders; arrays bind as PostgreSQL
 * arrays (`= ANY($1::text[])`).
 */
export interface Db {
  readonly kind: 'postgres' | 'embedded';
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A database handle that can run work in one transaction: all of it commits, or none of it does.
 * Only the two real databases give it; the per-product handles (counting, traced) do not, so a
 * request path cannot open one by accident.
 */
export interface TransactionalDb extends Db {
  /** Runs `work` on one connection between BEGIN and COMMIT; a throw (or rejection) rolls back and is rethrown. */
  transaction<T>(work: (tx: Db) => Promise<T>): Promise<T>;
}

export interface PostgresOptions {
  /** Connection string, e.g. postgres://postgres@127.0.0.1:5432/test. */
  url: string;
  /** Pool size. @default 10 */
  maxConnections?: number;
  /** Per statement, in milliseconds; a runaway query is cancelled by the server. @default 5000 */
  statementTimeoutMs?: number;
}

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;

export function createPostgresDb(options: PostgresOptions): TransactionalDb {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? DEFAULT_POOL_SIZE,
    statement_timeout: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return {
    kind: 'postgres',
    async query<T extends Row>(sql: string, params: readonly unknown[] = []) {
      const result = await pool.query<T>(sql, params as unknown[]);
      return result.rows;
    },
    async exec(sql) {
      await pool.query(sql);
    },
    async transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const tx: Db = {
          kind: 'postgres',
          async query<R extends Row>(sql: string, params: readonly unknown[] = []) {
            return (await client.query<R>(sql, params as unknown[])).rows;
          },
          async exec(sql) {
            await client.query(sql);
          },
          // The connection belongs to the transaction.
          close: async () => undefined,
        };
        const result = await work(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          // A connection that cannot even roll back is not returned to the pool.
          broken = rollbackError as Error;
        }
        throw error;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/** The embedded database: also a session for the migrations (PGlite is one connection anyway). */
export interface EmbeddedDb extends TransactionalDb {
  readonly session: SqlSession;
}

/** PostgreSQL compiled to WebAssembly, in memory: heavy (about 700 MB RSS), so share one per process. */
export async function createEmbeddedDb(): Promise<EmbeddedDb> {
  const lite = await PGlite.create();
  return {
    kind: 'embedded',
    session: {
      // With values: one statement (extended protocol). Without: possibly several (a migration file),
      // as PostgreSQL's simple protocol takes them; the last statement's rows are the answer, as pg's are.
      async query(text, values) {
        if (values && values.length > 0) return { rows: (await lite.query<Row>(text, values)).rows };
        const results = await lite.exec(text);
        return { rows: (results.at(-1)?.rows ?? []) as Row[] };
      },
    },
    async query<T extends Row>(sql: string, params: readonly unknown[] = []) {
      const result = await lite.query<T>(sql, params as unknown[]);
      return result.rows;
    },
    async exec(sql) {
      await lite.exec(sql);
    },
    transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
      // PGlite runs BEGIN/COMMIT itself and rolls back when the callback throws.
      return lite.transaction((t) =>
        work({
          kind: 'embedded',
          async query<R extends Row>(sql: string, params: readonly unknown[] = []) {
            return (await t.query<R>(sql, params as unknown[])).rows;
          },
          async exec(sql) {
            await t.exec(sql);
          },
          close: async () => undefined,
        }),
      );
    },
    close: () => lite.close(),
  };
}

export interface CountingDb extends Db {
  /** Statements run through this handle since it was made or last reset. */
  readonly queryCount: number;
  resetCount(): void;
}

/** A handle on a shared Db that counts its own statements: one per data product, to prove batching. */
export function countingDb(inner: Db): CountingDb {
  let count = 0;
  return {
    kind: inner.kind,
    get queryCount() {
      return count;
    },
    resetCount() {
      count = 0;
    },
    query(sql, params) {
      count += 1;
      return inner.query(sql, params);
    },
    exec: (sql) => inner.exec(sql),
    // The shared database belongs to whoever created it.
    close: async () => undefined,
  };
}
