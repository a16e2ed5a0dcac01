import DataLoader from 'dataloader';
import type { Db } from '../kit/db.js';
import { tracedBatch } from '../kit/tracing.js';
import { productsBySkus, type ProductRow } from './queries.js';

export interface ProductLoaders {
  /** Product with its stock by sku; null for an unknown sku. */
  readonly productBySku: DataLoader<string, ProductRow | null>;
}

export function createProductLoaders(db: Db): ProductLoaders {
  return {
    productBySku: new DataLoader(tracedBatch('productBySku', (skus) => productsBySkus(db, skus))),
  };
}
