import { loadContract, migrationsDir, type DataProduct } from '../kit/data-product.js';
import { createFinanceLoaders, type FinanceLoaders } from './loaders.js';
import { financeResolvers } from './resolvers.js';

export type { FinanceLoaders };

/**
 * Transactions, lifetime value, product sales and loan risk, in the `finance` PostgreSQL schema.
 * Adds fields to Customer and Product, which other data products own.
 */
export const financeProduct: DataProduct<FinanceLoaders> = {
  name: 'finance',
  typeDefs: loadContract('finance'),
  resolvers: financeResolvers,
  migrationsDir: migrationsDir('finance'),
  createLoaders: createFinanceLoaders,
  schemaName: 'finance',
  publishesEvents: true,
  storage: {
    'Transaction.id': { table: 'finance.transactions', column: 'id' },
    'Transaction.amount': { table: 'finance.transactions', column: 'amount' },
    'LoanRiskAssessment.riskScore': { table: 'finance.loan_applications', column: 'risk_score' },
    'RiskFactor.weight': { table: 'finance.risk_factors', column: 'weight' },
  },
};
