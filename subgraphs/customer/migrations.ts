import { outboxDdl } from '../kit/outbox.js';
/** Idempotent DDL for the customer data product: everything lives in the `customer` schema. */
export const CUSTOMER_MIGRATIONS = /* SQL */ `
CREATE SCHEMA IF NOT EXISTS customer;

CREATE TABLE IF NOT EXISTS customer.customers (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  first_name  text NOT NULL,
  last_name   text NOT NULL,
  email       text NOT NULL,
  phone       text,
  country     text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
  signup_date date NOT NULL,
  status      text NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE', 'CHURNED')),
  churn_score numeric(5, 4) CHECK (churn_score BETWEEN 0 AND 1),
  churn_level text CHECK (churn_level IN ('LOW', 'MEDIUM', 'HIGH')),
  CHECK ((churn_score IS NULL) = (churn_level IS NULL))
);

-- Filtered keyset pages: WHERE <criterion> AND id > $after ORDER BY id.
CREATE INDEX IF NOT EXISTS customers_country_id_idx ON customer.customers (country, id);
CREATE INDEX IF NOT EXISTS customers_status_id_idx ON customer.customers (status, id);
CREATE INDEX IF NOT EXISTS customers_churn_level_id_idx ON customer.customers (churn_level, id);
CREATE INDEX IF NOT EXISTS customers_signup_date_idx ON customer.customers (signup_date);

CREATE TABLE IF NOT EXISTS customer.segments (
  customer_id text NOT NULL REFERENCES customer.customers (id) ON DELETE CASCADE,
  name        text NOT NULL,
  score       numeric(4, 3) NOT NULL CHECK (score BETWEEN 0 AND 1),
  PRIMARY KEY (customer_id, name)
);

-- The segment filter: EXISTS (... WHERE name = $1 AND customer_id = c.id).
CREATE INDEX IF NOT EXISTS segments_name_customer_idx ON customer.segments (name, customer_id);
` + outboxDdl('customer');
