import type { DataProduct, SubgraphContext } from '../kit/data-product.js';
import { pageSize } from '../kit/pagination.js';
import type { ProductLoaders } from './loaders.js';
import { listProducts, type ProductRow } from './queries.js';

type Context = SubgraphContext<ProductLoaders>;

/** Arguments without a default are undefined when omitted, null when given as null. */
interface ProductsArgs {
  first: number | null;
  after?: string | null;
  category?: string | null;
}

export const productResolvers: DataProduct<ProductLoaders>['resolvers'] = {
  Query: {
    product: (_: unknown, { sku }: { sku: string }, { loaders }: Context) => loaders.productBySku.load(sku),
    async products(_: unknown, args: ProductsArgs, { db, loaders }: Context) {
      const first = pageSize(args.first);
      const rows = await listProducts(db, { first, after: args.after ?? null, category: args.category ?? null });
      for (const row of rows) loaders.productBySku.prime(row.sku, row);
      return rows;
    },
  },
  Product: {
    __resolveReference: (reference: { sku: string }, { loaders }: Context) => loaders.productBySku.load(reference.sku),
    inventory: (product: ProductRow) => ({ quantity: product.quantity, inStock: product.quantity > 0 }),
  },
};
