import { gqlError } from '../../lib/errors.js';
import type { Db } from '../kit/db.js';
import { manyByKey, oneByKey } from '../kit/batch.js';

export type RiskLevel = 'LOW' | 'MEDIUM' | 'HIGH';

export type TransactionRow = { id: string; customerId: string; amount: number; currency: string; timestamp: Date };
export type LineItemRow = { transactionId: string; sku: string; quantity: number; unitPrice: number; amount: number };
export type AssessmentRow = {
  applicationId: string;
  customerId: string;
  amountRequested: number;
  termMonths: number;
  riskScore: number;
  riskLevel: RiskLevel;
  modelVersion: string;
  assessedAt: Date;
};
export type RiskFactorRow = { applicationId: string; name: string; weight: number };
export type SalesRow = { sku: string; revenue: number; unitsSold: number };
type LifetimeValueRow = { customerId: string; amountUsd: number };

const TRANSACTION_COLUMNS = `
  t.id, t.customer_id AS "customerId", t.amount::float8 AS amount, t.currency, t.ts AS "timestamp"`;

const ASSESSMENT_COLUMNS = `
  a.id AS "applicationId", a.customer_id AS "customerId", a.amount_requested::float8 AS "amountRequested",
  a.term_months AS "termMonths", a.risk_score::float8 AS "riskScore", a.risk_level AS "riskLevel",
  a.model_version AS "modelVersion", a.assessed_at AS "assessedAt"`;

export async function transactionsByIds(db: Db, ids: readonly string[]): Promise<(TransactionRow | null)[]> {
  const rows = await db.query<TransactionRow>(
    `SELECT ${TRANSACTION_COLUMNS} FROM finance.transactions t WHERE t.id = ANY($1::text[])`,
    [ids],
  );
  return oneByKey(ids, rows, (row) => row.id);
}

export interface TransactionPage {
  first: number;
  /** Id of the last transaction seen; the page continues with older ones. */
  after: string | null;
}

/**
 * The newest `first` transactions of each customer (older than `after` when given), in one
 * statement whatever the number of customers: the window function applies the per-customer limit.
 */
export async function transactionsByCustomerIds(
  db: Db,
  page: TransactionPage,
  customerIds: readonly string[],
): Promise<TransactionRow[][] | Error[]> {
  const params: unknown[] = [customerIds, page.first];
  let olderThanCursor = '';
  if (page.after !== null) {
    const [cursor] = await db.query(`SELECT 1 AS found FROM finance.transactions WHERE id = $1`, [page.after]);
    if (!cursor) {
      const error = gqlError('BAD_USER_INPUT', 'after is not the id of a transaction', { argument: 'after' });
      return customerIds.map(() => error);
    }
    params.push(page.after);
    // Compared inside SQL so the cursor keeps its full microsecond precision.
    olderThanCursor = `AND (t.ts, t.id) < (SELECT c.ts, c.id FROM finance.transactions c WHERE c.id = $3)`;
  }
  const rows = await db.query<TransactionRow>(
    `SELECT id, "customerId", amount, currency, "timestamp"
       FROM (SELECT ${TRANSACTION_COLUMNS},
                    row_number() OVER (PARTITION BY t.customer_id ORDER BY t.ts DESC, t.id DESC) AS page_position
               FROM finance.transactions t
              WHERE t.customer_id = ANY($1::text[]) ${olderThanCursor}) ranked
      WHERE page_position <= $2
      ORDER BY "customerId", page_position`,
    params,
  );
  return manyByKey(customerIds, rows, (row) => row.customerId);
}

export async function lineItemsByTransactionIds(db: Db, transactionIds: readonly string[]): Promise<LineItemRow[][]> {
  const rows = await db.query<LineItemRow>(
    `SELECT li.transaction_id AS "transactionId", li.sku, li.quantity,
            li.unit_price::float8 AS "unitPrice", li.amount::float8 AS amount
       FROM finance.line_items li
      WHERE li.transaction_id = ANY($1::text[])
      ORDER BY li.transaction_id, li.line_no`,
    [transactionIds],
  );
  return manyByKey(transactionIds, rows, (row) => row.transactionId);
}

/** USD total per customer; 0 for a customer without transactions. */
export async function lifetimeValuesUsd(db: Db, customerIds: readonly string[]): Promise<number[]> {
  const rows = await db.query<LifetimeValueRow>(
    `SELECT t.customer_id AS "customerId", round(sum(t.amount * fx.usd_per_unit), 2)::float8 AS "amountUsd"
       FROM finance.transactions t
       JOIN finance.fx_rates fx ON fx.currency = t.currency
      WHERE t.customer_id = ANY($1::text[])
      GROUP BY t.customer_id`,
    [customerIds],
  );
  return oneByKey(customerIds, rows, (row) => row.customerId).map((row) => row?.amountUsd ?? 0);
}

/** USD revenue and units per sku; zeros for a sku never sold. */
export async function salesBySkus(db: Db, skus: readonly string[]): Promise<SalesRow[]> {
  const rows = await db.query<SalesRow>(
    `SELECT li.sku, round(sum(li.amount * fx.usd_per_unit), 2)::float8 AS revenue, sum(li.quantity)::int AS "unitsSold"
       FROM finance.line_items li
       JOIN finance.transactions t ON t.id = li.transaction_id
       JOIN finance.fx_rates fx ON fx.currency = t.currency
      WHERE li.sku = ANY($1::text[])
      GROUP BY li.sku`,
    [skus],
  );
  return oneByKey(skus, rows, (row) => row.sku).map((row, i) => row ?? { sku: skus[i] as string, revenue: 0, unitsSold: 0 });
}

export async function assessmentsByIds(db: Db, ids: readonly string[]): Promise<(AssessmentRow | null)[]> {
  const rows = await db.query<AssessmentRow>(
    `SELECT ${ASSESSMENT_COLUMNS} FROM finance.loan_applications a WHERE a.id = ANY($1::text[])`,
    [ids],
  );
  return oneByKey(ids, rows, (row) => row.applicationId);
}

export async function assessmentsByCustomerIds(db: Db, customerIds: readonly string[]): Promise<AssessmentRow[][]> {
  const rows = await db.query<AssessmentRow>(
    `SELECT ${ASSESSMENT_COLUMNS}
       FROM finance.loan_applications a
      WHERE a.customer_id = ANY($1::text[])
      ORDER BY a.customer_id, a.assessed_at DESC, a.id DESC`,
    [customerIds],
  );
  return manyByKey(customerIds, rows, (row) => row.customerId);
}

export async function riskFactorsByApplicationIds(db: Db, applicationIds: readonly string[]): Promise<RiskFactorRow[][]> {
  const rows = await db.query<RiskFactorRow>(
    `SELECT f.application_id AS "applicationId", f.name, f.weight::float8 AS weight
       FROM finance.risk_factors f
      WHERE f.application_id = ANY($1::text[])
      ORDER BY f.application_id, f.weight DESC, f.name`,
    [applicationIds],
  );
  return manyByKey(applicationIds, rows, (row) => row.applicationId);
}

export async function listTransactions(
  db: Db,
  page: { first: number; after: string | null; currency: string | null },
): Promise<TransactionRow[]> {
  return db.query<TransactionRow>(
    `SELECT ${TRANSACTION_COLUMNS}
       FROM finance.transactions t
      WHERE ($2::text IS NULL OR t.id > $2) AND ($3::text IS NULL OR t.currency = $3)
      ORDER BY t.id
      LIMIT $1`,
    [page.first, page.after, page.currency],
  );
}

export async function listAssessments(
  db: Db,
  page: { first: number; after: string | null; riskLevel: RiskLevel | null },
): Promise<AssessmentRow[]> {
  return db.query<AssessmentRow>(
    `SELECT ${ASSESSMENT_COLUMNS}
       FROM finance.loan_applications a
      WHERE ($2::text IS NULL OR a.id > $2) AND ($3::text IS NULL OR a.risk_level = $3)
      ORDER BY a.id
      LIMIT $1`,
    [page.first, page.after, page.riskLevel],
  );
}
