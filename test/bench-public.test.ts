// The public benchmark's own logic (bench/public/): round order, call counting, the summary and the
// ratios, the supergraph rewrite, the checked-in query; and its Node subgraphs for real, behind a
// real bare @apollo/gateway, answering what the public benchmark expects. No timings: speed is the
// benchmark's job.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Supergraph } from '@apollo/federation-internals';
import { parse, validate, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundAmount, roundOrder } from '../bench/rounds.js';
import { callsBetween, callsPerRequest, parseRequestCount, readCallCounts } from '../bench/public/calls.js';
import { publicOperations, queryAfterHeader, SMALL_QUERY } from '../bench/public/operations.js';
import { median, PUBLIC_TARGETS, publicRatios, sameData, summarizeRounds, type PublicRow, type RoundMeasurement } from '../bench/public/report.js';
import { PUBLIC_SUBGRAPHS } from '../bench/public/subgraphs.js';
import { PUBLIC_SUPERGRAPH, withSubgraphUrls, writePublicSupergraph } from '../bench/public/supergraph.js';
import { ROOT, spawnTs, type Spawned } from './helpers/process.js';
import { startPublicSubgraphs } from './helpers/public-subgraphs.js';

describe('round order', () => {
  it('puts each of the five targets in every position once in five rounds, twice (once per direction) in ten', () => {
    const positions = (rounds: number) => {
      const seen = new Map<string, number>();
      for (let round = 0; round < rounds; round++) {
        const order = roundOrder(PUBLIC_TARGETS, round);
        expect([...order].sort()).toEqual([...PUBLIC_TARGETS].sort());
        order.forEach((name, i) => seen.set(`${name}@${i}`, (seen.get(`${name}@${i}`) ?? 0) + 1));
      }
      return seen;
    };
    const quick = positions(5);
    expect(quick.size).toBe(25);
    expect([...quick.values()].every((n) => n === 1)).toBe(true);
    const full = positions(10);
    expect(full.size).toBe(25);
    expect([...full.values()].every((n) => n === 2)).toBe(true);
    expect(roundOrder(PUBLIC_TARGETS, 0)).toEqual(['bare', 'ours', 'hive', 'hive-no-dedup', 'hive-subgraph-dedup']);
    expect(roundOrder(PUBLIC_TARGETS, 5)).toEqual(['hive-subgraph-dedup', 'hive-no-dedup', 'hive', 'ours', 'bare']);
  });

  it('sizes a round at the warm-up\'s rate, never below five requests per connection', () => {
    expect(roundAmount(57.4, 5, 20)).toBe(287);
    expect(roundAmount(707, 2, 20)).toBe(1414);
    expect(roundAmount(10, 5, 20)).toBe(100);
    expect(roundAmount(NaN, 5, 20)).toBe(100);
  });

  it('still runs every order of the default bench\'s three targets once in six rounds', () => {
    const orders = Array.from({ length: 6 }, (_, round) => roundOrder(['bare', 'ours', 'ours-no-usage'], round).join(','));
    expect(new Set(orders).size).toBe(6);
  });
});

describe('subgraph call counting', () => {
  it('reads a count and refuses anything that is not one', () => {
    expect(parseRequestCount('{"requests":0}')).toBe(0);
    expect(parseRequestCount('{"requests":1234}')).toBe(1234);
    for (const bad of ['', 'nope', '{}', '{"requests":-1}', '{"requests":1.5}', '{"requests":"3"}', 'null', '[1]']) {
      expect(() => parseRequestCount(bad), bad).toThrow();
    }
  });

  it('counts calls per subgraph between two readings, and refuses a counter that went back', () => {
    expect(callsBetween({ accounts: 10, reviews: 4 }, { accounts: 25, reviews: 4 })).toEqual({ total: 15, bySubgraph: { accounts: 15, reviews: 0 } });
    expect(() => callsBetween({ accounts: 10 }, { accounts: 3 })).toThrow(/restarted/);
    expect(() => callsBetween({}, { accounts: 3 })).toThrow(/no earlier count/);
    expect(callsPerRequest(70, 10)).toBe(7);
    expect(callsPerRequest(5, 0)).toBeNaN();
  });
});

const measurement = (over: Partial<RoundMeasurement>): RoundMeasurement => ({
  responses: 100,
  durationS: 1,
  non2xx: 0,
  errors: 0,
  graphqlErrors: 0,
  gatewayCpuMs: 500,
  subgraphsCpuMs: 200,
  clientCpuMs: 100,
  otherCpuMs: 0,
  calls: { accounts: 100 },
  ...over,
});
const extra = { p50Ms: 1, p99Ms: 2, rssMb: 100, peakRssMb: 120 };

describe('summary and ratios', () => {
  it('takes the median round, divides work by answers, and sums calls per subgraph', () => {
    const row = summarizeRounds('big', 'ours', [
      measurement({ responses: 100, gatewayCpuMs: 1_000, calls: { accounts: 220, reviews: 110 } }),
      measurement({ responses: 300, gatewayCpuMs: 600, calls: { accounts: 310, reviews: 0 } }),
      measurement({ responses: 200, gatewayCpuMs: 1_000, calls: { accounts: 200, reviews: 100 } }),
    ], extra);
    expect(row).toMatchObject({
      query: 'big',
      target: 'ours',
      requestsPerS: 200,
      roundRequestsPerS: [100, 300, 200],
      spreadPercent: 100,
      // per round: 10, 2, 5 ms per answer; the median is 5
      gatewayCpuMsPerRequest: 5,
      roundGatewayCpuMsPerRequest: [10, 2, 5],
      // 940 calls over 600 answers
      subgraphCallsPerRequest: 1.567,
      callsPerRequestBySubgraph: { accounts: 1.217, reviews: 0.35 },
      responses: 600,
      durationS: 3,
      gatewayCpuPercent: 87,
      subgraphsCpuPercent: 20,
      clientCpuPercent: 10,
      otherCpuPercent: 0,
      ...extra,
    });
    expect(median([])).toBeNaN();
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });

  it('compares ours with each other target on each query it has both rows for', () => {
    const row = (query: string, target: PublicRow['target'], requestsPerS: number, cpu: number, calls: number): PublicRow => ({
      ...summarizeRounds(query, target, [measurement({})], extra),
      requestsPerS,
      gatewayCpuMsPerRequest: cpu,
      subgraphCallsPerRequest: calls,
    });
    const ratios = publicRatios([
      row('big', 'bare', 60, 16, 16),
      row('big', 'ours', 57, 17.6, 16),
      row('big', 'hive', 700, 1.6, 0.32),
      row('big', 'hive-no-dedup', 50, 16, 8),
      row('small', 'bare', 1000, 1, 1),
      row('small', 'ours', 800, 1.25, 1),
    ]);
    expect(ratios).toEqual([
      { query: 'big', versus: 'hive', requestsPerS: 0.081, cpuPerRequest: 11, subgraphCalls: 50 },
      { query: 'big', versus: 'hive-no-dedup', requestsPerS: 1.14, cpuPerRequest: 1.1, subgraphCalls: 2 },
      { query: 'big', versus: 'bare', requestsPerS: 0.95, cpuPerRequest: 1.1, subgraphCalls: 1 },
      { query: 'small', versus: 'bare', requestsPerS: 0.8, cpuPerRequest: 1.25, subgraphCalls: 1 },
    ]);
  });

  it('finds two answers equal whatever the order of their keys, and tells different ones apart', () => {
    expect(sameData({ a: 1, b: [{ x: 1, y: null }] }, { b: [{ y: null, x: 1 }], a: 1 })).toBe(true);
    expect(sameData({ a: 1, b: [{ x: 1 }, { x: 2 }] }, { a: 1, b: [{ x: 2 }, { x: 1 }] })).toBe(false);
    expect(sameData({ a: null }, { a: 0 })).toBe(false);
  });
});

describe('the checked-in supergraph and queries', () => {
  const sdl = readFileSync(PUBLIC_SUPERGRAPH, 'utf8');
  const urls = Object.fromEntries(PUBLIC_SUBGRAPHS.map((name, i) => [name, `http://127.0.0.1:${5000 + i}/${name}`]));

  it('points every subgraph at the URL given, and nothing else changes', () => {
    const rewritten = withSubgraphUrls(sdl, urls);
    const graphs = Supergraph.build(rewritten, { supportedFeatures: null }).subgraphs();
    expect(Object.fromEntries(graphs.names().map((name) => [name, graphs.get(name)!.url]))).toEqual(urls);
    expect(rewritten.replace(/url: "[^"]*"/g, '')).toBe(sdl.replace(/url: "[^"]*"/g, ''));
    expect(() => withSubgraphUrls(sdl, { ...urls, accounts: undefined } as unknown as Record<string, string>)).toThrow(/no URL for subgraph accounts/);
    expect(() => withSubgraphUrls(sdl, { ...urls, shipping: 'http://127.0.0.1:1/' })).toThrow(/not subgraphs of the supergraph: shipping/);
  });

  it('has a test query and a small query that are valid against the public API schema', () => {
    const api = Supergraph.build(sdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
    const testQuery = queryAfterHeader(readFileSync(join(ROOT, 'bench/public/test-query.graphql'), 'utf8'));
    const document = parse(testQuery);
    expect(validate(api, document)).toEqual([]);
    expect(document.definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition').map((d) => d.name?.value)).toEqual(['TestQuery']);
    expect(validate(api, parse(SMALL_QUERY))).toEqual([]);
    expect(() => queryAfterHeader('query { a }')).toThrow(/header/);
  });
});

// The four subgraphs, each its own process as the bench runs them, behind the bench's bare gateway.
describe('the Node subgraphs behind a real gateway', () => {
  const processes: Spawned[] = [];
  const origins: Record<string, string> = {};
  let gatewayUrl = '';

  beforeAll(async () => {
    const subgraphs = await startPublicSubgraphs();
    processes.push(...subgraphs.processes);
    Object.assign(origins, subgraphs.origins);
    const gateway = spawnTs('bench/bare-gateway.ts', [], { PORT: '0', SUPERGRAPH: writePublicSupergraph(subgraphs.urls), APOLLO_TELEMETRY_DISABLED: 'true' });
    processes.push(gateway);
    gatewayUrl = String((await gateway.waitForLine((l) => l.msg === 'gateway ready')).url);
  });
  afterAll(() => {
    for (const proc of processes) proc.kill();
  });

  const post = async (body: string) => {
    const response = await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: response.status, body: (await response.json()) as { data?: Record<string, unknown>; errors?: unknown } };
  };

  it('answers the small query with the first user, and each subgraph counts the calls it received', async () => {
    const before = await readCallCounts(origins);
    const small = publicOperations().find((op) => op.name === 'small')!;
    expect(await post(small.body)).toEqual({ status: 200, body: { data: { me: { id: '1', username: 'urigo', name: 'Uri Goldshtein' } } } });
    expect(callsBetween(before, await readCallCounts(origins))).toEqual({ total: 1, bySubgraph: { accounts: 1, inventory: 0, products: 0, reviews: 0 } });
  });

  it('answers the test query as the public benchmark expects (its k6 script\'s expected structure)', async () => {
    const big = publicOperations().find((op) => op.name === 'big')!;
    const { status, body } = await post(big.body);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(big.hasRows(body.data!)).toBe(true);
    const data = body.data as {
      users: { id: string; username: string; name: string; reviews: { id: string; product: Record<string, unknown> & { reviews: { id: string; author: { reviews: { id: string; product: unknown }[] } }[] } }[] }[];
      topProducts: { upc: string; name: string; inStock: boolean; shippingEstimate: null; reviews: unknown[] }[];
    };
    expect(data.users.map((u) => [u.id, u.username, u.name])).toEqual([
      ['1', 'urigo', 'Uri Goldshtein'],
      ['2', 'dotansimha', 'Dotan Simha'],
      ['3', 'kamilkisiela', 'Kamil Kisiela'],
      ['4', 'ardatan', 'Arda Tanrikulu'],
      ['5', 'gilgardosh', 'Gil Gardosh'],
      ['6', 'laurin', 'Laurin Quast'],
    ]);
    // k6.js: users[0].reviews[0].product is the Table, in stock, with no shipping estimate, and its four reviews.
    const table = { inStock: true, name: 'Table', price: 899, shippingEstimate: null, upc: '1', weight: 100 };
    const first = data.users[0]!.reviews[0]!;
    expect(first.id).toBe('1');
    expect(first.product).toMatchObject(table);
    expect(first.product.reviews.map((r) => r.id)).toEqual(['1', '2', '3', '4']);
    // Every author is urigo, whose reviews are always reviews 1 and 2, both of the Table.
    expect(first.product.reviews[0]!.author).toMatchObject({ id: '1', username: 'urigo', name: 'Uri Goldshtein' });
    expect(first.product.reviews[0]!.author.reviews).toEqual([
      { id: '1', body: expect.stringMatching(/^Lorem ipsum/), product: table },
      { id: '2', body: expect.stringMatching(/^Sed ut perspiciatis/), product: table },
    ]);
    expect(data.topProducts.map((p) => [p.upc, p.name, p.inStock, p.shippingEstimate, p.reviews.length])).toEqual([
      ['1', 'Table', true, null, 4],
      ['2', 'Couch', false, null, 4],
      ['3', 'Glass', false, null, 1],
      ['4', 'Chair', false, null, 2],
      ['5', 'TV', true, null, 0],
    ]);
  });

  it('answers a request that is not GraphQL with a 400, uncounted reads with GET', async () => {
    const origin = origins.accounts!;
    const before = parseRequestCount(await (await fetch(`${origin}/requests`)).text());
    const bad = await fetch(`${origin}/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'not json' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ errors: [{ message: 'the body is not JSON' }] });
    expect(parseRequestCount(await (await fetch(`${origin}/requests`)).text())).toBe(before + 1);
  });
});
