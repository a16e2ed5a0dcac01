import DataLoader from 'dataloader';
import type { Db } from '../kit/db.js';
import { tracedBatch } from '../kit/tracing.js';
import { customersByIds, segmentsByCustomerIds, type CustomerRow, type SegmentRow } from './queries.js';

export interface CustomerLoaders {
  /** Customer by id; null for an unknown id. */
  readonly customerById: DataLoader<string, CustomerRow | null>;
  /** Segments of a customer, strongest first. */
  readonly segmentsByCustomer: DataLoader<string, SegmentRow[]>;
}

export function createCustomerLoaders(db: Db): CustomerLoaders {
  return {
    customerById: new DataLoader(tracedBatch('customerById', (ids) => customersByIds(db, ids))),
    segmentsByCustomer: new DataLoader(tracedBatch('segmentsByCustomer', (ids) => segmentsByCustomerIds(db, ids))),
  };
}
