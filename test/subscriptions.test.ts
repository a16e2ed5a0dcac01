import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import type { EventBus } from '../lib/events/bus.js';
import { createNatsBus } from '../lib/events/nats.js';
import { createLogger } from '../lib/logger.js';
import { recordTransaction } from '../subgraphs/finance/record.js';
import { deleteNamespace, NATS_URL, natsNamespace } from './helpers/nats.js';
import { gatewayEnv, startStack, type Stack } from './helpers/stack.js';
import { sseSubscribe, wsSubscribe } from './helpers/subscribers.js';

/*
 * Federated subscriptions against the real NATS server: the finance product records a
 * transaction (outbox, relay, JetStream), the gateway's consumer receives it and resolves the
 * subscriber's selection through the normal federated query path.
 */

const silent = createLogger('test', 'silent');
const SUBSCRIPTION = /* GraphQL */ `
  subscription Purchases($customerId: ID) {
    transactionCreated(customerId: $customerId) { id amount customer { name segments { name } } product { name } }
  }
`;
const QUERY = /* GraphQL */ `
  query ($id: ID!) { transactionCreated: transaction(id: $id) { id amount customer { name segments { name } } product { name } } }
`;

let namespace: string;
let productsBus: EventBus;
let stack: Stack;
let clock = Date.now();
const now = () => clock;
let customerSeq = 0;

async function record(customerId = 'C000007') {
  customerSeq += 1;
  const recorded = await recordTransaction(stack.products.dbOf('finance'), { customerId, currency: 'EUR', lineItems: [{ sku: 'SKU-0003', quantity: 1 + (customerSeq % 3), unitPrice: 12.5 }] });
  await stack.products.relayEventsNow();
  return recorded;
}

async function query(token: string, id: string): Promise<Record<string, unknown>> {
  const response = await fetch(stack.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: QUERY, variables: { id } }) });
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  namespace = natsNamespace('subs');
  productsBus = await createNatsBus({ url: NATS_URL, namespace, logger: silent });
  stack = await startStack({ productsBus, now, env: { NATS_URL, EVENTS_NAMESPACE: namespace, SUBSCRIPTIONS_MAX_PER_PRINCIPAL: '3' } });
});

let subjectSeq = 0;
/** A token of a subject of its own (the per-caller cap counts by subject). */
function tokenAs(role: string, ttlS?: number) {
  subjectSeq += 1;
  return mintDevToken({ roles: [role], clientId: `test-${role}`, subject: `subscriber-${subjectSeq}`, ttlS });
}

afterEach(async () => {
  // Every test closes what it opened: the gateway releases every slot.
  await stack.gateway.whenSubscriptionsAtMost(0);
});

afterAll(async () => {
  await stack?.stop();
  await productsBus?.close();
  await deleteNamespace(namespace);
});

describe('federated subscriptions over NATS JetStream', () => {
  it('a recorded transaction reaches a graphql-ws and an SSE subscriber with the fields of every product resolved, and its stream sequence as id', async () => {
    const token = await tokenAs('sales-manager');
    const ws = await wsSubscribe(stack.url, { token, query: SUBSCRIPTION });
    const sse = await sseSubscribe(stack.url, { token, query: SUBSCRIPTION });
    expect(sse.status).toBe(200);
    await stack.gateway.whenSubscriptions(2);
    const { id } = await record();
    await Promise.all([ws.until(1), sse.until(1)]);
    const expected = await query(token, id);
    const data = expected.data as { transactionCreated: { customer: { name: string; segments: unknown[] }; product: { name: string } } };
    expect(data.transactionCreated.customer.name).toMatch(/\S/);
    expect(data.transactionCreated.product.name).toMatch(/\S/);
    expect(sse.results[0]).toEqual({ data: expected.data });
    expect(ws.results[0]).toEqual({ data: expected.data, extensions: { eventId: sse.ids[0] } });
    expect(sse.ids[0]).toMatch(/^\d+$/);
    await Promise.all([ws.close(), sse.close()]);
  });

  it('a marketing analyst gets the same events, with what the role may not read null and FORBIDDEN errors, as its query would', async () => {
    const token = await tokenAs('marketing-analyst');
    const ws = await wsSubscribe(stack.url, { token, query: SUBSCRIPTION });
    const sse = await sseSubscribe(stack.url, { token, query: SUBSCRIPTION });
    await stack.gateway.whenSubscriptions(2);
    const { id } = await record();
    await Promise.all([ws.until(1), sse.until(1)]);
    const expected = await query(token, id);
    expect((expected.errors as { extensions: { code: string } }[]).map((e) => e.extensions.code)).toContain('FORBIDDEN');
    expect(sse.results[0]).toEqual(expected);
    expect({ ...ws.results[0], extensions: undefined }).toEqual({ ...expected, extensions: undefined });
    await Promise.all([ws.close(), sse.close()]);
  });

  it('customerId filters the events: a subscriber for one customer gets only that customer\'s transactions', async () => {
    const token = await tokenAs('sales-manager');
    const sse = await sseSubscribe(stack.url, { token, query: SUBSCRIPTION, variables: { customerId: 'C000011' } });
    await stack.gateway.whenSubscriptions(1);
    await record('C000010');
    const { id } = await record('C000011');
    await sse.until(1);
    expect((sse.results[0]!.data as { transactionCreated: { id: string } }).transactionCreated.id).toBe(id);
    await sse.close();
  });

  it('an expired token ends the subscription with UNAUTHENTICATED: graphql-ws closes with 4401, SSE ends with the error and complete', async () => {
    // The gateway's clock catches up with real time (the token's exp is real time plus 60 s).
    clock = Math.max(clock, Date.now());
    const token = await tokenAs('sales-manager', 60);
    const ws = await wsSubscribe(stack.url, { token, query: SUBSCRIPTION });
    const sse = await sseSubscribe(stack.url, { token, query: SUBSCRIPTION });
    await stack.gateway.whenSubscriptions(2);
    // The gateway's clock passes the token's exp; the hook runs the expiry check the timers run.
    clock += 61_000;
    expect(stack.gateway.expireSubscriptions()).toBe(2);
    const [wsEnd, sseEnd] = await Promise.all([ws.ended, sse.ended]);
    expect(wsEnd.code).toBe(4401);
    expect(wsEnd.reason).toMatch(/^UNAUTHENTICATED/);
    expect(sseEnd).toEqual({ event: 'complete' });
    const code = (r: Record<string, unknown>) => (r.errors as { extensions: { code: string } }[])[0]!.extensions.code;
    expect(sse.results.map(code)).toEqual(['UNAUTHENTICATED']);
    expect(ws.results.map(code)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses a subscription over the per-caller cap with RATE_LIMITED, and frees the slot when one closes', async () => {
    const token = await tokenAs('data-scientist');
    const open = await Promise.all([1, 2, 3].map(() => sseSubscribe(stack.url, { token, query: SUBSCRIPTION })));
    expect(open.map((s) => s.status)).toEqual([200, 200, 200]);
    const refused = await sseSubscribe(stack.url, { token, query: SUBSCRIPTION });
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ errors: [{ message: 'At most 3 open subscriptions per caller', extensions: { code: 'RATE_LIMITED', limit: 'subscriptions', maximum: 3 } }] });
    const ws = await wsSubscribe(stack.url, { token, query: SUBSCRIPTION });
    await ws.until(1);
    expect(ws.results[0]).toEqual({ error: [expect.objectContaining({ extensions: { code: 'RATE_LIMITED', limit: 'subscriptions', maximum: 3 } })] });
    await ws.close();
    await open[0]!.close();
    await stack.gateway.whenSubscriptionsAtMost(2);
    const again = await sseSubscribe(stack.url, { token, query: SUBSCRIPTION });
    expect(again.status).toBe(200);
    await Promise.all([again.close(), open[1]!.close(), open[2]!.close()]);
  });

  it('checks the token when the connection opens: an invalid one is WebSocket close 4401 and SSE 401, nothing opened', async () => {
    const token = `${await tokenAs('sales-manager')}x`;
    const ws = await wsSubscribe(stack.url, { token, query: SUBSCRIPTION });
    expect((await ws.ended).code).toBe(4401);
    const sse = await sseSubscribe(stack.url, { token, query: SUBSCRIPTION });
    expect(sse.status).toBe(401);
    expect((sse.body as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    expect(stack.gateway.subscriptions()).toBe(0);
  });

  it('refuses what is not a subscription it serves, before anything is opened', async () => {
    const token = await tokenAs('sales-manager');
    const cases = [
      { query: '{ transaction(id: "T0000001") { id } }', status: 400, code: 'BAD_REQUEST' },
      { query: 'subscription { nope }', status: 400, code: 'GRAPHQL_VALIDATION_FAILED' },
      { query: 'subscription {', status: 400, code: 'GRAPHQL_PARSE_FAILED' },
    ];
    for (const c of cases) {
      const refused = await sseSubscribe(stack.url, { token, query: c.query });
      expect([refused.status, (refused.body as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code]).toEqual([c.status, c.code]);
    }
    const badResume = await sseSubscribe(stack.url, { token, query: SUBSCRIPTION, lastEventId: 'x' });
    expect(badResume.status).toBe(400);
  });

  it('two gateway replicas both deliver (each its own JetStream consumer), and a durable subscriber resumes after a gateway restart without losing events', async () => {
    const token = await tokenAs('sales-manager');
    const env = gatewayEnv(stack.subgraphUrls, { NATS_URL, EVENTS_NAMESPACE: namespace });
    let second: RunningGateway | undefined = await startGateway(loadConfig(env), silent);
    try {
      const one = await sseSubscribe(stack.url, { token, query: SUBSCRIPTION });
      const two = await wsSubscribe(second.url, { token, query: SUBSCRIPTION });
      await Promise.all([stack.gateway.whenSubscriptions(1), second.whenSubscriptions(1)]);
      const first = await record();
      await Promise.all([one.until(1), two.until(1)]);
      const lastSeen = one.ids[0]!;
      expect((two.results[0]!.extensions as { eventId: string }).eventId).toBe(lastSeen);
      expect((one.results[0]!.data as { transactionCreated: { id: string } }).transactionCreated.id).toBe(first.id);
      await two.close();
      await one.close();
      // The second replica restarts; meanwhile two transactions are recorded.
      await second.stop();
      second = undefined;
      const missed = [await record(), await record()];
      second = await startGateway(loadConfig(env), silent);
      const resumedSse = await sseSubscribe(second.url, { token, query: SUBSCRIPTION, lastEventId: lastSeen });
      const resumedWs = await wsSubscribe(second.url, { token, query: SUBSCRIPTION, resumeAfter: lastSeen });
      await Promise.all([resumedSse.until(2), resumedWs.until(2)]);
      const ids = (results: Record<string, unknown>[]) => results.map((r) => (r.data as { transactionCreated: { id: string } }).transactionCreated.id);
      expect(ids(resumedSse.results)).toEqual(missed.map((m) => m.id));
      expect(ids(resumedWs.results)).toEqual(missed.map((m) => m.id));
      expect(resumedSse.ids).toEqual([String(Number(lastSeen) + 1), String(Number(lastSeen) + 2)]);
      await Promise.all([resumedSse.close(), resumedWs.close()]);
    } finally {
      await second?.stop();
    }
  });
});
