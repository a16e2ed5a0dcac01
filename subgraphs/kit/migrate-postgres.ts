import pg from 'pg';
import type { Logger } from '../../lib/logger.js';
import { migrateProduct, type MigratedProduct, type MigrationOutcome, type SqlSession } from './migrations.js';
import { migrationRole } from './roles.js';

/** Runs `work` on one dedicated connection (a session: locks and transactions stay on it), then closes it. */
export async function withSession<T>(url: string, work: (session: SqlSession) => Promise<T>): Promise<T> {
  // No statement timeout: waiting for another migrator's lock, or a long index build, is expected here.
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // A connection lost mid-migration is reported by the failing query; this keeps it from crashing the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface MigratePostgresOptions {
  /** The product's own role: migrations run as it when the URL's user is someone who may become it (the superuser). */
  role: string;
  logger?: Logger | undefined;
  onWaiting?: () => void;
  /** At most this many pending migrations. @default all */
  count?: number | undefined;
}

/** Migrates one product over its own connection to `url`. */
export function migratePostgres(url: string, product: MigratedProduct, options: MigratePostgresOptions): Promise<MigrationOutcome> {
  return withSession(url, async (session) =>
    migrateProduct(session, product, { role: await migrationRole(session, options.role, product.schemaName), logger: options.logger, onWaiting: options.onWaiting, count: options.count }),
  );
}
