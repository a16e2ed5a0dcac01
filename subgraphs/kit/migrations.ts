import { readdirSync } from 'node:fs';
import type { ClientBase } from 'pg';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../../lib/logger.js';
import type { DataProduct } from './data-product.js';
import type { Db, Row } from './db.js';
import { MAX_LISTED_MIGRATIONS } from './published.js';

/**
 * Versioned migrations per data product, applied by node-pg-migrate: the SQL files of
 * `subgraphs/<product>/migrations/` in file-name order, each once, recorded in the product's own
 * table `<schema>.pgmigrations`. One migrator per product at a time: a session advisory lock per
 * product, waited for (a second replica starting together waits, then finds nothing to do).
 */

/** Where node-pg-migrate records what it applied, inside the product's own schema. */
export const MIGRATIONS_TABLE = 'pgmigrations';

/**
 * One database session, as node-pg-migrate uses it: statements in order on one connection (its
 * BEGIN/COMMIT and our session lock must stay on it). A connected `pg.Client` is one; the embedded
 * PGlite gives one too (db.ts).
 */
export interface SqlSession {
  query(text: string, values?: unknown[]): Promise<{ rows: Row[] }>;
}

/** What a product needs to migrate: its name, its PostgreSQL schema, its migration files. */
export type MigratedProduct = Pick<DataProduct, 'name' | 'schemaName' | 'migrationsDir'>;

export interface MigrateOptions {
  /**
   * Run the migrations as this role (`SET ROLE`), so that what they create belongs to it: the
   * superuser migrating for a product whose role exists. Undefined: as the session's own user.
   */
  role?: string | undefined;
  /** Apply at most this many pending migrations (a stepwise upgrade, or a database held at an older version). @default all */
  count?: number | undefined;
  /** Called once when another migrator holds this product's lock, before waiting for it. */
  onWaiting?: () => void;
  logger?: Logger | undefined;
}

/** PostgreSQL's SQLSTATE for a privilege the user lacks. */
const INSUFFICIENT_PRIVILEGE = '42501';

/** A migration run that cannot go ahead for a reason the operator can fix (the message says how). */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

export interface MigrationOutcome {
  readonly product: string;
  /** Names of the migrations this run applied, in order; empty when the database was up to date. */
  readonly applied: readonly string[];
}

/** The lock key of a product's migrations: one per schema, so products migrate independently. */
function lockName(product: MigratedProduct): string {
  return `dpg-migrations:${product.schemaName}`;
}

/** Applies the product's pending migrations, in order, in one transaction; waits while another migrator holds its lock. */
export async function migrateProduct(session: SqlSession, product: MigratedProduct, options: MigrateOptions = {}): Promise<MigrationOutcome> {
  const lock = lockName(product);
  const [tried] = (await session.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [lock])).rows;
  if (tried?.['locked'] !== true) {
    options.logger?.info({ product: product.name }, 'another migrator holds this product\'s lock: waiting');
    options.onWaiting?.();
    await session.query('SELECT pg_advisory_lock(hashtext($1))', [lock]);
  }
  const release = async () => {
    if (options.role) await session.query('RESET ROLE');
    await session.query('SELECT pg_advisory_unlock(hashtext($1))', [lock]);
  };
  let outcome: MigrationOutcome;
  try {
    if (options.role) await session.query(`SET ROLE ${quoteIdent(options.role)}`);
    await ensureSchema(session, product);
    const log = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string) => options.logger?.[level]({ product: product.name }, message);
    const applied = await runner({
      // node-pg-migrate calls only query() on its client (with text and values): a session is enough.
      dbClient: session as unknown as ClientBase,
      dir: product.migrationsDir,
      migrationsTable: MIGRATIONS_TABLE,
      migrationsSchema: product.schemaName,
      direction: 'up',
      ...(options.count === undefined ? {} : { count: options.count }),
      checkOrder: true,
      singleTransaction: true,
      // Our own lock, per product and waited for; node-pg-migrate's is one per database and fails when taken.
      noLock: true,
      logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    });
    outcome = { product: product.name, applied: applied.map((m) => m.name) };
  } catch (error) {
    // The migration's own error is the one to report; a session that broke too loses its lock with it.
    await release().catch(() => undefined);
    throw error;
  }
  await release();
  return outcome;
}

/**
 * The migrations table lives in the product's schema: made here when missing (not by
 * node-pg-migrate's CREATE SCHEMA IF NOT EXISTS, which a role without CREATE on the database may
 * not run even when the schema exists).
 */
async function ensureSchema(session: SqlSession, product: MigratedProduct): Promise<void> {
  try {
    await session.query(
      `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ${quoteLiteral(product.schemaName)}) THEN CREATE SCHEMA ${quoteIdent(product.schemaName)}; END IF; END $$`,
    );
  } catch (error) {
    if ((error as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) throw error;
    // The product's own role may not create schemas: the init step makes it one.
    throw new MigrationError(
      `${product.name}: schema ${product.schemaName} does not exist and this user may not create it: run npm run migrate -- --init-roles as a superuser first`,
      { cause: error },
    );
  }
}

/** The migration state a product publishes in the catalogue. */
export interface MigrationState {
  /** The latest applied migrations (at most MAX_LISTED_MIGRATIONS), oldest first. */
  readonly applied: readonly { readonly name: string; readonly appliedAt: string }[];
  /** The last applied migration's name; null when none is. */
  readonly latest: string | null;
  /** Migrations this version of the product ships that the database has not applied. */
  readonly pending: number;
}

/** Migration names shipped with the product (file names without `.sql`), in order; read once per directory. */
const shipped = new Map<string, readonly string[]>();
export function shippedMigrations(product: MigratedProduct): readonly string[] {
  let names = shipped.get(product.migrationsDir);
  if (!names) {
    names = readdirSync(product.migrationsDir)
      .filter((file) => file.endsWith('.sql'))
      .map((file) => file.slice(0, -'.sql'.length))
      .sort();
    shipped.set(product.migrationsDir, names);
  }
  return names;
}

/** What the database holds against what the product ships. */
export async function migrationState(db: Db, product: MigratedProduct): Promise<MigrationState> {
  const table = `${quoteIdent(product.schemaName)}.${MIGRATIONS_TABLE}`;
  const [exists] = await db.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [table]);
  const rows = exists?.found
    ? await db.query<{ name: string; run_on: Date }>(`SELECT name, run_on FROM ${table} ORDER BY run_on DESC, id DESC LIMIT ${MAX_LISTED_MIGRATIONS}`)
    : [];
  const shippedNames = [...shippedMigrations(product)];
  // Counted in the database: however many migrations it has recorded, one number comes back.
  const [pending] = exists?.found
    ? await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM unnest($1::text[]) AS s(name) WHERE NOT EXISTS (SELECT 1 FROM ${table} m WHERE m.name = s.name)`, [shippedNames])
    : [{ n: shippedNames.length }];
  const applied = rows.reverse().map((r) => ({ name: r.name, appliedAt: toIso(r.run_on) }));
  return { applied, latest: applied.at(-1)?.name ?? null, pending: pending?.n ?? shippedNames.length };
}

/** `run_on` is a timestamp without time zone written with NOW() in the session's zone; read back as given. */
function toIso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/** A double-quoted identifier (role and schema names come from our configuration, never from a request). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
