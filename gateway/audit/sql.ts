import pg from 'pg';

export type Row = Record<string, unknown>;

export interface SqlQueryable {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/**
 * The audit trail's one path to its database: the same SQL on PostgreSQL and on PGlite. Writes
 * need transactions (SET LOCAL ROLE lasts one), so this is not the data products' `Db`.
 */
export interface AuditSql extends SqlQueryable {
  readonly kind: 'postgres' | 'embedded';
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Per statement on PostgreSQL, in ms: a write that hangs is a failed write (retried), not a stuck queue. */
export const AUDIT_STATEMENT_TIMEOUT_MS = 5_000;
const POOL_SIZE = 4;

export function createPostgresAuditSql(url: string): AuditSql {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    statement_timeout: AUDIT_STATEMENT_TIMEOUT_MS,
    // Also on the client side: a cut network never answers, and the server cannot time that out.
    query_timeout: AUDIT_STATEMENT_TIMEOUT_MS,
    connectionTimeoutMillis: AUDIT_STATEMENT_TIMEOUT_MS,
  });
  // A connection dying (database down, network cut) must not crash the gateway: idle ones report
  // to the pool, checked-out ones to themselves; the statement in flight fails either way, and
  // the writer retries it.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return {
    kind: 'postgres',
    async query<T extends Row>(sql: string, params: readonly unknown[] = []) {
      return (await pool.query<T>(sql, params as unknown[])).rows;
    },
    async transaction(work) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('begin');
        const result = await work({ query: async <T extends Row>(sql: string, params: readonly unknown[] = []) => (await client.query<T>(sql, params as unknown[])).rows });
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
      } finally {
        // A connection whose rollback failed is in an unknown state: destroyed, not pooled.
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/** Embedded PostgreSQL: in memory, or on disk in `dataDir` (which survives restarts). */
export async function createEmbeddedAuditSql(dataDir: string | undefined): Promise<AuditSql> {
  // Loaded here: a gateway whose trail is on PostgreSQL never loads PGlite.
  const { PGlite } = await import('@electric-sql/pglite');
  const lite = await PGlite.create(dataDir);
  return {
    kind: 'embedded',
    async query<T extends Row>(sql: string, params: readonly unknown[] = []) {
      return (await lite.query<T>(sql, params as unknown[])).rows;
    },
    transaction: (work) => lite.transaction((tx) => work({ query: async <T extends Row>(sql: string, params: readonly unknown[] = []) => (await tx.query<T>(sql, params as unknown[])).rows })),
    close: () => lite.close(),
  };
}
