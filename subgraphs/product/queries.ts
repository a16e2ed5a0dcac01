import type { Db } from '../kit/db.js';
import { oneByKey } from '../kit/batch.js';

export type ProductRow = { sku: string; name: string; category: string; price: number; quantity: number };

// A product without a stock record has nothing on hand.
const PRODUCT_FROM = `
  SELECT p.sku, p.name, p.category, p.price::float8 AS price, coalesce(i.quantity, 0)::int AS quantity
    FROM product.products p
    LEFT JOIN product.inventory i ON i.sku = p.sku`;

export async function productsBySkus(db: Db, skus: readonly string[]): Promise<(ProductRow | null)[]> {
  const rows = await db.query<ProductRow>(`${PRODUCT_FROM} WHERE p.sku = ANY($1::text[])`, [skus]);
  return oneByKey(skus, rows, (row) => row.sku);
}

export async function listProducts(
  db: Db,
  page: { first: number; after: string | null; category: string | null },
): Promise<ProductRow[]> {
  return db.query<ProductRow>(
    `${PRODUCT_FROM}
      WHERE ($2::text IS NULL OR p.sku > $2) AND ($3::text IS NULL OR p.category = $3)
      ORDER BY p.sku
      LIMIT $1`,
    [page.first, page.after, page.category],
  );
}
