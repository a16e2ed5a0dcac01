import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveredEvent, EventBus } from '../lib/events/bus.js';
import { SEGMENT_CHANGED, TRANSACTION_CREATED } from '../lib/events/catalog.js';
import { createMemoryBus } from '../lib/events/memory.js';
import { createNatsBus } from '../lib/events/nats.js';
import { createLogger } from '../lib/logger.js';
import { startProducts } from './helpers/stack.js';
import { recordTransaction } from '../subgraphs/finance/record.js';
import { changeSegments } from '../subgraphs/customer/segments-change.js';
import { deleteNamespace, NATS_URL, natsNamespace } from './helpers/nats.js';
import { spawnTs } from './helpers/process.js';

const silent = createLogger('test', 'silent');

/** Collects a subscription's events; `next(n)` resolves once n have arrived. */
function collector() {
  const events: DeliveredEvent[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  return {
    events,
    push(event: DeliveredEvent) {
      events.push(event);
      for (const w of waiters.filter((w) => events.length >= w.count)) w.resolve();
    },
    until(count: number) {
      return events.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve }));
    },
  };
}

const event = (n: number) => ({
  subject: TRANSACTION_CREATED.subject,
  id: `e-${n}`,
  type: TRANSACTION_CREATED.type,
  schemaVersion: 1,
  payload: { transactionId: `T${String(n).padStart(7, '0')}`, customerId: 'C000001', amount: n, currency: 'EUR', occurredAt: '2026-12-01T00:00:00.000Z' },
});

/** The bus contract, run against both implementations. */
function busContract(name: string, open: () => Promise<{ bus: EventBus; cleanup(): Promise<void> }>) {
  describe(`${name} bus`, () => {
    let bus: EventBus;
    let cleanup: () => Promise<void>;
    beforeAll(async () => ({ bus, cleanup } = await open()));
    afterAll(() => cleanup());

    it('delivers new events in order with their stream sequence, stores a re-published id once, and resumes after a sequence', async () => {
      const live = collector();
      const subscription = await bus.subscribe(TRANSACTION_CREATED.subject, {}, live.push);
      const other = collector();
      const otherSubscription = await bus.subscribe(SEGMENT_CHANGED.subject, {}, other.push);
      const first = await bus.publish(event(1));
      const second = await bus.publish(event(2));
      const again = await bus.publish(event(2));
      expect(again).toEqual({ sequence: second.sequence, duplicate: true });
      expect(second.sequence).toBe(first.sequence + 1);
      await bus.publish(event(3));
      await live.until(3);
      expect(live.events.map((e) => [e.id, e.sequence, e.type, e.schemaVersion, e.subject])).toEqual([
        ['e-1', first.sequence, 'TransactionCreated', 1, TRANSACTION_CREATED.subject],
        ['e-2', first.sequence + 1, 'TransactionCreated', 1, TRANSACTION_CREATED.subject],
        ['e-3', first.sequence + 2, 'TransactionCreated', 1, TRANSACTION_CREATED.subject],
      ]);
      expect(live.events[0]!.payload).toEqual(event(1).payload);
      await subscription.close();
      // Resume: only what came after the last sequence seen, then new events.
      const resumed = collector();
      const again2 = await bus.subscribe(TRANSACTION_CREATED.subject, { afterSequence: first.sequence }, resumed.push);
      await bus.publish(event(4));
      await resumed.until(3);
      expect(resumed.events.map((e) => e.id)).toEqual(['e-2', 'e-3', 'e-4']);
      await again2.close();
      expect(other.events).toEqual([]);
      await otherSubscription.close();
    });
  });
}

busContract('NATS JetStream', async () => {
  const namespace = natsNamespace('bus');
  const bus = await createNatsBus({ url: NATS_URL, namespace, logger: silent });
  return {
    bus,
    async cleanup() {
      await bus.close();
      await deleteNamespace(namespace);
    },
  };
});

busContract('in-process', async () => {
  const bus = createMemoryBus();
  return { bus, cleanup: () => bus.close() };
});

describe('the products publish through their outboxes', () => {
  it('a recorded transaction and a segment change reach the bus once committed, each once, with schema-valid payloads', async () => {
    const bus = createMemoryBus();
    const { products, cleanup } = await startProducts(20, undefined, bus);
    try {
      const transactions = collector();
      const segments = collector();
      await bus.subscribe(TRANSACTION_CREATED.subject, {}, transactions.push);
      await bus.subscribe(SEGMENT_CHANGED.subject, {}, segments.push);
      const recorded = await recordTransaction(products.dbOf('finance'), { customerId: 'C000003', currency: 'EUR', lineItems: [{ sku: 'SKU-0001', quantity: 2, unitPrice: 10.5 }, { sku: 'SKU-0002', quantity: 1, unitPrice: 4 }], timestamp: new Date('2026-12-01T08:00:00.000Z') });
      expect(recorded.amount).toBe(25);
      const [row] = await products.dbOf('finance').query<{ amount: string }>('SELECT amount::text FROM finance.transactions WHERE id = $1', [recorded.id]);
      expect(row).toEqual({ amount: '25.00' });
      expect(await changeSegments(products.dbOf('customer'), 'C000003', [{ name: 'dormant', score: 0.5 }])).toEqual({ changed: true });
      expect(await changeSegments(products.dbOf('customer'), 'C000003', [{ name: 'dormant', score: 0.7 }])).toEqual({ changed: false });
      // Relayed now (and by the relays' own rounds: whichever comes first, each event is published once).
      await products.relayEventsNow();
      await transactions.until(1);
      await segments.until(1);
      expect(await products.relayEventsNow()).toBe(0);
      expect(transactions.events.map((e) => [e.type, e.schemaVersion, TRANSACTION_CREATED.payload.parse(e.payload)])).toEqual([
        ['TransactionCreated', 1, { transactionId: recorded.id, customerId: 'C000003', amount: 25, currency: 'EUR', occurredAt: '2026-12-01T08:00:00.000Z' }],
      ]);
      const changed = SEGMENT_CHANGED.payload.parse(segments.events[0]!.payload);
      expect(changed.segments).toEqual(['dormant']);
      expect(changed.customerId).toBe('C000003');
      // A rolled-back write leaves no event: an unknown currency fails the transaction's foreign key.
      await expect(recordTransaction(products.dbOf('finance'), { customerId: 'C000003', currency: 'XXX', lineItems: [{ sku: 'SKU-0001', quantity: 1, unitPrice: 1 }] })).rejects.toThrow();
      expect(await products.relayEventsNow()).toBe(0);
      const [outbox] = await products.dbOf('finance').query<{ n: string }>('SELECT count(*)::text AS n FROM finance.event_outbox WHERE published_at IS NULL');
      expect(outbox).toEqual({ n: '0' });
    } finally {
      await cleanup();
    }
  });
});

describe('npm run simulate', () => {
  it.runIf(process.env.DATABASE_URL)('records purchases and segment changes through the products\' write path: each with its event, relayed once', async () => {
    const bus = createMemoryBus();
    const { products, databaseUrl, cleanup } = await startProducts(20, undefined, bus);
    try {
      const transactions = collector();
      const segments = collector();
      await bus.subscribe(TRANSACTION_CREATED.subject, {}, transactions.push);
      await bus.subscribe(SEGMENT_CHANGED.subject, {}, segments.push);
      const [{ n: before }] = (await products.dbOf('finance').query<{ n: number }>('SELECT count(*)::int AS n FROM finance.transactions')) as [{ n: number }];
      const run = spawnTs('scripts/simulate.ts', ['--rate', '40/s', '--duration', '1s', '--seed', '7', '--segment-changes', '0.5'], { DATABASE_URL: databaseUrl! });
      expect(await run.exited).toBe(0);
      const [{ n: after }] = (await products.dbOf('finance').query<{ n: number }>('SELECT count(*)::int AS n FROM finance.transactions')) as [{ n: number }];
      const recorded = after - before;
      expect(recorded).toBeGreaterThan(0);
      await products.relayEventsNow();
      await transactions.until(recorded);
      expect(transactions.events).toHaveLength(recorded);
      // Every payload is valid, and its amount is the sum of the transaction's line items.
      for (const event of transactions.events) {
        const payload = TRANSACTION_CREATED.payload.parse(event.payload);
        const [row] = await products.dbOf('finance').query<{ total: string }>('SELECT sum(amount)::text AS total FROM finance.line_items WHERE transaction_id = $1', [payload.transactionId]);
        expect(Number(row!.total)).toBeCloseTo(payload.amount, 2);
      }
      const [{ n: changes }] = (await products.dbOf('customer').query<{ n: number }>('SELECT count(*)::int AS n FROM customer.event_outbox')) as [{ n: number }];
      await segments.until(changes);
      expect(segments.events.every((e) => SEGMENT_CHANGED.payload.safeParse(e.payload).success)).toBe(true);
      const refused = spawnTs('scripts/simulate.ts', ['--rate', 'fast'], { DATABASE_URL: databaseUrl! });
      expect(await refused.exited).toBe(2);
      expect(refused.stderr()).toMatch(/--rate/);
    } finally {
      await cleanup();
    }
  });
});
