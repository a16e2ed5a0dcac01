import DataLoader from 'dataloader';
import type { Db } from '../kit/db.js';
import { tracedBatch } from '../kit/tracing.js';
import {
  assessmentsByCustomerIds,
  assessmentsByIds,
  lifetimeValuesUsd,
  lineItemsByTransactionIds,
  riskFactorsByApplicationIds,
  salesBySkus,
  transactionsByCustomerIds,
  transactionsByIds,
  type AssessmentRow,
  type LineItemRow,
  type RiskFactorRow,
  type SalesRow,
  type TransactionPage,
  type TransactionRow,
} from './queries.js';

export interface FinanceLoaders {
  readonly transactionById: DataLoader<string, TransactionRow | null>;
  /** One loader per page shape, so customers asking for the same page share one statement. */
  transactionsByCustomer(page: TransactionPage): DataLoader<string, TransactionRow[]>;
  readonly lineItemsByTransaction: DataLoader<string, LineItemRow[]>;
  /** Lifetime value in USD by customer id. */
  readonly lifetimeValueByCustomer: DataLoader<string, number>;
  readonly assessmentById: DataLoader<string, AssessmentRow | null>;
  readonly assessmentsByCustomer: DataLoader<string, AssessmentRow[]>;
  readonly riskFactorsByAssessment: DataLoader<string, RiskFactorRow[]>;
  readonly salesBySku: DataLoader<string, SalesRow>;
}

export function createFinanceLoaders(db: Db): FinanceLoaders {
  const pages = new Map<string, DataLoader<string, TransactionRow[]>>();
  return {
    transactionById: new DataLoader(tracedBatch('transactionById', (ids) => transactionsByIds(db, ids))),
    transactionsByCustomer(page) {
      const key = JSON.stringify([page.first, page.after]);
      let loader = pages.get(key);
      if (!loader) {
        loader = new DataLoader(tracedBatch('transactionsByCustomer', (customerIds) => transactionsByCustomerIds(db, page, customerIds)));
        pages.set(key, loader);
      }
      return loader;
    },
    lineItemsByTransaction: new DataLoader(tracedBatch('lineItemsByTransaction', (ids) => lineItemsByTransactionIds(db, ids))),
    lifetimeValueByCustomer: new DataLoader(tracedBatch('lifetimeValueByCustomer', (ids) => lifetimeValuesUsd(db, ids))),
    assessmentById: new DataLoader(tracedBatch('assessmentById', (ids) => assessmentsByIds(db, ids))),
    assessmentsByCustomer: new DataLoader(tracedBatch('assessmentsByCustomer', (ids) => assessmentsByCustomerIds(db, ids))),
    riskFactorsByAssessment: new DataLoader(tracedBatch('riskFactorsByAssessment', (ids) => riskFactorsByApplicationIds(db, ids))),
    salesBySku: new DataLoader(tracedBatch('salesBySku', (skus) => salesBySkus(db, skus))),
  };
}
