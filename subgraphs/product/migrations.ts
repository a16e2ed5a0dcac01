/** Idempotent DDL for the product data product: everything lives in the `product` schema. */
export const PRODUCT_MIGRATIONS = /* SQL */ `
CREATE SCHEMA IF NOT EXISTS product;

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
`;
