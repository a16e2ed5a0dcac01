import { gqlError } from '../../lib/errors.js';
import type { DataProduct, SubgraphContext } from '../kit/data-product.js';
import { pageSize } from '../kit/pagination.js';
import { DateTimeScalar } from '../kit/scalars.js';
import type { FinanceLoaders } from './loaders.js';
import type { AssessmentRow, LineItemRow, RiskLevel, TransactionRow } from './queries.js';
import { listAssessments, listTransactions } from './queries.js';

type Context = SubgraphContext<FinanceLoaders>;

/** Currency of every converted figure (lifetime value, revenue); fx_rates hold USD per unit. */
export const REPORTING_CURRENCY = 'USD';

const CURRENCY_CODE = /^[A-Z]{3}$/;

/** Arguments without a default are undefined when omitted, null when given as null. */
interface PageArgs {
  first: number | null;
  after?: string | null;
}

/** The line item with the largest amount; on a tie, the lowest sku. */
export function mainLineItem(items: readonly LineItemRow[]): LineItemRow | undefined {
  let main: LineItemRow | undefined;
  for (const item of items) {
    if (!main || item.amount > main.amount || (item.amount === main.amount && item.sku < main.sku)) main = item;
  }
  return main;
}

export const financeResolvers: DataProduct<FinanceLoaders>['resolvers'] = {
  DateTime: DateTimeScalar,
  Query: {
    transaction: (_: unknown, { id }: { id: string }, { loaders }: Context) => loaders.transactionById.load(id),
    async transactions(_: unknown, args: PageArgs & { currency?: string | null }, { db, loaders }: Context) {
      const first = pageSize(args.first);
      if (args.currency != null && !CURRENCY_CODE.test(args.currency)) {
        throw gqlError('BAD_USER_INPUT', 'currency must be an ISO 4217 code in upper case', { argument: 'currency' });
      }
      const rows = await listTransactions(db, { first, after: args.after ?? null, currency: args.currency ?? null });
      for (const row of rows) loaders.transactionById.prime(row.id, row);
      return rows;
    },
    loanRiskAssessment: (_: unknown, { applicationId }: { applicationId: string }, { loaders }: Context) =>
      loaders.assessmentById.load(applicationId),
    async loanRiskAssessments(_: unknown, args: PageArgs & { riskLevel?: RiskLevel | null }, { db, loaders }: Context) {
      const first = pageSize(args.first);
      const rows = await listAssessments(db, { first, after: args.after ?? null, riskLevel: args.riskLevel ?? null });
      for (const row of rows) loaders.assessmentById.prime(row.applicationId, row);
      return rows;
    },
  },
  // Customer and Product are owned elsewhere: the reference itself is the parent, no statement needed.
  Customer: {
    transactions(customer: { id: string }, args: PageArgs, { loaders }: Context) {
      const first = pageSize(args.first);
      return loaders.transactionsByCustomer({ first, after: args.after ?? null }).load(customer.id);
    },
    async lifetimeValue(customer: { id: string }, _: unknown, { loaders }: Context) {
      return { amount: await loaders.lifetimeValueByCustomer.load(customer.id), currency: REPORTING_CURRENCY };
    },
    loanRiskAssessments: (customer: { id: string }, _: unknown, { loaders }: Context) =>
      loaders.assessmentsByCustomer.load(customer.id),
  },
  Product: {
    revenue: async (product: { sku: string }, _: unknown, { loaders }: Context) =>
      (await loaders.salesBySku.load(product.sku)).revenue,
    unitsSold: async (product: { sku: string }, _: unknown, { loaders }: Context) =>
      (await loaders.salesBySku.load(product.sku)).unitsSold,
  },
  Transaction: {
    __resolveReference: (reference: { id: string }, { loaders }: Context) => loaders.transactionById.load(reference.id),
    customer: (transaction: TransactionRow) => ({ id: transaction.customerId }),
    lineItems: (transaction: TransactionRow, _: unknown, { loaders }: Context) =>
      loaders.lineItemsByTransaction.load(transaction.id),
    async product(transaction: TransactionRow, _: unknown, { loaders }: Context) {
      const main = mainLineItem(await loaders.lineItemsByTransaction.load(transaction.id));
      // The schema promises a product: a transaction without line items is a data defect.
      if (!main) throw new Error(`transaction ${transaction.id} has no line items`);
      return { sku: main.sku };
    },
  },
  LineItem: {
    product: (item: LineItemRow) => ({ sku: item.sku }),
  },
  LoanRiskAssessment: {
    __resolveReference: (reference: { applicationId: string }, { loaders }: Context) =>
      loaders.assessmentById.load(reference.applicationId),
    customer: (assessment: AssessmentRow) => ({ id: assessment.customerId }),
    keyFactors: (assessment: AssessmentRow, _: unknown, { loaders }: Context) =>
      loaders.riskFactorsByAssessment.load(assessment.applicationId),
  },
};
