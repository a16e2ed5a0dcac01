import type { Db } from '../kit/db.js';
import { manyByKey, oneByKey } from '../kit/batch.js';

export type CustomerStatus = 'ACTIVE' | 'INACTIVE' | 'CHURNED';
export type RiskLevel = 'LOW' | 'MEDIUM' | 'HIGH';

export type CustomerRow = {
  id: string;
  name: string;
  firstName: string;
  lastName: string;
  email: string;
  phone: string | null;
  country: string;
  /** ISO 639-1, lower case; null when not known (customer migration 2, product version 1.5.0). */
  preferredLanguage: string | null;
  /** YYYY-MM-DD */
  signupDate: string;
  status: CustomerStatus;
  churnScore: number | null;
  churnLevel: RiskLevel | null;
};

export type SegmentRow = { customerId: string; name: string; score: number };

export type CustomerFilter = {
  country?: string | null;
  status?: CustomerStatus | null;
  segment?: string | null;
  churnRiskLevel?: RiskLevel | null;
  /** YYYY-MM-DD */
  signedUpAfter?: string | null;
};

// Dates as text: node-postgres turns a `date` into a local-midnight Date, which shifts the day.
const CUSTOMER_COLUMNS = `
  c.id, c.name, c.first_name AS "firstName", c.last_name AS "lastName", c.email, c.phone, c.country,
  c.preferred_language AS "preferredLanguage",
  to_char(c.signup_date, 'YYYY-MM-DD') AS "signupDate", c.status,
  c.churn_score::float8 AS "churnScore", c.churn_level AS "churnLevel"`;

export async function customersByIds(db: Db, ids: readonly string[]): Promise<(CustomerRow | null)[]> {
  const rows = await db.query<CustomerRow>(
    `SELECT ${CUSTOMER_COLUMNS} FROM customer.customers c WHERE c.id = ANY($1::text[])`,
    [ids],
  );
  return oneByKey(ids, rows, (row) => row.id);
}

export async function segmentsByCustomerIds(db: Db, customerIds: readonly string[]): Promise<SegmentRow[][]> {
  const rows = await db.query<SegmentRow>(
    `SELECT s.customer_id AS "customerId", s.name, s.score::float8 AS score
       FROM customer.segments s
      WHERE s.customer_id = ANY($1::text[])
      ORDER BY s.customer_id, s.score DESC, s.name`,
    [customerIds],
  );
  return manyByKey(customerIds, rows, (row) => row.customerId);
}

export interface CustomerPage {
  first: number;
  after: string | null;
  filter: CustomerFilter | null;
}

/** Keyset page ordered by id; criteria are fixed SQL fragments, values always bound. */
export async function listCustomers(db: Db, page: CustomerPage): Promise<CustomerRow[]> {
  const params: unknown[] = [];
  const bind = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const where: string[] = [];
  const { filter } = page;
  if (page.after != null) where.push(`c.id > ${bind(page.after)}`);
  if (filter?.country != null) where.push(`c.country = ${bind(filter.country)}`);
  if (filter?.status != null) where.push(`c.status = ${bind(filter.status)}`);
  if (filter?.churnRiskLevel != null) where.push(`c.churn_level = ${bind(filter.churnRiskLevel)}`);
  if (filter?.signedUpAfter != null) where.push(`c.signup_date > ${bind(filter.signedUpAfter)}::date`);
  if (filter?.segment != null) {
    where.push(`EXISTS (SELECT 1 FROM customer.segments s WHERE s.customer_id = c.id AND s.name = ${bind(filter.segment)})`);
  }
  return db.query<CustomerRow>(
    `SELECT ${CUSTOMER_COLUMNS} FROM customer.customers c
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY c.id
      LIMIT ${bind(page.first)}`,
    params,
  );
}
