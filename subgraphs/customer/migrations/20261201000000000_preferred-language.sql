-- Up Migration
-- Customer 1.5.0: the language a customer prefers to be contacted in (an ISO 639-1 code such as
-- `de`), unknown for every customer loaded before it; the CRM export fills it in over time.
ALTER TABLE customer.customers
  ADD COLUMN preferred_language text CHECK (preferred_language ~ '^[a-z]{2}$');

-- Campaigns select customers by language: WHERE preferred_language = $1 AND id > $after ORDER BY id.
CREATE INDEX customers_preferred_language_id_idx ON customer.customers (preferred_language, id);

-- Down Migration
DROP INDEX customer.customers_preferred_language_id_idx;
ALTER TABLE customer.customers DROP COLUMN preferred_language;
