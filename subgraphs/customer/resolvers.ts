import { gqlError } from '../../lib/errors.js';
import type { DataProduct, SubgraphContext } from '../kit/data-product.js';
import { pageSize } from '../kit/pagination.js';
import { DateScalar } from '../kit/scalars.js';
import type { CustomerLoaders } from './loaders.js';
import { listCustomers, type CustomerFilter, type CustomerRow } from './queries.js';

type Context = SubgraphContext<CustomerLoaders>;

/** Arguments without a default are undefined when omitted, null when given as null. */
interface CustomersArgs {
  first: number | null;
  after?: string | null;
  filter?: CustomerFilter | null;
}

const COUNTRY_CODE = /^[A-Z]{2}$/;

export const customerResolvers: DataProduct<CustomerLoaders>['resolvers'] = {
  Date: DateScalar,
  Query: {
    customer: (_: unknown, { id }: { id: string }, { loaders }: Context) => loaders.customerById.load(id),
    async customers(_: unknown, args: CustomersArgs, { db, loaders }: Context) {
      const first = pageSize(args.first);
      const country = args.filter?.country;
      if (country != null && !COUNTRY_CODE.test(country)) {
        throw gqlError('BAD_USER_INPUT', 'filter.country must be an ISO 3166-1 alpha-2 code in upper case', {
          argument: 'filter.country',
        });
      }
      const rows = await listCustomers(db, { first, after: args.after ?? null, filter: args.filter ?? null });
      // Later references to these customers in the same request need no statement.
      for (const row of rows) loaders.customerById.prime(row.id, row);
      return rows;
    },
  },
  Customer: {
    __resolveReference: (reference: { id: string }, { loaders }: Context) => loaders.customerById.load(reference.id),
    fullName: (customer: CustomerRow) => `${customer.firstName} ${customer.lastName}`,
    segments: (customer: CustomerRow, _: unknown, { loaders }: Context) => loaders.segmentsByCustomer.load(customer.id),
    churnRisk: (customer: CustomerRow) =>
      customer.churnScore === null || customer.churnLevel === null
        ? null
        : { score: customer.churnScore, level: customer.churnLevel },
  },
};
