import { SEGMENT_CHANGED } from '../../lib/events/catalog.js';
import type { TransactionalDb } from '../kit/db.js';
import { enqueueEvent } from '../kit/outbox.js';

/**
 * Replaces a customer's segments (name and membership score) and writes SegmentChanged to the
 * outbox in the same database transaction; no event when the set of names is unchanged.
 */
export async function changeSegments(db: TransactionalDb, customerId: string, segments: readonly { name: string; score: number }[], at: Date = new Date()): Promise<{ changed: boolean }> {
  return db.transaction(async (tx) => {
    const previous = (await tx.query<{ name: string }>('SELECT name FROM customer.segments WHERE customer_id = $1 ORDER BY name FOR UPDATE', [customerId])).map((r) => r.name);
    const next = [...new Set(segments.map((s) => s.name))].sort();
    if (previous.length === next.length && previous.every((name, i) => name === next[i])) return { changed: false };
    await tx.query('DELETE FROM customer.segments WHERE customer_id = $1', [customerId]);
    for (const segment of segments) {
      await tx.query('INSERT INTO customer.segments (customer_id, name, score) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [customerId, segment.name, segment.score]);
    }
    await enqueueEvent(tx, 'customer', SEGMENT_CHANGED, { customerId, segments: next, previous, occurredAt: at.toISOString() });
    return { changed: true };
  });
}
