import { outboxDdl } from '../kit/outbox.js';
/**
 * Idempotent DDL for the finance data product: everything lives in the `finance` schema.
 * customer_id and sku belong to other data products, so they carry no foreign key.
 */
export const FINANCE_MIGRATIONS = /* SQL */ `
CREATE SCHEMA IF NOT EXISTS finance;

-- Reference rates: one rate per currency, used for every USD figure.
CREATE TABLE IF NOT EXISTS finance.fx_rates (
  currency     text PRIMARY KEY CHECK (currency ~ '^[A-Z]{3}$'),
  usd_per_unit numeric(18, 8) NOT NULL CHECK (usd_per_unit > 0),
  as_of        date NOT NULL
);

CREATE TABLE IF NOT EXISTS finance.transactions (
  id          text PRIMARY KEY,
  customer_id text NOT NULL,
  amount      numeric(14, 2) NOT NULL CHECK (amount >= 0),
  currency    text NOT NULL REFERENCES finance.fx_rates (currency),
  ts          timestamptz NOT NULL
);

-- Customer.transactions: row_number() over (partition by customer_id order by ts desc, id desc).
CREATE INDEX IF NOT EXISTS transactions_customer_ts_idx ON finance.transactions (customer_id, ts DESC, id DESC);
CREATE INDEX IF NOT EXISTS transactions_currency_id_idx ON finance.transactions (currency, id);

CREATE TABLE IF NOT EXISTS finance.line_items (
  transaction_id text NOT NULL REFERENCES finance.transactions (id) ON DELETE CASCADE,
  line_no        smallint NOT NULL CHECK (line_no > 0),
  sku            text NOT NULL,
  quantity       integer NOT NULL CHECK (quantity > 0),
  unit_price     numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
  amount         numeric(14, 2) NOT NULL CHECK (amount >= 0),
  PRIMARY KEY (transaction_id, line_no)
);

-- Product.revenue and Product.unitsSold aggregate by sku.
CREATE INDEX IF NOT EXISTS line_items_sku_idx ON finance.line_items (sku);

CREATE TABLE IF NOT EXISTS finance.loan_applications (
  id               text PRIMARY KEY,
  customer_id      text NOT NULL,
  amount_requested numeric(12, 2) NOT NULL CHECK (amount_requested > 0),
  term_months      integer NOT NULL CHECK (term_months > 0),
  risk_score       numeric(5, 4) NOT NULL CHECK (risk_score BETWEEN 0 AND 1),
  risk_level       text NOT NULL CHECK (risk_level IN ('LOW', 'MEDIUM', 'HIGH')),
  model_version    text NOT NULL,
  assessed_at      timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS loan_applications_customer_idx ON finance.loan_applications (customer_id, assessed_at DESC);
CREATE INDEX IF NOT EXISTS loan_applications_level_id_idx ON finance.loan_applications (risk_level, id);

CREATE TABLE IF NOT EXISTS finance.risk_factors (
  application_id text NOT NULL REFERENCES finance.loan_applications (id) ON DELETE CASCADE,
  name           text NOT NULL,
  weight         numeric(5, 4) NOT NULL CHECK (weight > 0 AND weight <= 1),
  PRIMARY KEY (application_id, name)
);
` + outboxDdl('finance');
