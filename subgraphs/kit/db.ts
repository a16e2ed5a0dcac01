import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';

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

export function createPostgresDb(options: PostgresOptions): Db {
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
    close: () => pool.end(),
  };
}

/** PostgreSQL compiled to WebAssembly, in memory: heavy (about 700 MB RSS), so share one per process. */
export async function createEmbeddedDb(): Promise<Db> {
  const lite = await PGlite.create();
  return {
    kind: 'embedded',
    async query<T extends Row>(sql: string, params: readonly unknown[] = []) {
      const result = await lite.query<T>(sql, params as unknown[]);
      return result.rows;
    },
    async exec(sql) {
      await lite.exec(sql);
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
