import { loadContract, migrationsDir, type DataProduct } from '../kit/data-product.js';
import { createProductLoaders, type ProductLoaders } from './loaders.js';
import { productResolvers } from './resolvers.js';

export type { ProductLoaders };

/** The catalogue: products, list prices and stock, in the `product` PostgreSQL schema. */
export const productProduct: DataProduct<ProductLoaders> = {
  name: 'product',
  typeDefs: loadContract('product'),
  resolvers: productResolvers,
  migrationsDir: migrationsDir('product'),
  createLoaders: createProductLoaders,
  schemaName: 'product',
  storage: {
    'Product.sku': { table: 'product.products', column: 'sku' },
    'Product.price': { table: 'product.products', column: 'price' },
    'Product.name': { table: 'product.products', column: 'name' },
  },
};
