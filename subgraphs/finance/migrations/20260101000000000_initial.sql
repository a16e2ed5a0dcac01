-- Up Migration
-- Migration 1 of the finance data product: its schema as the products created it before versioned
-- migrations. Every statement is IF NOT EXISTS, so a database made by that older code is adopted:
-- this migration succeeds on it, changes nothing and is recorded as applied.

-- The schema itself is normally made by `npm run migrate -- --init-roles` (owned by the product's
-- role, which may not create schemas); created here only when missing (a development database).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'finance') THEN
    CREATE SCHEMA finance;
  END IF;
END
$$;

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

-- When the product's data was last loaded (the catalogue compares it with the freshness promise).
CREATE TABLE IF NOT EXISTS finance.data_product_meta (
  id           int PRIMARY KEY CHECK (id = 1),
  refreshed_at timestamptz NOT NULL
);
