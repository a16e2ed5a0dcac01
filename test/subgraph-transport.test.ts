import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_SUBGRAPH_MAX_RESPONSE_BYTES, loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { postGraphQL } from './helpers/http.js';
import { OVERSIZE_BYTES, startLatchedSubgraphs, type LatchedSubgraphs } from './helpers/latched-subgraphs.js';
import { tokenFor } from './helpers/stack.js';

// Subgraph calls over undici: one deadline for headers and body, a response size limit, keep-alive
// pools that close with the gateway, and the same client-safe error codes as before.
let subgraphs: LatchedSubgraphs;
let gateway: RunningGateway;
const silent = createLogger('test', 'silent');
const TIMEOUT_MS = 300;
const MAX_RESPONSE_BYTES = 64 * 1024;

const env = (supergraph: string, extra: Record<string, string> = {}) => ({
  NODE_ENV: 'test',
  PORT: '0',
  LOG_LEVEL: 'silent',
  SUPERGRAPH: supergraph,
  SUPERGRAPH_POLL_MS: '0',
  SUBGRAPH_TIMEOUT_MS: String(TIMEOUT_MS),
  SUBGRAPH_MAX_RESPONSE_BYTES: String(MAX_RESPONSE_BYTES),
  ...extra,
});

beforeAll(async () => {
  subgraphs = await startLatchedSubgraphs();
  gateway = await startGateway(loadConfig(env(subgraphs.supergraphPath)), silent);
});
afterAll(async () => {
  await gateway?.stop();
  await subgraphs?.stop();
});
beforeEach(() => subgraphs.accounts.setBehaviour('pass'));

const ME = '{ me { id } }';
const failedMe = (message: string, extensions: Record<string, unknown>) => ({ data: { me: null }, errors: [{ message, extensions }] });

describe('deadline, size limit and failures map to the closed set of codes', () => {
  it('no answer within SUBGRAPH_TIMEOUT_MS: SUBGRAPH_TIMEOUT', async () => {
    subgraphs.accounts.setBehaviour('hang');
    const result = await postGraphQL(gateway.url, ME, { token: await tokenFor('admin') });
    expect(result.status).toBe(200);
    expect(result.body).toEqual(failedMe('The accounts data product did not answer in time', { code: 'SUBGRAPH_TIMEOUT', service: 'accounts' }));
  });

  it('headers in time but a body that never ends: the deadline covers the body, SUBGRAPH_TIMEOUT', async () => {
    subgraphs.accounts.setBehaviour('stall-body');
    const result = await postGraphQL(gateway.url, ME, { token: await tokenFor('admin') });
    expect(result.body).toEqual(failedMe('The accounts data product did not answer in time', { code: 'SUBGRAPH_TIMEOUT', service: 'accounts' }));
  });

  it(`a body over SUBGRAPH_MAX_RESPONSE_BYTES (${OVERSIZE_BYTES} > ${MAX_RESPONSE_BYTES}): SUBGRAPH_ERROR naming the limit, nothing of the body`, async () => {
    subgraphs.accounts.setBehaviour('oversize');
    const result = await postGraphQL(gateway.url, ME, { token: await tokenFor('admin') });
    expect(result.body).toEqual(failedMe('The accounts data product sent a response over the size limit', { code: 'SUBGRAPH_ERROR', service: 'accounts', maximum: MAX_RESPONSE_BYTES }));
  });

  it('HTTP 500 with an HTML page: SUBGRAPH_ERROR with the status only', async () => {
    subgraphs.accounts.setBehaviour('http500');
    const result = await postGraphQL(gateway.url, ME, { token: await tokenFor('admin') });
    expect(result.body).toEqual(failedMe('The accounts data product answered HTTP 500', { code: 'SUBGRAPH_ERROR', service: 'accounts', status: 500 }));
  });

  it('connection refused: SUBGRAPH_UNAVAILABLE, and the other product still answers', async () => {
    // A port that was just free and is now closed: nothing listens there.
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const refused = await startGateway(loadConfig(env(subgraphs.supergraphPath, { SUBGRAPH_URLS: `accounts=http://127.0.0.1:${closed}/graphql` })), silent);
    try {
      const token = await tokenFor('admin');
      expect((await postGraphQL(refused.url, ME, { token })).body).toEqual(failedMe('The accounts data product is unavailable', { code: 'SUBGRAPH_UNAVAILABLE', service: 'accounts' }));
      const reviews = await postGraphQL(refused.url, '{ reviews { id } }', { token });
      expect(reviews.body).toEqual({ data: { reviews: ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'].map((id) => ({ id })) } });
    } finally {
      await refused.stop();
    }
  });
});

describe('connections', () => {
  it('keep-alive: sequential calls reuse one connection', async () => {
    const token = await tokenFor('admin');
    await postGraphQL(gateway.url, ME, { token });
    const before = subgraphs.accounts.connections();
    const callsBefore = subgraphs.accounts.calls.length;
    for (let i = 0; i < 5; i++) expect((await postGraphQL(gateway.url, ME, { token })).body).toEqual({ data: { me: { id: 'dev-user' } } });
    expect(subgraphs.accounts.calls.length - callsBefore).toBe(5);
    expect(subgraphs.accounts.connections().accepted - before.accepted).toBe(0);
  });

  it('stopping the gateway closes its pools: the subgraphs see every connection closed', async () => {
    const own = await startLatchedSubgraphs();
    const target = await startGateway(loadConfig(env(own.supergraphPath)), silent);
    try {
      const result = await postGraphQL(target.url, '{ reviews { id author { id } } }', { token: await tokenFor('admin') });
      expect(result.body.errors).toBeUndefined();
      expect(own.accounts.connections().open).toBeGreaterThan(0);
      expect(own.reviews.connections().open).toBeGreaterThan(0);
      await target.stop();
      // The fronts keep idle connections for 10 minutes: only the gateway's closing ends them.
      await Promise.all([own.accounts.allClosed(), own.reviews.allClosed()]);
      expect(own.accounts.connections().open + own.reviews.connections().open).toBe(0);
    } finally {
      await target.stop();
      await own.stop();
    }
  });
});

describe('configuration', () => {
  it('defaults: 16 MiB responses, deduplication on', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).subgraphCalls).toEqual({ maxResponseBytes: DEFAULT_SUBGRAPH_MAX_RESPONSE_BYTES, dedup: true, batch: true });
    expect(DEFAULT_SUBGRAPH_MAX_RESPONSE_BYTES).toBe(16 * 1024 * 1024);
    expect(loadConfig({ NODE_ENV: 'test', SUBGRAPH_DEDUP: 'false', SUBGRAPH_BATCH: 'off', SUBGRAPH_MAX_RESPONSE_BYTES: '1024' }).subgraphCalls).toEqual({ maxResponseBytes: 1024, dedup: false, batch: false });
  });

  it.each([
    ['SUBGRAPH_MAX_RESPONSE_BYTES', '0'],
    ['SUBGRAPH_MAX_RESPONSE_BYTES', 'lots'],
    ['SUBGRAPH_DEDUP', 'maybe'],
    ['SUBGRAPH_BATCH', 'sometimes'],
  ])('%s=%s is refused, naming the key', (key, value) => {
    expect(() => loadConfig({ NODE_ENV: 'test', [key]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'test', [key]: value })).toThrow(key);
  });
});
