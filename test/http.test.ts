import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverAudits } from 'graphql-http';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

let toy: Toy;
let gateway: RunningGateway;
let base: string;
const BODY_LIMIT = 4096;

beforeAll(async () => {
  toy = await startToySubgraphs();
  gateway = await startGateway(
    loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: toy.supergraphPath, MAX_BODY_BYTES: String(BODY_LIMIT) }),
    createLogger('test', 'silent'),
  );
  base = gateway.url.replace(/\/graphql$/, '');
});

afterAll(async () => {
  await gateway?.stop();
  await toy?.stop();
});

describe('GraphQL over HTTP (graphql-http server audit)', () => {
  it('passes every MUST audit', async () => {
    const audits = serverAudits({ url: gateway.url });
    const failures: string[] = [];
    for (const audit of audits) {
      const result = await audit.fn();
      if (audit.name.startsWith('MUST') && result.status !== 'ok') failures.push(`${audit.id} ${audit.name}: ${result.reason}`);
    }
    expect(audits.filter((a) => a.name.startsWith('MUST')).length).toBeGreaterThanOrEqual(10);
    expect(failures).toEqual([]);
  });
});

async function raw(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: unknown }> {
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as unknown) : null };
}

const json = { 'content-type': 'application/json' };

describe('HTTP edge', () => {
  it('refuses a body over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const query = `{ books { id } } # ${'x'.repeat(BODY_LIMIT)}`;
    const res = await raw('/graphql', { method: 'POST', headers: json, body: JSON.stringify({ query }) });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ errors: [{ message: `Request body is larger than ${BODY_LIMIT} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
  });

  it('refuses malformed JSON with 400 BAD_REQUEST', async () => {
    const res = await raw('/graphql', { method: 'POST', headers: json, body: '{"query": ' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ message: 'Request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('blocks a simple (CSRF-able) GET without a preflight header', async () => {
    const res = await raw('/graphql?query=%7B__typename%7D');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ message: expect.stringContaining('Cross-Site Request Forgery'), extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('answers GET with a preflight header', async () => {
    const res = await raw('/graphql?query=%7B__typename%7D', { headers: { 'apollo-require-preflight': 'true' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses a mutation over GET', async () => {
    const res = await raw('/graphql?query=mutation%7B__typename%7D', { headers: { 'apollo-require-preflight': 'true' } });
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('answers a parse error with 400 GRAPHQL_PARSE_FAILED and a validation error with 400 GRAPHQL_VALIDATION_FAILED', async () => {
    const parse = await raw('/graphql', { method: 'POST', headers: json, body: JSON.stringify({ query: '{ books {' }) });
    expect(parse.status).toBe(400);
    expect(parse.body).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });
    const validation = await raw('/graphql', { method: 'POST', headers: json, body: JSON.stringify({ query: '{ books { nope } }' }) });
    expect(validation.status).toBe(400);
    expect(validation.body).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
  });

  it('unknown routes are 404 NOT_FOUND in the same error shape', async () => {
    const res = await raw('/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ message: 'Not found', extensions: { code: 'NOT_FOUND' } }] });
  });

  it('echoes a well-formed x-request-id and mints one otherwise', async () => {
    const given = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const hostile = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'a b\tc' } });
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports liveness and readiness', async () => {
    expect(await raw('/healthz')).toMatchObject({ status: 200, body: { status: 'alive', phase: 'ready' } });
    expect(await raw('/readyz')).toMatchObject({ status: 200, body: { status: 'ready', phase: 'ready', subgraphs: { books: 'up', reviews: 'up' } } });
  });
});

describe('operation resolution', () => {
  it('an operationName the document does not define is 400 OPERATION_RESOLUTION_FAILURE, never a 500', async () => {
    const res = await raw('/graphql', { method: 'POST', headers: json, body: JSON.stringify({ query: 'query A { __typename }', operationName: 'B' }) });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ message: 'Unknown operation named "B"', extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } }] });
    const ambiguous = await raw('/graphql', { method: 'POST', headers: json, body: JSON.stringify({ query: 'query A { __typename } query B { __typename }' }) });
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body).toMatchObject({ errors: [{ extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } }] });
  });
});
