import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { TRANSACTION_CREATED } from '../lib/events/catalog.js';
import { createMemoryBus } from '../lib/events/memory.js';
import { recordTransaction } from '../subgraphs/finance/record.js';
import { gatewayEnv, startStack, type Stack } from './helpers/stack.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { sseSubscribe, wsSubscribe } from './helpers/subscribers.js';

/*
 * Embedded defaults: no NATS_URL, the products and the gateway share one in-process bus (as in
 * npm start). The same delivery as over JetStream, and the slow-consumer cut.
 */

const SUBSCRIPTION = /* GraphQL */ `
  subscription { transactionCreated { id amount customer { name segments { name } } product { name } } }
`;
const QUERY = /* GraphQL */ `
  query ($id: ID!) { transactionCreated: transaction(id: $id) { id amount customer { name segments { name } } product { name } } }
`;
const BUFFER = 4;
const STALL_MS = 1_000;
let clock = Date.now();

const bus = createMemoryBus();
let stack: Stack;

beforeAll(async () => {
  // Budgets off: the slow-consumer test sends a few hundred events, each a query against the caller's budget.
  stack = await startStack({ productsBus: bus, gatewayBus: bus, now: () => clock, env: { SUBSCRIPTION_BUFFER_EVENTS: String(BUFFER), SUBSCRIPTION_STALL_MS: String(STALL_MS), RATE_LIMITING: 'off' } });
});

afterAll(async () => {
  await stack?.stop();
});

describe('subscriptions on the in-process bus', () => {
  it('on shutdown, subscribers are told to go elsewhere: SERVICE_UNAVAILABLE, WebSocket close 1001, SSE complete', async () => {
    const other = await startGateway(loadConfig(gatewayEnv(stack.subgraphUrls)), createLogger('test', 'silent'), { bus });
    const token = await mintDevToken({ roles: ['sales-manager'], subject: 'shutdown' });
    const ws = await wsSubscribe(other.url, { token, query: SUBSCRIPTION });
    const sse = await sseSubscribe(other.url, { token, query: SUBSCRIPTION });
    await other.whenSubscriptions(2);
    await other.stop();
    const [wsEnd, sseEnd] = await Promise.all([ws.ended, sse.ended]);
    expect(wsEnd.code).toBe(1001);
    expect(sseEnd).toEqual({ event: 'complete' });
    expect(sse.results.map((r) => (r.errors as { extensions: { code: string } }[])[0]!.extensions.code)).toEqual(['SERVICE_UNAVAILABLE']);
    expect(other.subscriptions()).toBe(0);
  });

  it('a recorded transaction reaches a graphql-ws and an SSE subscriber with the federated fields resolved', async () => {
    const token = await mintDevToken({ roles: ['sales-manager'], subject: 'embedded-1' });
    const ws = await wsSubscribe(stack.url, { token, query: SUBSCRIPTION, viaHeader: true });
    const sse = await sseSubscribe(stack.url, { token, query: SUBSCRIPTION });
    await stack.gateway.whenSubscriptions(2);
    const { id } = await recordTransaction(stack.products.dbOf('finance'), { customerId: 'C000005', currency: 'USD', lineItems: [{ sku: 'SKU-0001', quantity: 3, unitPrice: 9.99 }] });
    await stack.products.relayEventsNow();
    await Promise.all([ws.until(1), sse.until(1)]);
    const response = await fetch(stack.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: QUERY, variables: { id } }) });
    const expected = (await response.json()) as { data: { transactionCreated: { id: string; amount: number; customer: { name: string }; product: { name: string } } } };
    expect(expected.data.transactionCreated).toMatchObject({ id, amount: 29.97 });
    expect(expected.data.transactionCreated.customer.name).toMatch(/\S/);
    expect(expected.data.transactionCreated.product.name).toMatch(/\S/);
    expect(sse.results).toEqual([{ data: expected.data }]);
    expect(ws.results).toEqual([{ data: expected.data, extensions: { eventId: sse.ids[0] } }]);
    await Promise.all([ws.close(), sse.close()]);
    await stack.gateway.whenSubscriptionsAtMost(0);
  });

  it('a resume over a gap longer than the buffer catches up: every missed event, in order, then new ones', async () => {
    const token = await mintDevToken({ roles: ['sales-manager'], subject: 'catch-up' });
    const publish = (n: number) =>
      bus.publish({ subject: TRANSACTION_CREATED.subject, id: `gap-${n}`, type: TRANSACTION_CREATED.type, schemaVersion: 1, payload: { transactionId: 'T0000001', customerId: 'C000001', amount: 1, currency: 'EUR', occurredAt: '2026-12-01T09:00:00.000Z' } });
    const before = await publish(0);
    const missed = [];
    for (let n = 1; n <= BUFFER * 3; n += 1) missed.push((await publish(n)).sequence);
    const sse = await sseSubscribe(stack.url, { token, query: SUBSCRIPTION, lastEventId: String(before.sequence) });
    const ws = await wsSubscribe(stack.url, { token, query: SUBSCRIPTION, resumeAfter: String(before.sequence) });
    await Promise.all([sse.until(missed.length), ws.until(missed.length)]);
    await stack.gateway.whenSubscriptions(2);
    const next = await publish(100);
    await Promise.all([sse.until(missed.length + 1), ws.until(missed.length + 1)]);
    expect(sse.ids).toEqual([...missed, next.sequence].map(String));
    expect(ws.ids).toEqual([...missed, next.sequence].map(String));
    await Promise.all([ws.close(), sse.close()]);
    await stack.gateway.whenSubscriptionsAtMost(0);
  });

  it('a subscriber that stops reading is cut once its full buffer stays untaken (close 4008, SLOW_CONSUMER) while another gets every event', async () => {
    // Large results (the customer's purchases, many times over) so the connection's socket buffers fill in a few hundred events.
    const heavy = `subscription { transactionCreated { ${Array.from({ length: 25 }, (_, i) => `c${i}: customer { transactions(first: 10) { id amount currency timestamp product { name sku } } }`).join(' ')} } }`;
    const fast = await sseSubscribe(stack.url, { token: await mintDevToken({ roles: ['sales-manager'], subject: 'fast' }), query: SUBSCRIPTION });
    const slow = await wsSubscribe(stack.url, { token: await mintDevToken({ roles: ['sales-manager'], subject: 'slow' }), query: heavy });
    await stack.gateway.whenSubscriptions(2);
    // The slow client stops reading its socket: the gateway's writes back up, then its buffer fills.
    const socket = (slow.socket() as unknown as { _socket: Socket })._socket;
    socket.pause();
    let published = 0;
    // Each event is published once the fast subscriber has the previous one: it is never behind.
    // After each, the gateway's clock moves past the stall time and the stall check runs (its own
    // timer may run it first: either way the slow one goes, the fast one stays).
    while (published < 3_000 && stack.gateway.subscriptions() === 2) {
      await bus.publish({ subject: TRANSACTION_CREATED.subject, id: `slow-${published}`, type: TRANSACTION_CREATED.type, schemaVersion: 1, payload: { transactionId: 'T0000001', customerId: 'C000001', amount: 1, currency: 'EUR', occurredAt: '2026-12-01T09:00:00.000Z' } });
      published += 1;
      await fast.until(published);
      clock += STALL_MS + 1;
      stack.gateway.cutStalledSubscriptions();
    }
    await stack.gateway.whenSubscriptionsAtMost(1);
    expect(published).toBeLessThan(3_000);
    expect(fast.results).toHaveLength(published);
    expect(fast.results.every((r) => r.data !== undefined && r.errors === undefined)).toBe(true);
    // The fast one goes on.
    await bus.publish({ subject: TRANSACTION_CREATED.subject, id: 'after-cut', type: TRANSACTION_CREATED.type, schemaVersion: 1, payload: { transactionId: 'T0000002', customerId: 'C000001', amount: 1, currency: 'EUR', occurredAt: '2026-12-01T09:00:00.000Z' } });
    await fast.until(published + 1);
    // The slow one reads again: what was written, then the reason it was cut.
    socket.resume();
    const end = await slow.ended;
    expect(end.code).toBe(4008);
    expect(end.reason).toMatch(/^SLOW_CONSUMER: /);
    await fast.close();
    await slow.close();
    await stack.gateway.whenSubscriptionsAtMost(0);
  });
});
