import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedDb, createPostgresDb, type Db, type TransactionalDb } from '../subgraphs/kit/db.js';
import { generateDataset } from '../subgraphs/seed/generate.js';
import { seedDatabase, UnmigratedError, type SeedCounts } from '../subgraphs/seed/seed.js';
import { migrateProduct } from '../subgraphs/kit/migrations.js';
import { migrateDatabase } from '../subgraphs/migrate.js';
import { dataProducts } from '../subgraphs/products.js';
import { createScratchDatabase } from './helpers/database.js';
import { spawnTs } from './helpers/process.js';
import { createLogger } from '../lib/logger.js';
import { DEFAULT_POLICIES_FILE } from '../lib/policies.js';
import { PRODUCT_NAMES } from '../subgraphs/kit/data-product.js';
import { runDataProducts } from '../subgraphs/run.js';

describe('seed generator', () => {
  it('is deterministic: same seed and scale, same rows; another seed, other rows', () => {
    const a = generateDataset({ customers: 200, seed: 7 });
    const b = generateDataset({ customers: 200, seed: 7 });
    const c = generateDataset({ customers: 200, seed: 8 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
  });

  it('is consistent across the three domains', () => {
    const data = generateDataset({ customers: 500 });
    const customers = new Set(data.customer.customers.map((c) => c.id));
    const skus = new Set(data.product.products.map((p) => p.sku));
    expect(customers.size).toBe(500);
    for (const t of data.finance.transactions) expect(customers.has(t.customer_id)).toBe(true);
    for (const item of data.finance.lineItems) expect(skus.has(item.sku)).toBe(true);
    for (const loan of data.finance.loanApplications) expect(customers.has(loan.customer_id)).toBe(true);
    const byTransaction = new Map<string, number>();
    for (const item of data.finance.lineItems) byTransaction.set(item.transaction_id, (byTransaction.get(item.transaction_id) ?? 0) + item.amount);
    for (const t of data.finance.transactions) expect(Math.abs((byTransaction.get(t.id) ?? 0) - t.amount)).toBeLessThan(0.005);
    const weights = new Map<string, number>();
    for (const f of data.finance.riskFactors) weights.set(f.application_id, (weights.get(f.application_id) ?? 0) + f.weight);
    for (const loan of data.finance.loanApplications) expect(weights.get(loan.id)).toBeCloseTo(1, 6);
  });

  it('scales with the customers knob', () => {
    const small = generateDataset({ customers: 100 });
    const large = generateDataset({ customers: 1000 });
    expect(large.customer.customers).toHaveLength(1000);
    expect(large.finance.transactions.length).toBeGreaterThan(small.finance.transactions.length * 5);
  });
});

/** The rows the products' tables hold, read from the database. */
async function countsIn(db: Db): Promise<SeedCounts> {
  const tables: (keyof SeedCounts)[] = [
    'product.products',
    'product.inventory',
    'customer.customers',
    'customer.segments',
    'finance.fx_rates',
    'finance.transactions',
    'finance.line_items',
    'finance.loan_applications',
    'finance.risk_factors',
  ];
  const [row] = await db.query<SeedCounts>(`SELECT ${tables.map((t) => `(SELECT count(*) FROM ${t})::int AS "${t}"`).join(', ')}`);
  return row!;
}

/** What the generator makes for these options, table by table: what a successful seed must leave. */
function expectedCounts(customers: number): SeedCounts {
  const d = generateDataset({ customers });
  return {
    'product.products': d.product.products.length,
    'product.inventory': d.product.inventory.length,
    'customer.customers': d.customer.customers.length,
    'customer.segments': d.customer.segments.length,
    'finance.fx_rates': d.finance.fxRates.length,
    'finance.transactions': d.finance.transactions.length,
    'finance.line_items': d.finance.lineItems.length,
    'finance.loan_applications': d.finance.loanApplications.length,
    'finance.risk_factors': d.finance.riskFactors.length,
  };
}

/** A database whose transactions fail at the first statement matching `failAt`, after recording what ran before it. */
function failingAt(inner: TransactionalDb, failAt: RegExp, ran: string[]): TransactionalDb {
  const check = (sql: string) => {
    ran.push(sql);
    if (failAt.test(sql)) throw new Error(`injected failure at: ${sql.slice(0, 60)}`);
  };
  return {
    ...inner,
    transaction: (work) =>
      inner.transaction((tx) =>
        work({
          ...tx,
          query(sql, params) {
            check(sql);
            return tx.query(sql, params);
          },
          exec(sql) {
            check(sql);
            return tx.exec(sql);
          },
        }),
      ),
  };
}

describe(`seeding a database (${process.env.DATABASE_URL ? 'PostgreSQL' : 'embedded'})`, () => {
  let db: TransactionalDb;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const base = process.env.DATABASE_URL;
    if (base) {
      const scratch = await createScratchDatabase(base);
      drop = () => scratch.drop();
      await migrateDatabase({ fallbackUrl: scratch.url });
      db = createPostgresDb({ url: scratch.url, maxConnections: 2, statementTimeoutMs: 60_000 });
    } else {
      const embedded = await createEmbeddedDb();
      for (const product of dataProducts) await migrateProduct(embedded.session, product);
      db = embedded;
    }
  }, 60_000);

  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  it('seeds an empty, migrated database', async () => {
    const outcome = await seedDatabase(db, { customers: 40 });
    expect(outcome).toEqual({ kind: 'seeded', counts: expectedCounts(40) });
    expect(await countsIn(db)).toEqual(expectedCounts(40));
  });

  it('refuses a database that holds data, and changes nothing', async () => {
    const [before] = await db.query<{ name: string }>(`SELECT name FROM customer.customers ORDER BY id LIMIT 1`);
    const outcome = await seedDatabase(db, { customers: 60, seed: 1 });
    expect(outcome).toEqual({ kind: 'refused', existing: expectedCounts(40) });
    expect(await countsIn(db)).toEqual(expectedCounts(40));
    expect(await db.query(`SELECT name FROM customer.customers ORDER BY id LIMIT 1`)).toEqual([before]);
  });

  it('refuses when any one table holds a row', async () => {
    await db.exec('TRUNCATE product.products, product.inventory, customer.customers, customer.segments, finance.fx_rates, finance.transactions, finance.line_items, finance.loan_applications, finance.risk_factors');
    await db.query(`INSERT INTO finance.fx_rates (currency, usd_per_unit, as_of) VALUES ('EUR', 1.1, '2025-01-01')`);
    const outcome = await seedDatabase(db, { customers: 40 });
    expect(outcome).toEqual({ kind: 'refused', existing: { 'finance.fx_rates': 1 } });
    expect((await countsIn(db))['customer.customers']).toBe(0);
  });

  it('replaces the data with reset', async () => {
    const outcome = await seedDatabase(db, { customers: 60, reset: true });
    expect(outcome).toEqual({ kind: 'seeded', counts: expectedCounts(60) });
    expect(await countsIn(db)).toEqual(expectedCounts(60));
  });

  it('rolls back all of it when a step fails after the truncate: the previous data stays', async () => {
    const ran: string[] = [];
    const broken = failingAt(db, /^INSERT INTO finance\.transactions/, ran);
    await expect(seedDatabase(broken, { customers: 30, seed: 5, reset: true })).rejects.toThrow(/injected failure/);
    // The failure came after the truncate and after other tables were filled: all of it undone.
    expect(ran.some((sql) => sql.startsWith('TRUNCATE'))).toBe(true);
    expect(ran.some((sql) => sql.startsWith('INSERT INTO customer.customers'))).toBe(true);
    expect(await countsIn(db)).toEqual(expectedCounts(60));
  });

  it('leaves nothing behind when it fails on an empty database', async () => {
    await db.exec('TRUNCATE product.products, product.inventory, customer.customers, customer.segments, finance.fx_rates, finance.transactions, finance.line_items, finance.loan_applications, finance.risk_factors');
    const broken = failingAt(db, /^INSERT INTO finance\.line_items/, []);
    await expect(seedDatabase(broken, { customers: 30 })).rejects.toThrow(/injected failure/);
    expect(Object.values(await countsIn(db)).every((count) => count === 0)).toBe(true);
    // And a clean run afterwards seeds it, no --reset needed.
    expect((await seedDatabase(db, { customers: 30 })).kind).toBe('seeded');
  });

  it('refuses a database one migration behind, and changes nothing', async () => {
    const [latest] = await db.query<{ name: string; run_on: Date }>('SELECT name, run_on FROM customer.pgmigrations ORDER BY id DESC LIMIT 1');
    await db.query('DELETE FROM customer.pgmigrations WHERE name = $1', [latest!.name]);
    try {
      await expect(seedDatabase(db, { customers: 30, reset: true })).rejects.toBeInstanceOf(UnmigratedError);
      expect(await countsIn(db)).toEqual(expectedCounts(30));
    } finally {
      await db.query('INSERT INTO customer.pgmigrations (name, run_on) VALUES ($1, $2)', [latest!.name, latest!.run_on]);
    }
  });

  it('two seeders at once on an empty database: one seeds, the other is refused', async () => {
    await db.exec('TRUNCATE product.products, product.inventory, customer.customers, customer.segments, finance.fx_rates, finance.transactions, finance.line_items, finance.loan_applications, finance.risk_factors');
    const outcomes = await Promise.all([seedDatabase(db, { customers: 20 }), seedDatabase(db, { customers: 20, seed: 9 })]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['refused', 'seeded']);
    expect((await countsIn(db))['customer.customers']).toBe(20);
  });
});

describe.runIf(process.env.DATABASE_URL)('npm run seed (PostgreSQL)', () => {
  let url: string;
  let drop: () => Promise<void>;
  let db: TransactionalDb;

  beforeAll(async () => {
    const scratch = await createScratchDatabase(process.env.DATABASE_URL!);
    url = scratch.url;
    drop = () => scratch.drop();
    db = createPostgresDb({ url, maxConnections: 1 });
  });

  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  async function seed(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const run = spawnTs('scripts/seed.ts', args, { DATABASE_URL: url });
    const code = await run.exited;
    return { code, stdout: run.lines.map((l) => String(l.text ?? '')).join('\n'), stderr: run.stderr() };
  }

  it('seeds an empty database (exit 0)', async () => {
    const { code, stdout, stderr } = await seed('--customers', '25');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^seed: 25 customers/);
    expect(await countsIn(db)).toEqual(expectedCounts(25));
  }, 60_000);

  it('refuses a database that holds data without --reset: exit 1, one clear line, no stack, nothing changed', async () => {
    const { code, stdout, stderr } = await seed('--customers', '35');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^seed: refused: the database already holds data \(.*customer\.customers 25.*\); nothing was changed\. Pass --reset to replace all of it\.\n$/);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(await countsIn(db)).toEqual(expectedCounts(25));
  }, 60_000);

  it('replaces the data with --reset (exit 0)', async () => {
    const { code, stderr } = await seed('--customers', '35', '--reset');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(await countsIn(db)).toEqual(expectedCounts(35));
  }, 60_000);

  it('reports a failed run in one line, no stack, exit 1', async () => {
    const run = spawnTs('scripts/seed.ts', ['--customers', '5'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' });
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toMatch(/^seed: failed, nothing was changed: .+\n$/);
  }, 60_000);

  it('a restart of the data products (a redeploy) leaves the data as it was', async () => {
    const before = await countsIn(db);
    expect(before['customer.customers']).toBe(35);
    const products = await runDataProducts({
      databaseUrl: url,
      products: PRODUCT_NAMES,
      ports: { customer: 0, finance: 0, product: 0 },
      host: '127.0.0.1',
      seedCustomers: 10,
      logger: createLogger('test', 'silent'),
      policiesFile: DEFAULT_POLICIES_FILE,
      internalVerifyKey: undefined,
    });
    await products.stop();
    expect(await countsIn(db)).toEqual(before);
  }, 60_000);

  it('documents --reset in its usage', async () => {
    const { code, stdout } = await seed('--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/--reset/);
  }, 60_000);
});
