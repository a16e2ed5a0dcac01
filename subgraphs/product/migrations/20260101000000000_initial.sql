-- Up Migration
-- Migration 1 of the product data product: its schema as the products created it before versioned
-- migrations. Every statement is IF NOT EXISTS, so a database made by that older code is adopted:
-- this migration succeeds on it, changes nothing and is recorded as applied.

-- The schema itself is normally made by `npm run migrate -- --init-roles` (owned by the product's
-- role, which may not create schemas); created here only when missing (a development database).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'product') THEN
    CREATE SCHEMA product;
  END IF;
END
$$;

CREATE TABLE IF NOT EXISTS product.products (
  sku      text PRIMARY KEY,
  name     text NOT NULL,
  category text NOT NULL,
  price    numeric(10, 2) NOT NULL CHECK (price >= 0)
);

-- products(category:) pages: WHERE category = $1 AND sku > $2 ORDER BY sku.
CREATE INDEX IF NOT EXISTS products_category_sku_idx ON product.products (category, sku);

-- Stock changes far more often than the catalogue, hence its own table.
CREATE TABLE IF NOT EXISTS product.inventory (
  sku      text PRIMARY KEY REFERENCES product.products (sku) ON DELETE CASCADE,
  quantity integer NOT NULL CHECK (quantity >= 0)
);

-- When the product's data was last loaded (the catalogue compares it with the freshness promise).
CREATE TABLE IF NOT EXISTS product.data_product_meta (
  id           int PRIMARY KEY CHECK (id = 1),
  refreshed_at timestamptz NOT NULL
);
