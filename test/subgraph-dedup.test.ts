import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GraphQLDataSourceRequestKind, type GraphQLDataSourceProcessOptions } from '@apollo/gateway/dist/datasources/types.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { SubgraphSource } from '../gateway/subgraph-source.js';
import { canonicalJson, fanOutEntities, planRepresentations, type SubgraphBody } from '../gateway/subgraph/entities.js';
import { createLogger } from '../lib/logger.js';
import { postGraphQL, type GraphQLResult } from './helpers/http.js';
import { AUTHORS, FAILING_AUTHOR, NAMES, startLatchedSubgraphs, type LatchedSubgraphs } from './helpers/latched-subgraphs.js';
import { tokenFor } from './helpers/stack.js';

// Work done twice is done once: identical subgraph calls in flight, repeated entity representations.
let subgraphs: LatchedSubgraphs;
let gateway: RunningGateway;
let undeduplicated: RunningGateway;
const silent = createLogger('test', 'silent');
const PROPERTY_SEED = Number(process.env.PROPERTY_SEED ?? 20261010);

// Inbound deduplication off: identical operations must each reach the subgraph layer under test
// (with it on, the gateway joins them before any subgraph call; test/inbound-dedup covers that).
const start = (env: Record<string, string> = {}) =>
  startGateway(loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: subgraphs.supergraphPath, SUPERGRAPH_POLL_MS: '0', INBOUND_DEDUP: 'off', ...env }), silent);

beforeAll(async () => {
  subgraphs = await startLatchedSubgraphs();
  gateway = await start();
  undeduplicated = await start({ SUBGRAPH_DEDUP: 'false' });
});
afterAll(async () => {
  await gateway?.stop();
  await undeduplicated?.stop();
  await subgraphs?.stop();
});

/** A counter of the gateway's /metrics for one subgraph (0 before its first increment). */
async function counter(target: RunningGateway, name: string, subgraph: string): Promise<number> {
  const text = await (await fetch(target.url.replace('/graphql', '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{subgraph="${subgraph}"}`));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Sends `count` identical requests while the accounts subgraph holds its answers, releases them once all are in flight. */
async function concurrently(target: RunningGateway, count: number, send: (i: number) => Promise<GraphQLResult>): Promise<{ results: GraphQLResult[]; calls: number; shared: number }> {
  const callsBefore = subgraphs.accounts.calls.length;
  const sharedBefore = await counter(target, 'dpg_subgraph_requests_deduplicated_total', 'accounts');
  subgraphs.accounts.hold();
  const pending = Array.from({ length: count }, (_, i) => send(i));
  // Every request either made the call or joined one in flight: the gateway says so, no timer.
  await target.whenSubgraphCallers('accounts', count);
  subgraphs.accounts.release();
  const results = await Promise.all(pending);
  return {
    results,
    calls: subgraphs.accounts.calls.length - callsBefore,
    shared: (await counter(target, 'dpg_subgraph_requests_deduplicated_total', 'accounts')) - sharedBefore,
  };
}

const ME = '{ me { id roles } }';

describe('identical subgraph calls in flight are made once', () => {
  it('8 concurrent identical queries of one principal: 1 subgraph call, 8 whole answers; the subgraph sees the first caller\'s request id', async () => {
    const token = await tokenFor('admin');
    expect((await postGraphQL(gateway.url, ME, { token })).status).toBe(200); // verified once: one principal, one identity token
    const ids = Array.from({ length: 8 }, (_, i) => `dedup-${i}`);
    const { results, calls, shared } = await concurrently(gateway, 8, (i) => postGraphQL(gateway.url, ME, { token, headers: { 'x-request-id': ids[i]! } }));
    expect(calls).toBe(1);
    expect(shared).toBe(7);
    for (const result of results) {
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ data: { me: { id: 'dev-user', roles: ['admin'] } } });
    }
    expect(ids).toContain(subgraphs.accounts.calls.at(-1)!.requestId);
  });

  it('two principals with different grants: 2 calls, each gets the answer its own identity produced', async () => {
    const admin = await tokenFor('admin');
    const analyst = await tokenFor('marketing-analyst');
    for (const token of [admin, analyst]) await postGraphQL(gateway.url, ME, { token });
    const { results, calls, shared } = await concurrently(gateway, 6, (i) => postGraphQL(gateway.url, ME, { token: i % 2 === 0 ? admin : analyst }));
    expect(calls).toBe(2);
    expect(shared).toBe(4);
    expect(subgraphs.accounts.calls.slice(-2).map((call) => call.identity?.roles).sort()).toEqual([['admin'], ['marketing-analyst']]);
    results.forEach((result, i) => expect(result.body, `request ${i}`).toEqual({ data: { me: { id: 'dev-user', roles: [i % 2 === 0 ? 'admin' : 'marketing-analyst'] } } }));
  });

  it('mutations are never shared: 4 identical concurrent mutations, 4 calls', async () => {
    const token = await tokenFor('admin');
    await postGraphQL(gateway.url, ME, { token });
    const before = subgraphs.accounts.calls.length;
    subgraphs.accounts.hold();
    const pending = Array.from({ length: 4 }, () => postGraphQL(gateway.url, 'mutation { touch(id: "u1") { id } }', { token }));
    await subgraphs.accounts.arrived(before + 4);
    subgraphs.accounts.release();
    for (const result of await Promise.all(pending)) expect(result.body).toEqual({ data: { touch: { id: 'u1' } } });
    expect(subgraphs.accounts.calls.length - before).toBe(4);
  });

  it('a shared failure reaches every waiter as its own error', async () => {
    const token = await tokenFor('admin');
    await postGraphQL(gateway.url, ME, { token });
    subgraphs.accounts.setBehaviour('http500');
    try {
      const { results, calls } = await concurrently(gateway, 3, () => postGraphQL(gateway.url, ME, { token }));
      expect(calls).toBe(1);
      for (const result of results) {
        expect(result.body).toEqual({
          data: { me: null },
          errors: [{ message: 'The accounts data product answered HTTP 500', extensions: { code: 'SUBGRAPH_ERROR', service: 'accounts', status: 500 } }],
        });
      }
    } finally {
      subgraphs.accounts.setBehaviour('pass');
    }
  });

  it('an entry lives as long as its call: the same query after the answer makes a new call', async () => {
    const token = await tokenFor('admin');
    const before = subgraphs.accounts.calls.length;
    await postGraphQL(gateway.url, ME, { token });
    await postGraphQL(gateway.url, ME, { token });
    expect(subgraphs.accounts.calls.length - before).toBe(2);
  });

  it('SUBGRAPH_DEDUP=false: every request makes its own call', async () => {
    const token = await tokenFor('admin');
    await postGraphQL(undeduplicated.url, ME, { token });
    const before = subgraphs.accounts.calls.length;
    subgraphs.accounts.hold();
    const pending = Array.from({ length: 4 }, () => postGraphQL(undeduplicated.url, ME, { token }));
    await subgraphs.accounts.arrived(before + 4);
    subgraphs.accounts.release();
    for (const result of await Promise.all(pending)) expect(result.body).toEqual({ data: { me: { id: 'dev-user', roles: ['admin'] } } });
    expect(subgraphs.accounts.calls.length - before).toBe(4);
    expect(await counter(undeduplicated, 'dpg_subgraph_requests_deduplicated_total', 'accounts')).toBe(0);
  });
});

describe('every waiter gets its own objects', () => {
  const source = () =>
    new SubgraphSource({ name: 'accounts', url: subgraphs.accounts.url, timeoutMs: 5_000, identity: async () => 'header.eyJzdWIiOiJzb3VyY2UtdGVzdCIsInJvbGVzIjpbXX0.signature' });
  const call = (target: SubgraphSource, query: string) =>
    target.process({
      kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
      request: { query },
      // Nothing of the incoming request is read but its cache policy, absent here.
      incomingRequestContext: {},
      context: {},
    } as unknown as GraphQLDataSourceProcessOptions);

  it('two concurrent identical calls: one subgraph call, equal answers, no shared object', async () => {
    const target = source();
    try {
      const before = subgraphs.accounts.calls.length;
      subgraphs.accounts.hold();
      const pending = [call(target, '{ me { id } }'), call(target, '{ me { id } }')];
      await subgraphs.accounts.arrived(before + 1);
      subgraphs.accounts.release();
      const [a, b] = await Promise.all(pending);
      expect(subgraphs.accounts.calls.length - before).toBe(1);
      expect(a).toEqual({ data: { me: { id: 'source-test' } } });
      expect(b).toEqual(a);
      expect(b).not.toBe(a);
      expect(b!.data).not.toBe(a!.data);
    } finally {
      await target.close();
    }
  });

  it('a shared failure: each caller rejects with its own error object', async () => {
    const target = source();
    subgraphs.accounts.setBehaviour('http500');
    try {
      subgraphs.accounts.hold();
      const before = subgraphs.accounts.calls.length;
      const pending = [call(target, '{ me { id } }'), call(target, '{ me { id } }')].map((p) => p.then(() => undefined, (error: unknown) => error));
      await subgraphs.accounts.arrived(before + 1);
      subgraphs.accounts.release();
      const [a, b] = await Promise.all(pending);
      expect(subgraphs.accounts.calls.length - before).toBe(1);
      expect(a).toMatchObject({ extensions: { code: 'SUBGRAPH_ERROR', service: 'accounts', status: 500 } });
      expect(b).toMatchObject({ extensions: { code: 'SUBGRAPH_ERROR', service: 'accounts', status: 500 } });
      expect(b).not.toBe(a);
    } finally {
      subgraphs.accounts.setBehaviour('pass');
      await target.close();
    }
  });
});

describe('entity representations are sent once each', () => {
  const REVIEWS = '{ reviews { id author { id name } } }';
  const expected = {
    data: { reviews: AUTHORS.map((author, i) => ({ id: `r${i}`, author: { id: author, name: author === FAILING_AUTHOR ? null : NAMES[author] } })) },
    errors: AUTHORS.flatMap((author, i) =>
      author === FAILING_AUTHOR ? [{ message: 'The accounts data product could not resolve this field', path: ['reviews', i, 'author', 'name'], extensions: { code: 'SUBGRAPH_ERROR', service: 'accounts' } }] : [],
    ),
  };
  const lastEntitiesCall = () => subgraphs.accounts.calls.findLast((call) => call.body.query.includes('_entities'))!;

  it('6 reviews by 3 authors: the accounts subgraph gets 3 representations; the answer has all 6 in order, errors at both of the failing author\'s positions', async () => {
    const token = await tokenFor('admin');
    const representationsBefore = await counter(gateway, 'dpg_subgraph_representations_deduplicated_total', 'accounts');
    const result = await postGraphQL(gateway.url, REVIEWS, { token });
    expect(result.status).toBe(200);
    expect(result.body).toEqual(expected);
    expect(lastEntitiesCall().body.variables?.representations).toEqual([
      { __typename: 'User', id: 'u1' },
      { __typename: 'User', id: 'u2' },
      { __typename: 'User', id: 'u3' },
    ]);
    expect((await counter(gateway, 'dpg_subgraph_representations_deduplicated_total', 'accounts')) - representationsBefore).toBe(3);
  });

  it('the same answer without deduplication, where all 6 representations are sent', async () => {
    const result = await postGraphQL(undeduplicated.url, REVIEWS, { token: await tokenFor('admin') });
    expect(result.body).toEqual(expected);
    expect(lastEntitiesCall().body.variables?.representations).toHaveLength(AUTHORS.length);
  });
});

describe('fanning out the answer to distinct representations (property)', () => {
  /** A representation as the planner builds it, with its keys in a random order. */
  const representation = fc
    .record({ typename: fc.constantFrom('User', 'Product'), id: fc.constantFrom('1', '2', '3', '4'), region: fc.option(fc.constantFrom('eu', 'us'), { nil: undefined }), reversed: fc.boolean() })
    .map(({ typename, id, region, reversed }) => {
      const entries: [string, unknown][] = [['__typename', typename], ['id', id], ...(region ? [['key', { region, id }] as [string, unknown]] : [])];
      return Object.fromEntries(reversed ? entries.reverse() : entries) as Record<string, unknown>;
    });

  /** A subgraph resolving each representation on its own: deterministic per representation, sometimes null, sometimes with errors. */
  function resolve(rep: Record<string, unknown>): { entity: unknown; errors: { message: string; subpath: (string | number)[] }[] } {
    const id = String(rep.id);
    const entity = id === '4' ? null : { __typename: rep.__typename, id, label: `${String(rep.__typename)}-${id}`, tags: [id, { nested: id }] };
    const errors = id === '2' ? [{ message: 'label failed', subpath: ['label'] }, { message: 'tags failed', subpath: ['tags', 0] }] : id === '4' ? [{ message: 'not found', subpath: [] }] : [];
    return { entity, errors };
  }
  function subgraphAnswer(reps: readonly Record<string, unknown>[]): SubgraphBody {
    const resolved = reps.map(resolve);
    const errors = [
      ...(reps.some((rep) => rep.__typename === 'Product') ? [{ message: 'products are slow today', path: ['_entities'] }] : []),
      ...resolved.flatMap((r, i) => r.errors.map((e) => ({ message: e.message, path: ['_entities', i, ...e.subpath], extensions: { code: 'X' } }))),
    ];
    return { data: { _entities: resolved.map((r) => r.entity) }, ...(errors.length ? { errors } : {}) };
  }

  it('equals what a subgraph answering every representation independently sends, error paths included', () => {
    fc.assert(
      fc.property(fc.array(representation, { minLength: 0, maxLength: 30 }), (reps) => {
        const plan = planRepresentations(reps);
        if (!plan) {
          // Nothing repeats: nothing to fan out.
          expect(new Set(reps.map(canonicalJson)).size).toBe(reps.length);
          return;
        }
        expect(new Set(plan.distinct.map(canonicalJson)).size).toBe(plan.distinct.length);
        expect(plan.distinct.length).toBeLessThan(reps.length);
        const fanned = fanOutEntities(subgraphAnswer(plan.distinct as Record<string, unknown>[]), plan);
        expect(fanned).toEqual(subgraphAnswer(reps));
        // A repeated entity is its own copy: @apollo/gateway merges later fetches into each one.
        const entities = (fanned.data?._entities ?? []) as unknown[];
        for (let i = 0; i < entities.length; i++) for (let j = i + 1; j < entities.length; j++) if (entities[i] !== null) expect(entities[j]).not.toBe(entities[i]);
      }),
      { seed: PROPERTY_SEED, numRuns: Number(process.env.PROPERTY_RUNS ?? 300) },
    );
  });

  it('key order does not make two representations distinct', () => {
    const plan = planRepresentations([{ __typename: 'User', id: '1', key: { a: 1, b: 2 } }, { key: { b: 2, a: 1 }, id: '1', __typename: 'User' }]);
    expect(plan).toEqual({ distinct: [{ __typename: 'User', id: '1', key: { a: 1, b: 2 } }], distinctOf: [0, 0] });
  });

  it('an answer with the wrong number of entities is passed on unchanged (@apollo/gateway refuses it)', () => {
    const plan = planRepresentations([{ id: '1' }, { id: '1' }, { id: '2' }])!;
    const body: SubgraphBody = { data: { _entities: [{ id: '1' }] } };
    expect(fanOutEntities(body, plan)).toBe(body);
  });
});
