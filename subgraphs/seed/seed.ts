import { markRefreshed } from '../kit/quality.js';
import type { Db, TransactionalDb } from '../kit/db.js';
import { migrationState } from '../kit/migrations.js';
import { dataProducts } from '../products.js';
import { generateDataset, type Dataset, type GenerateOptions } from './generate.js';

export { DEFAULT_CUSTOMERS, DEFAULT_SEED, MAX_CUSTOMERS } from './generate.js';

export interface SeedOptions extends GenerateOptions {
  /**
   * Replace data that is already there. Without it, a database whose product tables hold any row is
   * left as it is and the outcome is `refused`: seeding is a development and demo tool, and must
   * never overwrite a data product's real data by default.
   * @default false
   */
  reset?: boolean;
}

/** The transaction-scoped advisory lock that serialises seeders on one database (an arbitrary constant). */
const SEED_LOCK_KEY = 0x64706773; // "dpgs"

/** Rows per INSERT statement at most. */
export const MAX_ROWS_PER_INSERT = 1000;

/** The PostgreSQL types the seeded columns use; each column is bound as one array of this type. */
type SqlType = 'text' | 'integer' | 'smallint' | 'numeric' | 'date' | 'timestamptz';

interface TableSpec<T extends string = string> {
  readonly table: T;
  readonly columns: readonly (readonly [name: string, type: SqlType])[];
  /** Each column's values, in `columns` order. */
  columnValues(dataset: Dataset, start: number, end: number): unknown[][];
  rowCount(dataset: Dataset): number;
}

/** Every key of the row type must be given a column type; the row type is then forgotten. */
function table<const T extends string, R>(
  name: T,
  columns: { readonly [K in keyof R & string]: SqlType },
  rows: (dataset: Dataset) => readonly R[],
): TableSpec<T> {
  const entries = Object.entries(columns) as [keyof R & string, SqlType][];
  return {
    table: name,
    columns: entries,
    rowCount: (dataset) => rows(dataset).length,
    columnValues(dataset, start, end) {
      const chunk = rows(dataset).slice(start, end);
      return entries.map(([column]) => chunk.map((row) => row[column]));
    },
  };
}

/** In insertion order: a table comes after the tables its foreign keys point to. */
const TABLES = [
  table('product.products', { sku: 'text', name: 'text', category: 'text', price: 'numeric' }, (d) => d.product.products),
  table('product.inventory', { sku: 'text', quantity: 'integer' }, (d) => d.product.inventory),
  table(
    'customer.customers',
    {
      id: 'text',
      name: 'text',
      first_name: 'text',
      last_name: 'text',
      email: 'text',
      phone: 'text',
      country: 'text',
      signup_date: 'date',
      status: 'text',
      churn_score: 'numeric',
      churn_level: 'text',
    },
    (d) => d.customer.customers,
  ),
  table('customer.segments', { customer_id: 'text', name: 'text', score: 'numeric' }, (d) => d.customer.segments),
  table('finance.fx_rates', { currency: 'text', usd_per_unit: 'numeric', as_of: 'date' }, (d) => d.finance.fxRates),
  table(
    'finance.transactions',
    { id: 'text', customer_id: 'text', amount: 'numeric', currency: 'text', ts: 'timestamptz' },
    (d) => d.finance.transactions,
  ),
  table(
    'finance.line_items',
    { transaction_id: 'text', line_no: 'smallint', sku: 'text', quantity: 'integer', unit_price: 'numeric', amount: 'numeric' },
    (d) => d.finance.lineItems,
  ),
  table(
    'finance.loan_applications',
    {
      id: 'text',
      customer_id: 'text',
      amount_requested: 'numeric',
      term_months: 'integer',
      risk_score: 'numeric',
      risk_level: 'text',
      model_version: 'text',
      assessed_at: 'timestamptz',
    },
    (d) => d.finance.loanApplications,
  ),
  table('finance.risk_factors', { application_id: 'text', name: 'text', weight: 'numeric' }, (d) => d.finance.riskFactors),
] as const;

export type SeededTable = (typeof TABLES)[number]['table'];
export type SeedCounts = Record<SeededTable, number>;

/** What a seeding run did; `refused` changed nothing. */
export type SeedOutcome =
  | { readonly kind: 'seeded'; readonly counts: SeedCounts }
  /** The tables already held rows and `reset` was not given: the counts found, tables with rows only. */
  | { readonly kind: 'refused'; readonly existing: Readonly<Partial<SeedCounts>> };

/** The products' schemas are not (fully) migrated: seeding would write into tables of another version. */
export class UnmigratedError extends Error {
  override readonly name = 'UnmigratedError';
}

/**
 * Fills the three products' tables with a generated dataset, in one transaction. Their migrations
 * must have run (`npm run migrate`, or migrateProduct): otherwise it throws UnmigratedError and
 * changes nothing. Refuses (outcome `refused`, nothing changed) if any table already holds a row unless
 * `reset` is given, then truncates and inserts in multi-row batches. A failure at any step rolls all
 * of it back, so the previous data stays as it was.
 */
export async function seedDatabase(db: TransactionalDb, options: SeedOptions = {}): Promise<SeedOutcome> {
  const unmigrated: string[] = [];
  for (const product of dataProducts) {
    const state = await migrationState(db, product);
    if (state.pending > 0) unmigrated.push(`${product.name} (${state.pending} pending)`);
  }
  if (unmigrated.length > 0) throw new UnmigratedError(`not migrated: ${unmigrated.join(', ')}; run npm run migrate first`);
  const dataset = generateDataset(options);
  let refused: Partial<SeedCounts> | undefined;
  const rollback = new Error('seed refused: rolling back');
  try {
    return await db.transaction(async (tx) => {
      // One seeder at a time: the second waits here, then finds the first one's rows and is refused.
      await tx.query(`SELECT pg_advisory_xact_lock(${SEED_LOCK_KEY})`);
      // Writers other than seeders wait too; the products' readers are not blocked.
      await tx.exec(`LOCK TABLE ${TABLES.map((t) => t.table).join(', ')} IN EXCLUSIVE MODE`);
      const before = await countRows(tx);
      const existing = Object.fromEntries(Object.entries(before).filter(([, count]) => count > 0)) as Partial<SeedCounts>;
      if (Object.keys(existing).length > 0 && !options.reset) {
        refused = existing;
        throw rollback;
      }
      // Only when there is something to replace: TRUNCATE blocks the products' reads until the commit.
      if (Object.keys(existing).length > 0) await tx.exec(`TRUNCATE ${TABLES.map((t) => t.table).join(', ')}`);
      for (const spec of TABLES) await insertRows(tx, spec, dataset);
      // Freshness: each product records when its data was loaded (the catalog compares it with the SLA).
      for (const schema of ['customer', 'finance', 'product']) await markRefreshed(tx, schema);
      return { kind: 'seeded', counts: await countRows(tx) };
    });
  } catch (error) {
    if (error === rollback && refused) return { kind: 'refused', existing: refused };
    throw error;
  }
}

/**
 * Multi-row INSERTs of at most MAX_ROWS_PER_INSERT rows, one array parameter per column
 * (`SELECT * FROM unnest($1::text[], ...)`): about twice as fast on PGlite as a VALUES list with
 * a placeholder per value, and far below any bind-parameter limit.
 */
async function insertRows(db: Db, spec: TableSpec, dataset: Dataset): Promise<void> {
  const names = spec.columns.map(([name]) => name).join(', ');
  const arrays = spec.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  const sql = `INSERT INTO ${spec.table} (${names}) SELECT * FROM unnest(${arrays})`;
  const total = spec.rowCount(dataset);
  for (let start = 0; start < total; start += MAX_ROWS_PER_INSERT) {
    await db.query(sql, spec.columnValues(dataset, start, start + MAX_ROWS_PER_INSERT));
  }
}

/** Counts read back from the database, not from the generator: proof the rows landed. */
async function countRows(db: Db): Promise<SeedCounts> {
  const select = TABLES.map((t) => `(SELECT count(*) FROM ${t.table})::int AS "${t.table}"`).join(', ');
  const [row] = await db.query<Record<SeededTable, number>>(`SELECT ${select}`);
  if (!row) throw new Error('row count query returned nothing');
  return row;
}
