import { TRANSACTION_CREATED } from '../../lib/events/catalog.js';
import type { TransactionalDb } from '../kit/db.js';
import { enqueueEvent } from '../kit/outbox.js';

export interface NewLineItem {
  readonly sku: string;
  readonly quantity: number;
  /** In major units of the transaction's currency. */
  readonly unitPrice: number;
}

export interface NewTransaction {
  readonly customerId: string;
  /** ISO 4217, one of the finance product's reference rates. */
  readonly currency: string;
  /** At least one, at most MAX_LINE_ITEMS. */
  readonly lineItems: readonly NewLineItem[];
  /** When it happened. @default now */
  readonly timestamp?: Date;
}

export const MAX_LINE_ITEMS = 50;

const cents = (value: number) => Math.round(value * 100) / 100;

/**
 * Records a purchase: the transaction, its line items and its TransactionCreated event in one
 * database transaction (the outbox relay publishes the event once committed). Ids are allocated
 * under a table lock: `T` and the next seven-digit number.
 */
export async function recordTransaction(db: TransactionalDb, input: NewTransaction): Promise<{ id: string; amount: number }> {
  if (input.lineItems.length === 0 || input.lineItems.length > MAX_LINE_ITEMS) throw new RangeError(`a transaction has 1 to ${MAX_LINE_ITEMS} line items`);
  const items = input.lineItems.map((item, i) => ({ ...item, lineNo: i + 1, amount: cents(item.quantity * item.unitPrice) }));
  const amount = cents(items.reduce((sum, item) => sum + item.amount, 0));
  const timestamp = input.timestamp ?? new Date();
  return db.transaction(async (tx) => {
    await tx.exec('LOCK TABLE finance.transactions IN SHARE ROW EXCLUSIVE MODE');
    const [last] = await tx.query<{ n: number | null }>(`SELECT max(substr(id, 2)::int) AS n FROM finance.transactions WHERE id ~ '^T[0-9]{7}$'`);
    const id = `T${String((last?.n ?? 0) + 1).padStart(7, '0')}`;
    await tx.query('INSERT INTO finance.transactions (id, customer_id, amount, currency, ts) VALUES ($1, $2, $3, $4, $5)', [id, input.customerId, amount, input.currency, timestamp.toISOString()]);
    for (const item of items) {
      await tx.query('INSERT INTO finance.line_items (transaction_id, line_no, sku, quantity, unit_price, amount) VALUES ($1, $2, $3, $4, $5, $6)', [id, item.lineNo, item.sku, item.quantity, item.unitPrice, item.amount]);
    }
    await enqueueEvent(tx, 'finance', TRANSACTION_CREATED, { transactionId: id, customerId: input.customerId, amount, currency: input.currency, occurredAt: timestamp.toISOString() });
    return { id, amount };
  });
}
