import { loadContract, migrationsDir, type DataProduct } from '../kit/data-product.js';
import { createCustomerLoaders, type CustomerLoaders } from './loaders.js';
import { customerResolvers } from './resolvers.js';

export type { CustomerLoaders };
export { MAX_PAGE_SIZE } from '../kit/pagination.js';

/** Customer 360: accounts, segments and churn risk, in the `customer` PostgreSQL schema. */
export const customerProduct: DataProduct<CustomerLoaders> = {
  name: 'customer',
  typeDefs: loadContract('customer'),
  resolvers: customerResolvers,
  migrationsDir: migrationsDir('customer'),
  createLoaders: createCustomerLoaders,
  schemaName: 'customer',
  publishesEvents: true,
  storage: {
    'Customer.id': { table: 'customer.customers', column: 'id' },
    'Customer.email': { table: 'customer.customers', column: 'email' },
    'Customer.phone': { table: 'customer.customers', column: 'phone' },
    'Customer.country': { table: 'customer.customers', column: 'country' },
    'ChurnRisk.score': { table: 'customer.customers', column: 'churn_score' },
    'Segment.score': { table: 'customer.segments', column: 'score' },
  },
};
