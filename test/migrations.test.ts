import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRoles, ensureAuditSchema } from '../gateway/audit/schema.js';
import { createPostgresAuditSql } from '../gateway/audit/sql.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { DEFAULT_POLICIES_FILE } from '../lib/policies.js';
import { PRODUCT_NAMES, type ProductName } from '../subgraphs/kit/data-product.js';
import { createEmbeddedDb } from '../subgraphs/kit/db.js';
import { migratePostgres, withSession } from '../subgraphs/kit/migrate-postgres.js';
import { migrateProduct, migrationState, shippedMigrations } from '../subgraphs/kit/migrations.js';
import { initProductRoles } from '../subgraphs/kit/roles.js';
import { migrateDatabase } from '../subgraphs/migrate.js';
import { customerProduct, dataProducts } from '../subgraphs/products.js';
import { runDataProducts } from '../subgraphs/run.js';
import { dropAuditRoles } from './helpers/audit.js';
import { createScratchDatabase } from './helpers/database.js';
import { spawnTs } from './helpers/process.js';
import { postGraphQL } from './helpers/http.js';
import { gatewayEnv, tokenFor } from './helpers/stack.js';

/*
 * Versioned migrations per data product (node-pg-migrate over subgraphs/<product>/migrations/),
 * and each product's own role on PostgreSQL. Every test makes its own scratch database; roles are
 * cluster-wide, so this run's are named with a random part and dropped at the end.
 */

const base = process.env.DATABASE_URL;
const silent = createLogger('test', 'silent');
const INITIAL = '20260101000000000_initial';
const PREFERRED_LANGUAGE = '20261201000000000_preferred-language';
const OUTBOX = '20261202000000000_event-outbox';
const CUSTOMER_MIGRATIONS = [INITIAL, PREFERRED_LANGUAGE, OUTBOX];
const FINANCE_MIGRATIONS = [INITIAL, OUTBOX];
/** Takes the customer schema back to migration 1 (its later migrations undone and unrecorded). */
const CUSTOMER_BACK_TO_INITIAL = `DROP TABLE customer.event_outbox; DROP INDEX customer.customers_preferred_language_id_idx; ALTER TABLE customer.customers DROP COLUMN preferred_language;
  DELETE FROM customer.pgmigrations WHERE name IN ('${PREFERRED_LANGUAGE}', '${OUTBOX}')`;

/** A connection to `url` as `user` (the server trusts loopback in CI; the password is passed anyway). */
function asUser(url: string, user: string, password?: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password ?? '';
  return u.toString();
}

async function query<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return withSession(url, async (session) => (await session.query(sql, params)).rows as T[]);
}

/** Runs `sql` and gives the PostgreSQL error code it failed with, or 'ok'. */
async function sqlstate(url: string, sql: string): Promise<string> {
  try {
    await query(url, sql);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? 'unknown';
  }
}

const counts = (url: string) =>
  query<{ customers: number; segments: number; transactions: number; products: number }>(
    url,
    `SELECT (SELECT count(*) FROM customer.customers)::int AS customers, (SELECT count(*) FROM customer.segments)::int AS segments,
            (SELECT count(*) FROM finance.transactions)::int AS transactions, (SELECT count(*) FROM product.products)::int AS products`,
  );

/** Some rows in every product, written with plain SQL (the seed needs the latest schema). */
async function insertRows(url: string, customers: number): Promise<void> {
  await query(
    url,
    `INSERT INTO customer.customers (id, name, first_name, last_name, email, country, signup_date, status)
     SELECT 'C' || lpad(i::text, 6, '0'), 'Ada ' || i, 'Ada', 'L' || i, 'ada' || i || '@example.com', 'GB', date '2024-01-01' + i, 'ACTIVE'
       FROM generate_series(1, $1::int) AS i`,
    [customers],
  );
  await query(url, `INSERT INTO customer.segments (customer_id, name, score) SELECT id, 'vip', 0.5 FROM customer.customers`);
  await query(url, `INSERT INTO finance.fx_rates (currency, usd_per_unit, as_of) VALUES ('USD', 1, date '2024-01-01')`);
  await query(url, `INSERT INTO finance.transactions (id, customer_id, amount, currency, ts) SELECT 'T' || id, id, 10, 'USD', now() FROM customer.customers`);
  await query(url, `INSERT INTO product.products (sku, name, category, price) VALUES ('SKU-1', 'Lamp', 'home', 20)`);
}

describe.runIf(base)('versioned migrations on PostgreSQL', () => {
  const drops: (() => Promise<void>)[] = [];
  const scratch = async () => {
    const db = await createScratchDatabase(base!);
    drops.push(() => db.drop());
    return db.url;
  };
  afterAll(async () => {
    for (const drop of drops.reverse()) await drop();
  });

  it('applies every product\'s migrations in order, once; a second run applies nothing; each product\'s own table lists them', async () => {
    const url = await scratch();
    const first = await migrateDatabase({ fallbackUrl: url });
    expect(first).toEqual([
      { product: 'customer', applied: CUSTOMER_MIGRATIONS },
      { product: 'finance', applied: FINANCE_MIGRATIONS },
      { product: 'product', applied: [INITIAL] },
    ]);
    expect(await migrateDatabase({ fallbackUrl: url })).toEqual([
      { product: 'customer', applied: [] },
      { product: 'finance', applied: [] },
      { product: 'product', applied: [] },
    ]);
    for (const product of dataProducts) {
      const rows = await query<{ name: string }>(url, `SELECT name FROM ${product.schemaName}.pgmigrations ORDER BY id`);
      expect(rows.map((r) => r.name)).toEqual([...shippedMigrations(product)]);
    }
    // Nothing in the shared public schema: each product's record is its own.
    expect(await query(url, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)).toEqual([]);
  });

  it('a second replica waits for the product\'s lock, then finds nothing to do', async () => {
    const url = await scratch();
    // The test holds the customer product's lock, as a migrator in the middle of its work would.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtext($1))', ['dpg-migrations:customer']);
      const waiting: Promise<void>[] = [];
      const settled = [false, false];
      const runs = [0, 1].map((i) => {
        let resolveWaiting!: () => void;
        waiting.push(new Promise<void>((resolve) => (resolveWaiting = resolve)));
        return migratePostgres(url, customerProduct, { role: 'dpg_customer', onWaiting: resolveWaiting }).finally(() => {
          settled[i] = true;
        });
      });
      // Both asked for the lock, found it taken, and are waiting: neither has finished.
      await Promise.all(waiting);
      expect(settled).toEqual([false, false]);
      expect(await query(url, `SELECT to_regclass('customer.pgmigrations') AS t`)).toEqual([{ t: null }]);
      await holder.query('SELECT pg_advisory_unlock(hashtext($1))', ['dpg-migrations:customer']);
      const outcomes = await Promise.all(runs);
      // One of them applied every migration, the other came second and found nothing to do.
      expect(outcomes.map((o) => o.applied.length).sort()).toEqual([0, CUSTOMER_MIGRATIONS.length]);
      expect((await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM customer.pgmigrations'))[0]!.n).toBe(CUSTOMER_MIGRATIONS.length);
    } finally {
      await holder.end();
    }
  });

  it('an upgrade adds the new column to a database with data and keeps every row', async () => {
    const url = await scratch();
    // The previous product version: customer at migration 1 only.
    await migratePostgres(url, customerProduct, { role: 'dpg_customer', count: 1 });
    await migrateDatabase({ fallbackUrl: url, products: ['finance', 'product'] });
    await insertRows(url, 500);
    const before = await counts(url);
    expect(before).toEqual([{ customers: 500, segments: 500, transactions: 500, products: 1 }]);
    const column = `SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'customer' AND table_name = 'customers' AND column_name = 'preferred_language'`;
    expect(await query(url, column)).toEqual([]);

    expect(await migrateDatabase({ fallbackUrl: url })).toEqual([
      { product: 'customer', applied: [PREFERRED_LANGUAGE, OUTBOX] },
      { product: 'finance', applied: [] },
      { product: 'product', applied: [] },
    ]);
    expect(await counts(url)).toEqual(before);
    expect(await query(url, column)).toEqual([{ column_name: 'preferred_language', is_nullable: 'YES' }]);
    expect(await query(url, `SELECT count(*)::int AS n FROM customer.customers WHERE preferred_language IS NULL`)).toEqual([{ n: 500 }]);
    expect(await query(url, `SELECT indexname FROM pg_indexes WHERE schemaname = 'customer' AND indexname = 'customers_preferred_language_id_idx'`)).toHaveLength(1);
    // The new column takes what its check allows, and refuses the rest.
    expect(await sqlstate(url, `UPDATE customer.customers SET preferred_language = 'de' WHERE id = 'C000001'`)).toBe('ok');
    expect(await sqlstate(url, `UPDATE customer.customers SET preferred_language = 'German' WHERE id = 'C000002'`)).toBe('23514');
  });

  it('adopts a database made by the old IF NOT EXISTS DDL: migration 1 succeeds on it, the data stays', async () => {
    const url = await scratch();
    await query(url, readFileSync(new URL('./fixtures/pre-migrations-ddl.sql', import.meta.url), 'utf8'));
    await insertRows(url, 50);
    const before = await counts(url);
    const outcomes = await migrateDatabase({ fallbackUrl: url });
    expect(outcomes.map((o) => [o.product, o.applied])).toEqual([
      ['customer', CUSTOMER_MIGRATIONS],
      ['finance', FINANCE_MIGRATIONS],
      ['product', [INITIAL]],
    ]);
    expect(await counts(url)).toEqual(before);
  });

  it('rolls a failing migration back whole, and records nothing of it', async () => {
    const url = await scratch();
    await migratePostgres(url, customerProduct, { role: 'dpg_customer', count: 1 });
    // A column of that name already there (added by hand): migration 2 fails at its ALTER TABLE.
    await query(url, `ALTER TABLE customer.customers ADD COLUMN preferred_language int`);
    await expect(migratePostgres(url, customerProduct, { role: 'dpg_customer' })).rejects.toMatchObject({ code: '42701' });
    expect(await query(url, 'SELECT name FROM customer.pgmigrations ORDER BY id')).toEqual([{ name: INITIAL }]);
    // The lock was released: the next run (once the column is dealt with) is not stuck.
    await query(url, `ALTER TABLE customer.customers DROP COLUMN preferred_language`);
    expect((await migratePostgres(url, customerProduct, { role: 'dpg_customer' })).applied).toEqual([PREFERRED_LANGUAGE, OUTBOX]);
  });
});

describe.runIf(base)('each product owns its store', () => {
  const run = randomBytes(4).toString('hex');
  const role = (product: ProductName) => `dpgt_${run}_${product}`;
  const urls = {} as Record<ProductName, string>;
  let url: string;
  let drop: () => Promise<void>;
  const auditSchema = `audit_m_${run}`;

  beforeAll(async () => {
    const db = await createScratchDatabase(base!);
    url = db.url;
    drop = db.drop;
    // An existing database of the shared-superuser layout, with data: init-roles must hand it over.
    await query(url, readFileSync(new URL('./fixtures/pre-migrations-ddl.sql', import.meta.url), 'utf8'));
    await insertRows(url, 20);
    await withSession(url, (session) =>
      initProductRoles(
        session,
        dataProducts.map((product) => ({ product, role: role(product.name), password: `pw-${run}` })),
      ),
    );
    for (const name of PRODUCT_NAMES) urls[name] = asUser(url, role(name), `pw-${run}`);
  });

  afterAll(async () => {
    await drop?.();
    await dropAuditRoles(base!, auditSchema);
    await withSession(base!, async (session) => {
      for (const name of PRODUCT_NAMES) await session.query(`DROP ROLE IF EXISTS ${role(name)}`);
    });
  });

  it('migrates each product as its own role: it owns its schema and all in it', async () => {
    const outcomes = await migrateDatabase({ urls });
    expect(outcomes.map((o) => [o.product, o.applied.length])).toEqual([['customer', CUSTOMER_MIGRATIONS.length], ['finance', FINANCE_MIGRATIONS.length], ['product', 1]]);
    const owners = await query<{ schema: string; owner: string }>(
      url,
      `SELECT DISTINCT n.nspname AS schema, pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('customer', 'finance', 'product') ORDER BY 1, 2`,
    );
    expect(owners).toEqual(PRODUCT_NAMES.map((name) => ({ schema: name, owner: role(name) })));
  });

  it('the superuser migrating a product whose schema belongs to its role creates what the role owns', async () => {
    // A database behind, migrated by the superuser (npm run seed, or migrate without the product URLs).
    await query(url, CUSTOMER_BACK_TO_INITIAL);
    const [outcome] = await migrateDatabase({ fallbackUrl: url, products: ['customer'], roles: { customer: role('customer') } });
    expect(outcome!.applied).toEqual([PREFERRED_LANGUAGE, OUTBOX]);
    expect(
      await query(url, `SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c WHERE c.oid IN ('customer.customers_preferred_language_id_idx'::regclass, 'customer.event_outbox'::regclass) ORDER BY 1`),
    ).toEqual([
      { name: 'customers_preferred_language_id_idx', owner: role('customer') },
      { name: 'event_outbox', owner: role('customer') },
    ]);
  });

  it('a product\'s role reads and writes its own tables and is refused every other product\'s', async () => {
    expect(await query(urls.customer, 'SELECT count(*)::int AS n FROM customer.customers')).toEqual([{ n: 20 }]);
    expect(await sqlstate(urls.customer, `UPDATE customer.customers SET preferred_language = 'fr' WHERE id = 'C000001'`)).toBe('ok');
    expect(await sqlstate(urls.customer, 'SELECT count(*) FROM finance.transactions')).toBe('42501');
    expect(await sqlstate(urls.customer, 'SELECT count(*) FROM product.products')).toBe('42501');
    expect(await sqlstate(urls.finance, 'SELECT count(*) FROM customer.customers')).toBe('42501');
    expect(await sqlstate(urls.finance, `DELETE FROM product.inventory`)).toBe('42501');
    expect(await sqlstate(urls.product, 'SELECT count(*) FROM finance.transactions')).toBe('42501');
    expect(await sqlstate(urls.product, 'DROP TABLE customer.segments')).toBe('42501');
    // Nor can it make itself a new schema, or another role.
    expect(await sqlstate(urls.customer, 'CREATE SCHEMA sneaky')).toBe('42501');
    expect(await sqlstate(urls.customer, `CREATE ROLE sneaky_${run}`)).toBe('42501');
  });

  it('the gateway\'s audit roles have no right on any product\'s tables', async () => {
    const sql = createPostgresAuditSql(url);
    try {
      await ensureAuditSchema(sql, auditSchema);
    } finally {
      await sql.close();
    }
    const { writer, reader } = auditRoles(auditSchema);
    for (const auditRole of [writer, reader]) {
      for (const table of ['customer.customers', 'finance.transactions', 'product.products']) {
        expect(await sqlstate(url, `SET ROLE ${auditRole}; SELECT count(*) FROM ${table}`)).toBe('42501');
      }
    }
  });

  it('any other login role (a gateway\'s own, say) is refused every product\'s tables', async () => {
    const other = `dpgt_${run}_other`;
    await query(base!, `CREATE ROLE ${other} LOGIN`);
    try {
      for (const table of ['customer.customers', 'finance.transactions', 'product.inventory']) {
        expect(await sqlstate(asUser(url, other), `SELECT count(*) FROM ${table}`), table).toBe('42501');
      }
    } finally {
      await query(base!, `DROP ROLE ${other}`);
    }
  });

  it('a product role without its schema is told to run the init step, and nothing is created', async () => {
    const fresh = await createScratchDatabase(base!);
    try {
      await expect(migratePostgres(asUser(fresh.url, role('customer')), customerProduct, { role: role('customer') })).rejects.toThrow(
        'customer: schema customer does not exist and this user may not create it: run npm run migrate -- --init-roles as a superuser first',
      );
      expect(await query(fresh.url, `SELECT nspname FROM pg_namespace WHERE nspname = 'customer'`)).toEqual([]);
    } finally {
      await fresh.drop();
    }
  });

  it('two init steps at once on two databases, with the same (cluster-wide) roles, both succeed', async () => {
    const dbs = [await createScratchDatabase(base!), await createScratchDatabase(base!)];
    const shared = (product: ProductName) => `dpgt_${run}_race_${product}`;
    try {
      // Without the lock on the role catalogue, both would try CREATE ROLE and one would fail.
      await Promise.all(
        dbs.map((db) => withSession(db.url, (session) => initProductRoles(session, dataProducts.map((product) => ({ product, role: shared(product.name), password: 'pw' }))))),
      );
      for (const db of dbs) {
        expect(await query(db.url, `SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname IN ('customer', 'finance', 'product') ORDER BY 1`)).toEqual(
          PRODUCT_NAMES.map((name) => ({ nspname: name, owner: shared(name) })),
        );
      }
    } finally {
      for (const db of dbs) await db.drop();
      await withSession(base!, async (session) => {
        for (const name of PRODUCT_NAMES) await session.query(`DROP ROLE IF EXISTS ${shared(name)}`);
      });
    }
  });

  it('init-roles is repeatable: a second run changes nothing and the roles still work', async () => {
    await withSession(url, (session) => initProductRoles(session, dataProducts.map((product) => ({ product, role: role(product.name) }))));
    expect(await query(urls.finance, 'SELECT count(*)::int AS n FROM finance.transactions')).toEqual([{ n: 20 }]);
    expect((await migrateDatabase({ urls })).every((o) => o.applied.length === 0)).toBe(true);
  });

  it('the products serve as their own roles; the catalogue shows each product\'s version and migration state', async () => {
    // Customer two migrations behind, and the products told not to migrate at start: the catalogue says so.
    await query(url, CUSTOMER_BACK_TO_INITIAL);
    const products = await runDataProducts({
      databaseUrls: urls,
      migrateOnStart: false,
      products: PRODUCT_NAMES,
      ports: { customer: 0, finance: 0, product: 0 },
      host: '127.0.0.1',
      seedCustomers: 1,
      logger: silent,
      policiesFile: DEFAULT_POLICIES_FILE,
      internalVerifyKey: undefined,
    });
    const subgraphUrls = Object.fromEntries(Object.entries(products.subgraphs).map(([name, s]) => [name, s.url]));
    const gateway = await startGateway(loadConfig(gatewayEnv(subgraphUrls, { AUDIT_DATABASE_URL: url, AUDIT_SCHEMA: auditSchema })), silent);
    try {
      const token = await tokenFor('data-scientist');
      const read = async () => {
        const result = await postGraphQL<{ dataProducts: unknown[] }>(gateway.url, '{ dataProducts { name version migrations { latest pending applied { name appliedAt } } } }', { token });
        expect(result.body.errors).toBeUndefined();
        return result.body.data!.dataProducts;
      };
      const appliedAt = expect.stringMatching(/^\d{4}-\d\d-\d\dT/);
      expect(await read()).toEqual([
        { name: 'customer', version: '1.5.0', migrations: { latest: INITIAL, pending: 2, applied: [{ name: INITIAL, appliedAt }] } },
        { name: 'finance', version: '2.1.0', migrations: { latest: OUTBOX, pending: 0, applied: FINANCE_MIGRATIONS.map((name) => ({ name, appliedAt })) } },
        { name: 'product', version: '1.0.0', migrations: { latest: INITIAL, pending: 0, applied: [{ name: INITIAL, appliedAt }] } },
      ]);
      // The upgrade step runs (a one-shot migrate while the products serve); the catalogue hears it on its next refresh.
      await migrateDatabase({ urls, products: ['customer'] });
      await gateway.refreshCatalog();
      expect((await read())[0]).toEqual({
        name: 'customer',
        version: '1.5.0',
        migrations: { latest: OUTBOX, pending: 0, applied: CUSTOMER_MIGRATIONS.map((name) => ({ name, appliedAt })) },
      });
      // The new version's field reads the new column, through the gateway, as the product's own role.
      await query(url, `UPDATE customer.customers SET preferred_language = 'fr' WHERE id = 'C000001'`);
      const answer = await postGraphQL<{ customer: unknown }>(gateway.url, '{ customer(id: "C000001") { id preferredLanguage } other: customer(id: "C000002") { id preferredLanguage } }', {
        token: await tokenFor('sales-manager'),
      });
      expect(answer.body).toEqual({ data: { customer: { id: 'C000001', preferredLanguage: 'fr' }, other: { id: 'C000002', preferredLanguage: null } } });
    } finally {
      await gateway.stop();
      await products.stop();
    }
  });
});

describe('the embedded default runs the same migrations', () => {
  it('applies every product\'s migrations once on PGlite, under the same lock, and reports the same state', async () => {
    const db = await createEmbeddedDb();
    try {
      const first = [];
      for (const product of dataProducts) first.push(await migrateProduct(db.session, product));
      expect(first).toEqual([
        { product: 'customer', applied: CUSTOMER_MIGRATIONS },
        { product: 'finance', applied: FINANCE_MIGRATIONS },
        { product: 'product', applied: [INITIAL] },
      ]);
      for (const product of dataProducts) expect((await migrateProduct(db.session, product)).applied).toEqual([]);
      const state = await migrationState(db, customerProduct);
      expect(state).toMatchObject({ latest: OUTBOX, pending: 0 });
      expect(state.applied.map((m) => m.name)).toEqual(CUSTOMER_MIGRATIONS);
      expect(await db.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'customer' AND table_name = 'customers' AND column_name = 'preferred_language'`)).toHaveLength(1);
    } finally {
      await db.close();
    }
  }, 60_000);
});

describe.runIf(base)('npm run migrate', () => {
  let url: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createScratchDatabase(base!);
    url = db.url;
    drop = db.drop;
  });
  afterAll(async () => {
    await drop?.();
  });

  async function migrate(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const run = spawnTs('scripts/migrate.ts', args, env);
    const code = await run.exited;
    return { code, stdout: run.lines.map((l) => String(l.text ?? '')).join('\n'), stderr: run.stderr() };
  }

  it('applies what is pending, one line per product, then finds nothing to do', async () => {
    const first = await migrate(['--product', 'customer'], { DATABASE_URL: url });
    expect(first).toEqual({ code: 0, stdout: `migrate: customer: applied ${CUSTOMER_MIGRATIONS.length}: ${CUSTOMER_MIGRATIONS.join(', ')}`, stderr: '' });
    const second = await migrate([], { DATABASE_URL: url });
    expect(second).toEqual({ code: 0, stdout: ['migrate: customer: up to date', `migrate: finance: applied ${FINANCE_MIGRATIONS.length}: ${FINANCE_MIGRATIONS.join(', ')}`, `migrate: product: applied 1: ${INITIAL}`].join('\n'), stderr: '' });
  }, 60_000);

  it('refuses a bad invocation with exit 2 and says why, never echoing a URL', async () => {
    const unknown = await migrate(['--product', 'inventory'], { DATABASE_URL: url });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^migrate: --product: unknown data product inventory/);
    const noAdmin = await migrate(['--init-roles'], { CUSTOMER_DATABASE_URL: url });
    expect(noAdmin.code).toBe(2);
    expect(noAdmin.stderr).toMatch(/^migrate: --init-roles: DATABASE_URL must name the database as a superuser/);
    const secret = 'postgres://u:hunter2@[::1';
    const badUrl = await migrate([], { DATABASE_URL: secret });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/DATABASE_URL: /);
    expect(badUrl.stderr).not.toContain('hunter2');
    const nothing = await migrate([], {});
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/^migrate: no database for customer, finance, product/);
  }, 60_000);

  it('reports a failure in one line, exit 1, without the password', async () => {
    const failed = await migrate([], { DATABASE_URL: 'postgres://postgres:hunter2@127.0.0.1:1/nothing' });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^migrate: failed: /);
    expect(failed.stderr).not.toMatch(/hunter2|\n\s+at /);
  }, 60_000);
});
