import { randomBytes } from 'node:crypto';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDb } from '../subgraphs/kit/db.js';
import { PRODUCT_NAMES } from '../subgraphs/kit/data-product.js';
import { seedDatabase } from '../subgraphs/seed/seed.js';
import { migrateDatabase } from '../subgraphs/migrate.js';
import { createScratchDatabase } from './helpers/database.js';
import { postGraphQL, type GraphQLResult } from './helpers/http.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './helpers/otlp-receiver.js';
import { spawnTs, type Spawned } from './helpers/process.js';
import { gatewayEnv, tokenFor } from './helpers/stack.js';

/*
 * Traces as operators get them: the gateway and the data products each in their own process (the
 * real entry points, gateway/main.ts and subgraphs/main.ts), exporting over OTLP/HTTP to a
 * receiver in this process. One client request with a W3C traceparent must come back as one trace
 * across those processes, every span's parent in it, and nothing secret in any attribute. The spans
 * are read once every process has stopped: SIGTERM flushes the exporter before the process exits,
 * so nothing here waits on a timer.
 */

const CUSTOMERS = 30;
const QUERY = /* GraphQL */ `
  query CustomerOrders($id: ID!) {
    customer(id: $id) { id name email transactions(first: 3) { id amount product { name } } }
  }
`;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

let receiver: OtlpReceiver;
const processes: Spawned[] = [];
let dropDatabase: (() => Promise<void>) | undefined;
/** Per data product, the service name its spans carry. */
const serviceOf: Record<string, string> = {};

/** Gateway A continues a client's trace (TRACE_PARENT=trust, the default); gateway B starts its own (ignore). */
const trusting = { traceId: hex(16), spanId: hex(8), requestId: `trace-trust-${hex(4)}` };
const ignoring = { traceId: hex(16), spanId: hex(8), requestId: `trace-ignore-${hex(4)}` };
let token: string;
let customerId: string;
let answer: GraphQLResult<{ customer: { id: string; email: string; transactions: { product: { name: string } | null }[] } }>;
let ignoredAnswer: GraphQLResult;
/** Every value the spans must never show. */
let secrets: string[];

function spawn(entry: string, args: string[], env: NodeJS.ProcessEnv): Spawned {
  const child = spawnTs(entry, args, env);
  processes.push(child);
  return child;
}

async function startSubgraphs(otel: Record<string, string>): Promise<Record<string, string>> {
  const urls: Record<string, string> = {};
  const listening = (child: Spawned, product: string) =>
    child.waitForLine((l) => l.msg === 'subgraph listening' && l.product === product).then((l) => (urls[product] = String(l.url)));
  const base = process.env.DATABASE_URL;
  if (base) {
    // As deployed: one process per data product, each its own service, over one seeded database.
    const scratch = await createScratchDatabase(base);
    dropDatabase = () => scratch.drop();
    await migrateDatabase({ fallbackUrl: scratch.url });
    const seeder = createPostgresDb({ url: scratch.url });
    try {
      await seedDatabase(seeder, { customers: CUSTOMERS });
    } finally {
      await seeder.close();
    }
    await Promise.all(
      PRODUCT_NAMES.map((product) => {
        serviceOf[product] = `data-product-${product}`;
        const child = spawn('subgraphs/main.ts', ['--product', product, '--port', '0'], { NODE_ENV: 'test', LOG_LEVEL: 'info', DATABASE_URL: scratch.url, ...otel });
        return listening(child, product);
      }),
    );
  } else {
    // Without PostgreSQL, one embedded database per process is heavy: the three products share one process.
    const child = spawn('subgraphs/main.ts', [], { NODE_ENV: 'test', LOG_LEVEL: 'info', SEED_CUSTOMERS: String(CUSTOMERS), CUSTOMER_PORT: '0', FINANCE_PORT: '0', PRODUCT_PORT: '0', ...otel });
    for (const product of PRODUCT_NAMES) serviceOf[product] = 'data-products';
    await Promise.all(PRODUCT_NAMES.map((product) => listening(child, product)));
  }
  return urls;
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' };
  const subgraphUrls = await startSubgraphs(otel);
  const [gatewayA, gatewayB] = (['trust', 'ignore'] as const).map((traceParent) =>
    spawn('gateway/main.ts', [], gatewayEnv(subgraphUrls, { LOG_LEVEL: 'info', TRACE_PARENT: traceParent, ...otel })),
  ) as [Spawned, Spawned];
  const [urlA, urlB] = await Promise.all([gatewayA, gatewayB].map(async (g) => String((await g.waitForLine((l) => l.msg === 'gateway ready')).url)));

  token = await tokenFor('sales-manager');
  const admin = await tokenFor('admin');
  // A customer with purchases, so that the request crosses all three products.
  const page = await postGraphQL<{ customers: { id: string; transactions: { id: string }[] }[] }>(urlA!, '{ customers(first: 30) { id transactions(first: 1) { id } } }', { token: admin });
  customerId = page.body.data!.customers.find((c) => c.transactions.length > 0)!.id;
  // The catalogue reads each product's descriptor: from then on the gateway knows their versions.
  await postGraphQL(urlA!, '{ dataProducts { name version } }', { token: admin });

  const request = (url: string, trace: typeof trusting) =>
    postGraphQL(url, QUERY, {
      token,
      variables: { id: customerId },
      operationName: 'CustomerOrders',
      headers: { traceparent: `00-${trace.traceId}-${trace.spanId}-01`, tracestate: 'client=opaque', 'x-request-id': trace.requestId },
    });
  answer = (await request(urlA!, trusting)) as typeof answer;
  ignoredAnswer = await request(urlB!, ignoring);

  // SIGTERM: each process drains, stops and flushes its spans to the receiver before it exits.
  const exits = await Promise.all(
    processes.map((child) => {
      child.child.kill('SIGTERM');
      return child.exited;
    }),
  );
  expect(exits).toEqual(processes.map(() => 0));
  const email = answer.body.data?.customer.email;
  // The personal data the request returned, its tokens, its variable and its text.
  secrets = [token, token.split('.')[2]!, admin, customerId, ...(email ? [email] : []), QUERY.trim(), 'customer(id: $id)'];
}, 120_000);

afterAll(async () => {
  for (const child of processes) child.kill();
  await receiver?.stop();
  await dropDatabase?.();
});

const spansOf = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
const byId = (spans: readonly ReceivedSpan[]) => new Map(spans.map((s) => [s.spanId, s]));
const one = (spans: readonly ReceivedSpan[], predicate: (s: ReceivedSpan) => boolean, what: string): ReceivedSpan => {
  const found = spans.filter(predicate);
  expect(found, what).toHaveLength(1);
  return found[0]!;
};
/** The span's ancestors, nearest first, within the spans given. */
function ancestors(span: ReceivedSpan, spans: ReadonlyMap<string, ReceivedSpan>): ReceivedSpan[] {
  const chain: ReceivedSpan[] = [];
  for (let parent = span.parentSpanId && spans.get(span.parentSpanId); parent; parent = parent.parentSpanId && spans.get(parent.parentSpanId)) chain.push(parent);
  return chain;
}

describe('one traced request', () => {
  it('is answered normally', () => {
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data?.customer.id).toBe(customerId);
    expect(answer.body.data?.customer.email).toContain('@');
    expect(answer.body.data?.customer.transactions.length).toBeGreaterThan(0);
    expect(answer.body.data?.customer.transactions.some((t) => t.product?.name)).toBe(true);
    expect(ignoredAnswer.status).toBe(200);
  });

  it('is one trace, continuing the client\'s, across the gateway and every data product', () => {
    const spans = spansOf(trusting.traceId);
    const services = new Set(spans.map((s) => s.service));
    expect(services).toEqual(new Set(['data-product-gateway', ...PRODUCT_NAMES.map((p) => serviceOf[p]!)]));
    // The gateway's request span is the root in our processes; its parent is the client's span.
    const root = one(spans, (s) => s.parentSpanId === trusting.spanId, 'the span whose parent is the client\'s');
    expect(root).toMatchObject({ service: 'data-product-gateway', name: 'POST /graphql', kind: 2, traceState: 'client=opaque' });
    // Every other span's parent is in the trace: one tree, no orphan.
    const ids = byId(spans);
    for (const span of spans.filter((s) => s !== root)) {
      expect(span.parentSpanId && ids.has(span.parentSpanId), `${span.service} ${span.name} has its parent in the trace`).toBe(true);
      expect(ancestors(span, ids).at(-1), `${span.name} descends from the request span`).toBe(root);
    }
  });

  it('records the request: route, status, request id, operation and outcome', () => {
    const root = one(spansOf(trusting.traceId), (s) => s.name === 'POST /graphql' && s.service === 'data-product-gateway', 'the gateway request span');
    expect(root.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/graphql',
      'url.path': '/graphql',
      'http.response.status_code': 200,
      'dpg.request.id': trusting.requestId,
      'graphql.operation.name': 'CustomerOrders',
      'graphql.operation.type': 'query',
      'dpg.outcome': 'ok',
    });
    expect(root.attributes['dpg.document.hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(root.attributes['dpg.cost']).toEqual(expect.any(Number));
    expect(root.resource['service.instance.id']).toEqual(expect.any(String));
  });

  it('has a span per pipeline stage, authorization, and @apollo/gateway\'s planning, execution and fetches', () => {
    const spans = spansOf(trusting.traceId).filter((s) => s.service === 'data-product-gateway');
    const root = one(spans, (s) => s.name === 'POST /graphql', 'the gateway request span');
    const children = spans.filter((s) => s.parentSpanId === root.spanId).map((s) => s.name);
    expect(children).toEqual(
      expect.arrayContaining([
        'graphql.parse',
        'graphql.validate',
        'pipeline.analysis',
        'pipeline.demand-control',
        'pipeline.deprecation',
        'authorization',
        'gateway.request',
        'pipeline.respond',
      ]),
    );
    // Each stage once.
    const stages = spans.filter((s) => s.name.startsWith('pipeline.')).map((s) => s.name);
    expect(stages).toEqual([...new Set(stages)]);
    const authorization = one(spans, (s) => s.name === 'authorization', 'the authorization span');
    expect(authorization.attributes).toMatchObject({ 'dpg.authorization.mode': 'filter', 'dpg.authorization.denied': 0 });
    const request = one(spans, (s) => s.name === 'gateway.request', 'gateway.request');
    expect(request.scope).toBe('apollo/gateway-js');
    const plan = one(spans, (s) => s.name === 'gateway.plan', 'gateway.plan');
    expect(plan.parentSpanId).toBe(request.spanId);
    const execute = one(spans, (s) => s.name === 'gateway.execute', 'gateway.execute');
    expect(execute.parentSpanId).toBe(request.spanId);
    const fetches = spans.filter((s) => s.name === 'gateway.fetch');
    expect(new Set(fetches.map((f) => f.attributes['dpg.data_product.name']))).toEqual(new Set(PRODUCT_NAMES));
    for (const fetch of fetches) {
      expect(fetch.attributes['service']).toBe(fetch.attributes['dpg.data_product.name']);
      expect(fetch.attributes['http.response.status_code']).toBe(200);
      expect(fetch.attributes['graphql.operation.name']).toMatch(/^CustomerOrders__\w+__\d+$/);
      expect(semver.valid(String(fetch.attributes['dpg.data_product.version'])), 'the product version, from the catalogue').not.toBeNull();
    }
  });

  it('continues in each data product under the gateway fetch that called it, down to each statement', () => {
    const spans = spansOf(trusting.traceId);
    const ids = byId(spans);
    for (const product of PRODUCT_NAMES) {
      const servers = spans.filter((s) => s.kind === 2 && s.attributes['dpg.data_product.name'] === product);
      expect(servers.length, `${product} server spans`).toBeGreaterThan(0);
      for (const server of servers) {
        expect(server).toMatchObject({ service: serviceOf[product], name: 'POST /graphql', traceState: 'client=opaque' });
        // Its parent is the gateway's fetch to this product, in the other process.
        const parent = ids.get(server.parentSpanId!);
        expect(parent).toMatchObject({ service: 'data-product-gateway', name: 'gateway.fetch' });
        expect(parent!.attributes['dpg.data_product.name']).toBe(product);
        expect(server.attributes).toMatchObject({ 'dpg.request.id': trusting.requestId, 'http.response.status_code': 200, 'graphql.operation.type': 'query' });
        expect(server.attributes['graphql.operation.name']).toBe(parent!.attributes['graphql.operation.name']);
        expect(semver.valid(String(server.attributes['dpg.data_product.version']))).not.toBeNull();
      }
      // Statements: CLIENT spans of the product's own tables, below its server span.
      const statements = spans.filter((s) => s.kind === 3 && servers.some((server) => ancestors(s, ids).includes(server)));
      expect(statements.length, `${product} statements`).toBeGreaterThan(0);
      for (const statement of statements) {
        expect(statement.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT' });
        expect(String(statement.attributes['db.query.summary'])).toMatch(new RegExp(`^SELECT ${product}\\.\\w+$`));
        expect(statement.name).toBe(statement.attributes['db.query.summary']);
        expect(statement.attributes['dpg.db.statement_hash']).toMatch(/^[0-9a-f]{16}$/);
        expect(statement.attributes['db.response.returned_rows']).toEqual(expect.any(Number));
      }
    }
    // Entity lookups are batched by DataLoader: the batch is the statement's parent.
    const batch = spans.find((s) => s.name === 'dataloader productBySku');
    expect(batch?.attributes).toMatchObject({ 'dpg.loader.name': 'productBySku', 'dpg.loader.batch_size': expect.any(Number) });
    expect(spans.some((s) => s.kind === 3 && s.parentSpanId === batch!.spanId)).toBe(true);
  });

  it('with TRACE_PARENT=ignore starts a new trace, linked to the client\'s span', () => {
    expect(spansOf(ignoring.traceId)).toEqual([]);
    const root = one(receiver.spans, (s) => s.attributes['dpg.request.id'] === ignoring.requestId && s.service === 'data-product-gateway', 'gateway B\'s request span');
    expect(root.parentSpanId).toBeUndefined();
    expect(root.links).toEqual([{ traceId: ignoring.traceId, spanId: ignoring.spanId }]);
    expect(root.traceState).toBe('');
    // The new trace still crosses into the data products.
    const services = new Set(spansOf(root.traceId).map((s) => s.service));
    for (const product of PRODUCT_NAMES) expect(services).toContain(serviceOf[product]);
  });

  it('records no token, variable value, query text or personal data in any span', () => {
    expect(receiver.spans.length).toBeGreaterThan(0);
    expect(secrets.every((s) => s.length >= 6)).toBe(true);
    for (const span of receiver.spans) {
      const recorded = JSON.stringify([span.name, span.attributes, span.resource]);
      for (const secret of secrets) expect(recorded.includes(secret), `${span.service} ${span.name} shows "${secret.slice(0, 12)}..."`).toBe(false);
      // No JWT at all (the client's token, or the identity the gateway signs for each product).
      expect(recorded, `${span.service} ${span.name}`).not.toMatch(/eyJ[\w-]{8,}\.[\w-]{8,}/);
    }
  });
});
