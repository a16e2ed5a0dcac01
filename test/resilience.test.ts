import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { postGraphQL } from './helpers/http.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

// A gateway over a supergraph that is not ours: a bookshop with a books and a reviews subgraph.
let toy: Toy;
let gateway: RunningGateway;
const TIMEOUT_MS = 300;

beforeAll(async () => {
  toy = await startToySubgraphs(5_000);
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    LOG_LEVEL: 'silent',
    SUPERGRAPH: toy.supergraphPath,
    SUBGRAPH_TIMEOUT_MS: String(TIMEOUT_MS),
  });
  gateway = await startGateway(config, createLogger('test', 'silent'));
});

afterAll(async () => {
  await gateway?.stop();
  await toy?.stop();
});

beforeEach(() => toy.setReviews('ok'));

const QUERY = '{ books { id title rating } }';

/** Nothing internal may reach a client: no URLs, hosts, stack frames, SQL or raw subgraph bodies. */
function expectNoLeak(body: unknown): void {
  const text = JSON.stringify(body);
  for (const needle of ['http://', '127.0.0.1', 'stacktrace', 'Traceback', '/srv/', 'SELECT', 'relation', 'secret-internal-host', 'response']) {
    expect(text).not.toContain(needle);
  }
}

describe('gateway over any Federation 2 supergraph', () => {
  it('joins entities across two foreign subgraphs', async () => {
    const result = await postGraphQL(gateway.url, QUERY);
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      data: { books: [{ id: '1', title: 'Dune', rating: 4.5 }, { id: '2', title: 'Emma', rating: 5.5 }] },
    });
  });
});

describe('a failing data product yields a partial result naming it', () => {
  it('slow subgraph: answers within the timeout with SUBGRAPH_TIMEOUT and the rest of the data', async () => {
    toy.setReviews('slow');
    const result = await postGraphQL(gateway.url, QUERY);
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      data: { books: [{ id: '1', title: 'Dune', rating: null }, { id: '2', title: 'Emma', rating: null }] },
      errors: [{ message: 'The reviews data product did not answer in time', extensions: { code: 'SUBGRAPH_TIMEOUT', service: 'reviews' } }],
    });
  });

  it('subgraph error with internals: masked as SUBGRAPH_ERROR, path kept, nothing leaked', async () => {
    toy.setReviews('throws');
    const result = await postGraphQL(gateway.url, QUERY);
    expect(result.status).toBe(200);
    expect(result.body.data).toEqual({ books: [{ id: '1', title: 'Dune', rating: null }, { id: '2', title: 'Emma', rating: null }] });
    expect(result.body.errors).toEqual([
      { message: 'The reviews data product could not resolve this field', path: ['books', 0, 'rating'], extensions: { code: 'SUBGRAPH_ERROR', service: 'reviews' } },
      { message: 'The reviews data product could not resolve this field', path: ['books', 1, 'rating'], extensions: { code: 'SUBGRAPH_ERROR', service: 'reviews' } },
    ]);
    expectNoLeak(result.body);
  });

  it('subgraph answers HTTP 500 with an HTML page: SUBGRAPH_ERROR without its body or URL', async () => {
    toy.setReviews('http500');
    const result = await postGraphQL(gateway.url, QUERY);
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      data: { books: [{ id: '1', title: 'Dune', rating: null }, { id: '2', title: 'Emma', rating: null }] },
      errors: [{ message: 'The reviews data product answered HTTP 500', extensions: { code: 'SUBGRAPH_ERROR', service: 'reviews', status: 500 } }],
    });
    expectNoLeak(result.body);
  });

  it('subgraph down: SUBGRAPH_UNAVAILABLE, readiness turns 503, never a 500 page', async () => {
    await toy.stopReviews();
    const result = await postGraphQL(gateway.url, QUERY);
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      data: { books: [{ id: '1', title: 'Dune', rating: null }, { id: '2', title: 'Emma', rating: null }] },
      errors: [{ message: 'The reviews data product is unavailable', extensions: { code: 'SUBGRAPH_UNAVAILABLE', service: 'reviews' } }],
    });
    expectNoLeak(result.body);
    const ready = await fetch(gateway.url.replace('/graphql', '/readyz'));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', phase: 'ready', supergraph: expect.stringMatching(/^[0-9a-f]{16}$/), subgraphs: { books: 'up', reviews: 'down' } });
  });
});
