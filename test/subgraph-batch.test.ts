// Entity fetch batching (SUBGRAPH_BATCH): the fetches one request starts together for one subgraph
// travel as one call, and each fetch gets exactly what the subgraph would have answered it alone.
// The merge is checked against real subgraph schemas (the public benchmark's, executed in-process),
// then end to end: the public benchmark's four subgraphs as processes, our gateway with batching
// on and off, the same answers, fewer calls.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { Supergraph, operationFromDocument } from '@apollo/federation-internals';
import { QueryPlanner, type PlanNode, type QueryPlan } from '@apollo/query-planner';
import fc from 'fast-check';
import { execute, parse, validate, type GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCallCounts, callsBetween } from '../bench/public/calls.js';
import { queryAfterHeader } from '../bench/public/operations.js';
import { publicSubgraphSchema, type PublicSubgraph } from '../bench/public/subgraphs.js';
import { PUBLIC_SUPERGRAPH, writePublicSupergraph } from '../bench/public/supergraph.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { mergedVariables, mergeEntityFetches, NotMergeable, splitAnswer } from '../gateway/subgraph/entity-batch.js';
import type { SubgraphBody } from '../gateway/subgraph/entities.js';
import { createFetchWaves, MAX_BATCH_FETCHES, type Batched } from '../gateway/subgraph/fetch-waves.js';
import { finalFetchesOf } from '../gateway/subgraph/final-fetches.js';
import { SubgraphSource } from '../gateway/subgraph-source.js';
import { GraphQLDataSourceRequestKind, type GraphQLDataSourceProcessOptions } from '@apollo/gateway/dist/datasources/types.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../lib/logger.js';
import { postGraphQL } from './helpers/http.js';
import { ROOT } from './helpers/process.js';
import { startPublicSubgraphs, type PublicSubgraphProcesses } from './helpers/public-subgraphs.js';
import { tokenFor } from './helpers/stack.js';

const PROPERTY_SEED = Number(process.env.PROPERTY_SEED ?? 20261010);
const TEST_QUERY = queryAfterHeader(readFileSync(join(ROOT, 'bench/public/test-query.graphql'), 'utf8'));

/** The entity fetches (their operation texts) the planner makes for the public test query, by subgraph. */
function entityFetchesOfTestQuery(): Map<string, string[]> {
  const supergraph = Supergraph.build(readFileSync(PUBLIC_SUPERGRAPH, 'utf8'), { supportedFeatures: null });
  const plan: QueryPlan = new QueryPlanner(supergraph).buildQueryPlan(operationFromDocument(supergraph.schema, parse(TEST_QUERY)));
  const bySubgraph = new Map<string, string[]>();
  const walk = (node: QueryPlan['node'] | PlanNode): void => {
    if (!node || node.kind === 'Subscription') return;
    if (node.kind === 'Fetch') {
      if (node.requires) bySubgraph.set(node.serviceName, [...(bySubgraph.get(node.serviceName) ?? []), node.operation]);
    } else if (node.kind === 'Sequence' || node.kind === 'Parallel') node.nodes.forEach(walk);
    else if (node.kind === 'Flatten') walk(node.node);
  };
  walk(plan.node);
  return bySubgraph;
}

/** A representation each public subgraph resolves (any extra key is harmless: `_Any`). */
const userRep = (id: string) => ({ __typename: 'User', id, username: `user${id}` });
const productRep = (upc: string, price: number, weight: number) => ({ __typename: 'Product', upc, price, weight });
/** Users for accounts, products for the others; ids past the data (7, 10) resolve to nothing. */
const representationsFor = (subgraph: PublicSubgraph) =>
  fc.array(
    (subgraph === 'accounts'
      ? fc.constantFrom('1', '2', '3', '4', '5', '6', '7').map(userRep)
      : fc.tuple(fc.constantFrom('1', '2', '3', '4', '5', '6', '7', '8', '9', '10'), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 6_000 })).map(([upc, price, weight]) => productRep(upc, price, weight))) as fc.Arbitrary<Record<string, unknown>>,
    { minLength: 1, maxLength: 6 },
  );

const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
/** An answer as @apollo/gateway reads it: error locations (into the text sent) are not passed on. */
const withoutLocations = (body: SubgraphBody): SubgraphBody =>
  body.errors ? { ...body, errors: body.errors.map((error) => ({ ...(error as object), locations: undefined })).map((error) => json(error)) } : body;

async function run(schema: GraphQLSchema, query: string, variables: Record<string, unknown>): Promise<SubgraphBody> {
  return json(await execute({ schema, document: parse(query), variableValues: variables })) as SubgraphBody;
}

describe('merging the entity fetches of one plan', () => {
  const fetches = entityFetchesOfTestQuery();

  it('the public test query has subgraphs fetched at several paths (what batching is for)', () => {
    const several = [...fetches].filter(([, operations]) => operations.length > 1).map(([name]) => name).sort();
    expect(several).toEqual(['accounts', 'inventory', 'products', 'reviews']);
  });

  it('the merged operation validates against the subgraph, and each fetch\'s part of its answer equals the fetch answered alone (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...(['accounts', 'inventory', 'products'] as const)).chain((subgraph) => fc.tuple(fc.constant(subgraph), fc.array(representationsFor(subgraph), { minLength: 2, maxLength: 5 }))),
        async ([subgraph, repsPerFetch]) => {
        const schema = publicSubgraphSchema(subgraph);
        const operations = fetches.get(subgraph)!;
        const queries = repsPerFetch.map((_, i) => operations[i % operations.length]!);
        const merged = mergeEntityFetches(queries, 'TestQuery__batch');
        expect(validate(schema, parse(merged.query))).toEqual([]);
        const alone = await Promise.all(queries.map((query, i) => run(schema, query, { representations: repsPerFetch[i] })));
        const together = await run(schema, merged.query, mergedVariables(merged, repsPerFetch.map((reps) => ({ representations: reps }))));
        expect(together.data).not.toBeNull();
        expect(splitAnswer(together, merged)).toEqual(alone.map(withoutLocations));
        },
      ),
      { seed: PROPERTY_SEED, numRuns: 60 },
    );
  });

  it('keeps each fetch\'s own variables and fragments apart when their names collide', async () => {
    const schema = buildSubgraphSchema({
      typeDefs: parse(`
        extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
        type Query { ping: Boolean }
        type Product @key(fields: "upc") { upc: String! tags(first: Int!): [String!]! label: String! }
      `),
      resolvers: {
        Product: {
          __resolveReference: (ref: { upc: string }) => (ref.upc === 'boom' ? new Error('no such product') : { upc: ref.upc }),
          tags: (product: { upc: string }, args: { first: number }) => Array.from({ length: args.first }, (_, i) => `${product.upc}-${i}`),
          label: (product: { upc: string }) => `Product ${product.upc}`,
        },
      },
    });
    const a = 'query A($representations: [_Any!]!, $first: Int!) { _entities(representations: $representations) { ... on Product { ...P } } } fragment P on Product { tags(first: $first) }';
    const b = 'query B($representations: [_Any!]!, $first: Int!) { _entities(representations: $representations) { ... on Product { ...P } } } fragment P on Product { label tags(first: $first) }';
    const merged = mergeEntityFetches([a, b], 'AB');
    expect(validate(schema, parse(merged.query))).toEqual([]);
    const variables = [
      { representations: [{ __typename: 'Product', upc: '1' }, { __typename: 'Product', upc: 'boom' }], first: 1 },
      { representations: [{ __typename: 'Product', upc: 'boom' }, { __typename: 'Product', upc: '2' }], first: 3 },
    ];
    const alone = await Promise.all([a, b].map((query, i) => run(schema, query, variables[i]!)));
    const parts = splitAnswer(await run(schema, merged.query, mergedVariables(merged, variables)), merged);
    expect(parts).toEqual(alone.map(withoutLocations));
    // The failing representation's error sits at its own fetch's position.
    expect(parts.map((part) => (part.errors as { path: unknown[] }[]).map((error) => error.path))).toEqual([[['_entities', 1]], [['_entities', 0]]]);
    expect(parts[1]!.data).toEqual({ _entities: [null, { label: 'Product 2', tags: ['2-0', '2-1', '2-2'] }] });
  });

  it('gives an error that names no fetch (a refusal of the whole call) to every fetch, each its own copy', () => {
    const merged = mergeEntityFetches(['query($representations: [_Any!]!) { _entities(representations: $representations) { __typename } }', 'query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { id } } }'], 'X');
    const refusal = { message: 'Cannot query field', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } };
    const parts = splitAnswer({ errors: [refusal] }, merged);
    expect(parts).toEqual([{ errors: [refusal] }, { errors: [refusal] }]);
    expect(parts[0]!.errors![0]).not.toBe(parts[1]!.errors![0]);
    expect(splitAnswer({ data: null, errors: [refusal] }, merged)).toEqual([{ data: null, errors: [refusal] }, { data: null, errors: [refusal] }]);
  });

  it('refuses what is not an entity fetch: a mutation, another root field, two operations, an unparsable text', () => {
    const entity = 'query($representations: [_Any!]!) { _entities(representations: $representations) { __typename } }';
    for (const other of [
      'mutation($representations: [_Any!]!) { _entities(representations: $representations) { __typename } }',
      '{ me { id } }',
      `${entity} query Other { __typename }`,
      'query {',
      'query($representations: [_Any!]!) { e: _entities(representations: $representations) { __typename } }',
    ]) {
      expect(() => mergeEntityFetches([entity, other], 'X'), other).toThrow(NotMergeable);
    }
  });
});

describe('the fetches of a plan nothing waits for', () => {
  it('on the public test query: every inventory fetch and the authors\' names; not the reviews or the products inventory @requires, nor the root fetches', () => {
    const supergraph = Supergraph.build(readFileSync(PUBLIC_SUPERGRAPH, 'utf8'), { supportedFeatures: null });
    const plan = new QueryPlanner(supergraph).buildQueryPlan(operationFromDocument(supergraph.schema, parse(TEST_QUERY)));
    const final = finalFetchesOf(plan);
    const named = [...final].map((key) => key.split('\0').slice(0, 2).join(' ')).sort();
    expect(named).toEqual([
      'accounts topProducts.@.reviews.@.author',
      'accounts users.@.reviews.@.product.reviews.@.author',
      'inventory topProducts.@',
      // inStock, and shippingEstimate after the products' price and weight: two fetches each.
      'inventory topProducts.@.reviews.@.author.reviews.@.product',
      'inventory topProducts.@.reviews.@.author.reviews.@.product',
      'inventory users.@.reviews.@.product',
      'inventory users.@.reviews.@.product',
      'inventory users.@.reviews.@.product.reviews.@.author.reviews.@.product',
      'inventory users.@.reviews.@.product.reviews.@.author.reviews.@.product',
    ]);
    expect(finalFetchesOf(plan)).toBe(final); // walked once per plan
  });
});

describe('fetches leave in waves', () => {
  interface Member extends Batched<string> {
    readonly id: number;
  }
  /** A send that answers each member with its id and records the batch; `sent` resolves on each batch. */
  function recorder() {
    const batches: number[][] = [];
    let notify: (() => void) | undefined;
    const send = async (_request: object, members: readonly Member[]) => {
      batches.push(members.map((member) => member.id));
      for (const member of members) member.resolve!(`answer ${member.id}`);
      notify?.();
    };
    const nextBatch = () => new Promise<void>((resolve) => (notify = resolve));
    return { batches, send, nextBatch };
  }

  it('a parked fetch waits while another call of its request is in flight, then every subgraph\'s batch leaves at once', async () => {
    const waves = createFetchWaves();
    const request = {};
    const [products, inventory] = [{}, {}];
    const { batches, send, nextBatch } = recorder();
    const rootOver = waves.begin(request); // a root fetch, in flight
    const ends = [1, 2, 3].map(() => waves.begin(request));
    const answers = [waves.park<Member, string>(request, products, { id: 1 }, send), waves.park<Member, string>(request, inventory, { id: 2 }, send), waves.park<Member, string>(request, products, { id: 3 }, send)];
    // Another request's fetch is not held by this one's calls.
    const other = {};
    const otherOver = waves.begin(other);
    const lone = waves.park<Member, string>(other, products, { id: 9 }, send);
    expect(await lone).toBe('answer 9');
    otherOver();
    expect(batches).toEqual([[9]]);
    const released = nextBatch();
    rootOver();
    await released;
    expect(await Promise.all(answers)).toEqual(['answer 1', 'answer 2', 'answer 3']);
    expect(batches).toEqual([[9], [1, 3], [2]]);
    for (const end of ends) end();
    expect(waves.tracked).toBe(0);
  });

  it('fetches nothing waits for stay parked while others can leave, then leave together', async () => {
    const waves = createFetchWaves();
    const request = {};
    const [reviews, inventory] = [{}, {}];
    const { batches, send, nextBatch } = recorder();
    const park = (subgraph: object, id: number, final: boolean) => {
      const over = waves.begin(request);
      return waves.park<Member, string>(request, subgraph, { id }, send, final).finally(over);
    };
    let released = nextBatch();
    const leaf = park(inventory, 1, true);
    const first = park(reviews, 2, false);
    await released;
    expect(batches).toEqual([[2]]); // the inventory fetch waits
    released = nextBatch();
    await first;
    const secondLeaf = park(inventory, 3, true);
    await released;
    expect(await Promise.all([leaf, secondLeaf])).toEqual(['answer 1', 'answer 3']);
    expect(batches).toEqual([[2], [1, 3]]);
    expect(waves.tracked).toBe(0);
  });

  it(`a batch of ${MAX_BATCH_FETCHES} leaves at once; a failed send rejects each of its fetches`, async () => {
    const waves = createFetchWaves();
    const request = {};
    const subgraph = {};
    const sizes: number[] = [];
    const failing = async (_request: object, members: readonly Member[]) => {
      sizes.push(members.length);
      throw new Error('subgraph down');
    };
    const blocker = waves.begin(request);
    const count = MAX_BATCH_FETCHES + 1;
    // Each fetch's call is over when its answer is in, as in SubgraphSource.process.
    const results = Promise.allSettled(
      Array.from({ length: count }, (_, id) => {
        const over = waves.begin(request);
        return waves.park<Member, string>(request, subgraph, { id }, failing).finally(over);
      }),
    );
    expect(sizes).toEqual([MAX_BATCH_FETCHES]); // full: gone before anything else finished
    blocker();
    const settled = await results;
    expect(sizes).toEqual([MAX_BATCH_FETCHES, 1]);
    expect(settled.every((result) => result.status === 'rejected' && (result.reason as Error).message === 'subgraph down')).toBe(true);
  });
});

// A subgraph source with batching, against a toy subgraph that can refuse merged operations.
describe('a batch the subgraph does not answer as a whole', () => {
  const schema = buildSubgraphSchema({
    typeDefs: parse(`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
      type Query { ping: Boolean }
      type Product @key(fields: "upc") { upc: String! name: String! stock: Int! }
    `),
    resolvers: { Product: { __resolveReference: (ref: { upc: string }) => ({ upc: ref.upc, name: `Product ${ref.upc}`, stock: Number(ref.upc) * 10 }) } },
  });
  let server: Server;
  let url = '';
  const bodies: { query: string; variables: Record<string, unknown> }[] = [];
  /** 'answer' executes; 'refuse' answers 400 to an operation with more than one root field, as a subgraph limiting aliases would. */
  let mode: 'answer' | 'refuse' = 'answer';

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', async () => {
        const body = JSON.parse(text) as { query: string; variables: Record<string, unknown> };
        bodies.push(body);
        const document = parse(body.query);
        const roots = document.definitions.flatMap((d) => (d.kind === 'OperationDefinition' ? d.selectionSet.selections : []));
        if (mode === 'refuse' && roots.length > 1) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: 'too many root fields', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await execute({ schema, document, variableValues: body.variables })));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const NAMES = 'query A($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { name } } }';
  const STOCK = 'query B($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { stock } } }';
  const context = () => ({ principal: { subject: 'batch-test' }, identityToken: async () => 'header.e30.signature', requestId: 'batch-test' });
  const fetchWith = (source: SubgraphSource, request: object, query: string, upcs: string[]) =>
    source.process({
      kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
      request: { query, variables: { representations: upcs.map((upc) => ({ __typename: 'Product', upc })) } },
      incomingRequestContext: {},
      context: request,
    } as unknown as GraphQLDataSourceProcessOptions);

  it.each([
    ['answer', 1],
    ['refuse', 3],
  ] as const)('subgraph mode %s: both fetches get their own answer, in %i call(s)', async (given, calls) => {
    mode = given;
    const source = new SubgraphSource({ name: 'products', url, timeoutMs: 5_000, identity: async () => 'header.e30.signature', waves: createFetchWaves() });
    try {
      bodies.length = 0;
      const request = context();
      const [names, stock] = await Promise.all([fetchWith(source, request, NAMES, ['1', '2', '1']), fetchWith(source, request, STOCK, ['3'])]);
      expect(names).toEqual({ data: { _entities: [{ name: 'Product 1' }, { name: 'Product 2' }, { name: 'Product 1' }] } });
      expect(stock).toEqual({ data: { _entities: [{ stock: 30 }] } });
      expect(bodies.length).toBe(calls);
      // The repeated representation is sent once either way.
      expect(bodies[0]!.variables).toEqual(given === 'answer' ? { b0_representations: [{ __typename: 'Product', upc: '1' }, { __typename: 'Product', upc: '2' }], b1_representations: [{ __typename: 'Product', upc: '3' }] } : expect.any(Object));
    } finally {
      await source.close();
    }
  });
});

// The public benchmark's four subgraphs, each its own process (as the bench runs them), counting calls.
describe('end to end on the public benchmark', () => {
  let subgraphs: PublicSubgraphProcesses | undefined;
  let origins: Readonly<Record<string, string>> = {};
  const silent = createLogger('test', 'silent');
  let batched: RunningGateway;
  let unbatched: RunningGateway;
  let token = '';

  beforeAll(async () => {
    subgraphs = await startPublicSubgraphs();
    origins = subgraphs.origins;
    const supergraph = writePublicSupergraph(subgraphs.urls);
    // Inbound deduplication and the response cache off: every request reaches the subgraph layer.
    const start = (env: Record<string, string>) =>
      startGateway(loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: supergraph, SUPERGRAPH_POLL_MS: '0', INBOUND_DEDUP: 'off', ...env }), silent);
    batched = await start({});
    unbatched = await start({ SUBGRAPH_BATCH: 'off' });
    token = await tokenFor('admin');
  });
  afterAll(async () => {
    await batched?.stop();
    await unbatched?.stop();
    subgraphs?.stop();
  });

  async function measure(gateway: RunningGateway) {
    const before = await readCallCounts(origins);
    const result = await postGraphQL(gateway.url, TEST_QUERY, { token });
    const calls = callsBetween(before, await readCallCounts(origins));
    return { result, calls };
  }

  it('the test query: the same answer with fewer subgraph calls; the metric counts the calls not made', async () => {
    const plain = await measure(unbatched);
    const together = await measure(batched);
    expect(plain.result.status).toBe(200);
    expect(plain.result.body.errors).toBeUndefined();
    expect((plain.result.body.data as { users: unknown[] }).users.length).toBeGreaterThan(0);
    expect(together.result.body).toEqual(plain.result.body);
    // The planner's 16 fetches without batching; with it, at least the parallel first wave merges:
    // products twice and inventory twice at the first level, accounts twice.
    expect(plain.calls.total).toBe(16);
    // Root fetches to accounts and products; the reviews of both branches in one call; the products
    // the inventory @requires (price, weight) from, in one call; then every fetch nothing waits for,
    // one call per subgraph: inventory (all six of its fetches) and accounts (the authors' names).
    // Hive Gateway's planner makes 7.
    expect(together.calls).toEqual({ total: 6, bySubgraph: { accounts: 2, inventory: 1, products: 2, reviews: 1 } });
    const metrics = await (await fetch(batched.url.replace('/graphql', '/metrics'))).text();
    const saved = metrics
      .split('\n')
      .filter((line) => line.startsWith('dpg_subgraph_fetches_batched_total{'))
      .reduce((sum, line) => sum + Number(line.split(' ')[1]), 0);
    expect(saved).toBe(plain.calls.total - together.calls.total);
  });

  it('concurrent requests are batched each on its own: every answer equals the unbatched one', async () => {
    const expected = (await measure(unbatched)).result;
    const results = await Promise.all(Array.from({ length: 6 }, () => postGraphQL(batched.url, TEST_QUERY, { token })));
    for (const result of results) expect(result.body).toEqual(expected.body);
  });
});
