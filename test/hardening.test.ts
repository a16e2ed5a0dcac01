import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getIntrospectionQuery } from 'graphql';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { ERROR_CODES } from '../lib/errors.js';
import { codesOf, postGraphQL } from './helpers/http.js';
import { writeLimits } from './helpers/limits.js';
import { spawnTs } from './helpers/process.js';
import { loadSubgraphsConfig } from '../subgraphs/config.js';
import { gatewayEnv, startStack, type Stack } from './helpers/stack.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';

/*
 * Issue 10, tried as an attacker holding ordinary tokens: each confirmed defect, reproduced against
 * the real data products behind a real gateway with the shipped policies (policies/*.yaml).
 */
let stack: Stack;
const silent = createLogger('test', 'silent');
/** Each test spends its own caller's budget, so one test's spending never decides another's outcome. */
const analyst = (subject: string) => mintDevToken({ roles: ['marketing-analyst'], clientId: 'attack-kit', subject });

beforeAll(async () => {
  stack = await startStack({ customers: 30 });
});
afterAll(async () => {
  await stack?.stop();
});

/** `"cost";r=<n>` of a RateLimit header. */
const remainingCost = (headers: Headers) => Number(/"cost";r=(\d+)/.exec(headers.get('ratelimit') ?? '')?.[1]);

async function postBatch(token: string, operations: { query: string }[]) {
  const response = await fetch(stack.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(operations),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as unknown };
}

describe('1. introspection counts toward every operation limit', () => {
  const INTROSPECT = '__schema { types { name fields { name args { name } } } }';

  it('80 aliased __schema selections, 10 to a batch: refused for aliases, nothing served', async () => {
    const query = `{ ${Array.from({ length: 80 }, (_, i) => `a${i}: ${INTROSPECT}`).join(' ')} }`;
    const result = await postBatch(await analyst('intro-aliases'), Array.from({ length: 10 }, () => ({ query })));
    expect(result.text.length).toBeLessThan(10_000);
    expect(result.body).toEqual(
      Array.from({ length: 10 }, () => ({
        errors: [{ message: expect.any(String), extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit: 'aliases', value: 80, maximum: 30 } }],
      })),
    );
  });

  it('introspection is priced: the cost charged is exactly the objects and list items it returns', async () => {
    const token = await analyst('intro-cost');
    const first = await postGraphQL(stack.url, '{ __typename }', { token });
    const result = await postGraphQL<{ __schema: unknown }>(stack.url, `{ ${INTROSPECT} }`, { token });
    expect(result.status).toBe(200);
    let returned = 0;
    (function count(value: unknown): void {
      if (Array.isArray(value)) value.forEach(count);
      else if (value && typeof value === 'object') {
        returned += 1;
        Object.values(value).forEach(count);
      }
    })(result.body.data!.__schema);
    expect(returned).toBeGreaterThan(100);
    expect(remainingCost(first.headers) - remainingCost(result.headers)).toBe(returned);
  });

  it('the same attack within the alias limit: the batch as a whole stays within maxCost', async () => {
    const token = await analyst('intro-batch');
    const query = `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: ${INTROSPECT}`).join(' ')} }`;
    const before = remainingCost((await postGraphQL(stack.url, '{ __typename }', { token })).headers);
    const result = await postBatch(token, Array.from({ length: 10 }, () => ({ query })));
    const bodies = result.body as { data?: unknown; errors?: { extensions: { code: string } }[] }[];
    const served = bodies.filter((b) => b.data && !b.errors).length;
    expect(served).toBeGreaterThan(0);
    expect(served).toBeLessThan(10);
    expect(bodies.filter((b) => b.errors).map((b) => b.errors![0]!.extensions.code)).toEqual(Array.from({ length: 10 - served }, () => 'COST_LIMIT_EXCEEDED'));
    const charged = before - remainingCost(result.headers);
    expect(charged).toBeLessThanOrEqual(50_000);
    expect(charged % served).toBe(0); // each served operation paid the same, exact, price
  });

  it('depth, field count and __typename aliases include introspection', async () => {
    const token = await analyst('intro-depth');
    const deep = `{ __type(name: "Customer") { fields { type { ${'ofType { '.repeat(13)}name${' }'.repeat(13)} } } } }`;
    expect((await postGraphQL(stack.url, deep, { token })).body).toEqual({
      errors: [{ message: expect.any(String), extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit: 'depth', value: 17, maximum: 15 } }],
    });
    const typenames = `{ ${Array.from({ length: 31 }, (_, i) => `t${i}: __typename`).join(' ')} }`;
    expect((await postGraphQL(stack.url, typenames, { token })).body).toEqual({
      errors: [{ message: expect.any(String), extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit: 'aliases', value: 31, maximum: 30 } }],
    });
    // 50 spreads of 50 fields: few tokens, 2,500 field selections once expanded.
    const wide = `{ __schema { types { ${'...F '.repeat(50)}} } } fragment F on __Type { ${'name '.repeat(50)}}`;
    expect((await postGraphQL(stack.url, wide, { token })).body).toEqual({
      errors: [{ message: expect.any(String), extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit: 'fields', maximum: 2_000 } }],
    });
  });

  it("a batch is bounded as a whole: its operations' summed cost may not exceed maxCost", async () => {
    const token = await analyst('batch-cost');
    const query = `{ ${Array.from({ length: 15 }, (_, i) => `c${i}: customers(first: 100) { id segments { name } }`).join(' ')} }`;
    const before = remainingCost((await postGraphQL(stack.url, '{ __typename }', { token })).headers);
    const single = await postGraphQL(stack.url, query, { token });
    expect(single.status).toBe(200);
    const cost = before - remainingCost(single.headers);
    // Alone within maxCost (50,000); ten of them are not.
    expect(cost).toBeLessThanOrEqual(50_000);
    expect(cost * 10).toBeGreaterThan(50_000);
    const batch = await postBatch(token, Array.from({ length: 10 }, () => ({ query })));
    const codes = (batch.body as { errors?: { extensions: { code: string } }[] }[]).map((r) => r.errors?.[0]?.extensions.code ?? 'ok');
    const served = codes.filter((c) => c === 'ok').length;
    expect(served).toBeGreaterThan(0);
    expect(served * cost).toBeLessThanOrEqual(50_000);
    expect(codes.filter((c) => c !== 'ok')).toEqual(Array.from({ length: 10 - served }, () => 'COST_LIMIT_EXCEEDED'));
  });
});

describe('6. nesting is bounded before parsing, and no engine text reaches a client', () => {
  const deepList = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
  const engineText = /Maximum call stack|RangeError|TypeError|at .+\(|node_modules|\.ts:\d+/;

  // JSON written by hand: JSON.stringify itself runs out of stack at these depths.
  const json = (query: string, rest = '') => `{"query":${JSON.stringify(query)}${rest}}`;
  it.each([
    ['a 10,000-deep list argument', json(`{ customers(first: 1, filter: ${deepList(10_000)}) { id } }`), 'valueNesting', 12],
    ['10,000-deep selection sets', json(`${'{ a '.repeat(10_000)}${'}'.repeat(10_000)}`), 'nesting', 64],
    ['a 10,000-deep variable value', json('query($v: [Int]) { __typename }', `,"variables":{"v":${deepList(10_000)}}`), 'nesting', 64],
    ['10,000-deep extensions', json('{ __typename }', `,"extensions":{"x":${deepList(10_000)}}`), 'nesting', 64],
  ])('%s: 400 OPERATION_LIMIT_EXCEEDED (%s)', async (_, body, limit, maximum) => {
    const response = await fetch(stack.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await analyst('nesting')}` },
      body,
    });
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(text).not.toMatch(engineText);
    expect(JSON.parse(text)).toEqual({ errors: [{ message: expect.stringMatching(/nested deeper than \d+ levels$/), extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit, maximum } }] });
  });

  it('a literal value nested past maxValueNesting (12): refused before the planner walks it (its time doubles per level)', async () => {
    const token = await analyst('value-nesting');
    // The input object is one level, its lists eleven more: twelve.
    const within = await postGraphQL(stack.url, `{ customers(first: 1, filter: { signedUpAfter: ${'['.repeat(11)}"2024-01-01"${']'.repeat(11)} }) { id } }`, { token });
    expect(codesOf(within)).not.toContain('OPERATION_LIMIT_EXCEEDED');
    const over = await postGraphQL(stack.url, `{ customers(first: 1, filter: { signedUpAfter: ${'['.repeat(24)}"2024-01-01"${']'.repeat(24)} }) { id } }`, { token });
    expect(over.status).toBe(400);
    expect(over.body).toEqual({
      errors: [{ message: 'A value in the operation is nested deeper than 12 levels', extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit: 'valueNesting', maximum: 12 } }],
    });
  });

  it('over GET too', async () => {
    const query = encodeURIComponent(`{ customers(first: 1, filter: ${deepList(1_000)}) { id } }`);
    const response = await fetch(`${stack.url}?query=${query}`, { headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${await analyst('nesting-get')}` } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit: 'valueNesting' } }] });
  });

  it('nesting in strings, block strings and comments is not nesting', async () => {
    const query = `# ${'['.repeat(200)}\n{ customers(first: 1, filter: "${'['.repeat(200)}") { id } }`;
    const result = await postGraphQL(stack.url, query, { token: await analyst('nesting-strings') });
    // Past the nesting check: refused by validation (customers takes no filter), not by the bound.
    expect(codesOf(result)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    for (const error of result.body.errors ?? []) expect(ERROR_CODES).toContain(error.extensions?.code);
  });
});

describe('8. the charset is judged on the header alone', () => {
  it('utf-7 with a declared 1 MB body: 415 before a byte of it is sent', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const { port } = new URL(stack.url);
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          ['POST /graphql HTTP/1.1', `host: 127.0.0.1:${port}`, 'content-type: application/json; charset=utf-7', 'content-length: 1048576', '', ''].join('\r\n'),
        );
      });
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (received += chunk));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 415 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      errors: [{ message: 'Unsupported charset: JSON bodies must be UTF-8', extensions: { code: 'UNSUPPORTED_MEDIA_TYPE' } }],
    });
  });
});

describe('9. variables are coerced before anything is priced', () => {
  it('an Int variable of 2^31 is BAD_USER_INPUT, not COST_LIMIT_EXCEEDED', async () => {
    const result = await postGraphQL(stack.url, 'query($n: Int) { customers(first: $n) { id } }', { token: await analyst('variables'), variables: { n: 2 ** 31 } });
    expect(result.status).toBe(400);
    expect(result.body).toEqual({ errors: [{ message: expect.stringContaining('$n'), extensions: { code: 'BAD_USER_INPUT' } }] });
  });

  it('a missing required variable and a wrong type are BAD_USER_INPUT too', async () => {
    const token = await analyst('variables-2');
    const missing = await postGraphQL(stack.url, 'query($n: Int!) { customers(first: $n) { id } }', { token });
    expect(missing.body).toEqual({ errors: [{ message: expect.stringContaining('$n'), extensions: { code: 'BAD_USER_INPUT' } }] });
    const wrong = await postGraphQL(stack.url, 'query($n: Int) { customers(first: $n) { id } }', { token, variables: { n: 'ten' } });
    expect(wrong.body).toEqual({ errors: [{ message: expect.stringContaining('$n'), extensions: { code: 'BAD_USER_INPUT' } }] });
  });
});

describe('7. one credential per request (RFC 6750)', () => {
  /** node:http, which (unlike fetch) sends a header twice when given two values. */
  function rawPost(path: string, headers: Record<string, string | string[]>): Promise<{ status: number; headers: Record<string, unknown>; body: unknown }> {
    return new Promise((resolve, reject) => {
      const { port } = new URL(stack.url);
      const req = request({ host: '127.0.0.1', port: Number(port), path, method: 'POST' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) as unknown }));
      });
      req.on('error', reject);
      req.setHeader('content-type', 'application/json');
      for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
      req.end(JSON.stringify({ query: '{ __typename }' }));
    });
  }

  it.each([
    ['two Authorization headers', '/graphql', { authorization: ['Bearer A', 'Bearer B'] }, 'send one Authorization header'],
    ['a header and ?access_token=', '/graphql?access_token=B', { authorization: 'Bearer A' }, 'send the token once, in the Authorization header only'],
    ['?access_token= alone', '/graphql?access_token=B', {}, 'send the token in the Authorization header, not in the URL'],
  ])('%s: 400 invalid_request', async (_, path, headers, description) => {
    const token = await analyst('credentials');
    const withToken = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => x.replace('A', token)) : v.replace('A', token)]));
    const result = await rawPost(path.replace('=B', `=${token}`), withToken);
    expect(result.status).toBe(400);
    expect(result.headers['www-authenticate']).toBe(`Bearer realm="data-product-gateway", error="invalid_request", error_description="${description}"`);
    expect(result.body).toEqual({ errors: [{ message: `Invalid request: ${description}`, extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('one header alone is fine', async () => {
    const result = await rawPost('/graphql', { authorization: `Bearer ${await analyst('credentials-ok')}` });
    expect(result).toMatchObject({ status: 200, body: { data: { __typename: 'Query' } } });
  });
});

describe('2. the usage and catalogue APIs bound every window and every list', () => {
  const SERIES = 'query($c: String!, $since: DateTime, $until: DateTime) { fieldUsageSeries(coordinate: $c, since: $since, until: $until) { hour requests } }';

  it('a series from year 2000 to 9999 is clamped to the retention and to now', async () => {
    const owner = await mintDevToken({ roles: ['data-product-owner'], subject: 'owner-series' });
    const started = Date.now();
    const result = await postGraphQL<{ fieldUsageSeries: { hour: string }[] }>(stack.url, SERIES, {
      token: owner,
      variables: { c: 'Customer.id', since: '2000-01-01T00:00:00Z', until: '9999-12-31T00:00:00Z' },
    });
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    const hours = result.body.data!.fieldUsageSeries.map((p) => Date.parse(p.hour));
    // 30 days retained (the default): 720 hours and the current one, never past now.
    expect(hours.length).toBeGreaterThanOrEqual(720);
    expect(hours.length).toBeLessThanOrEqual(722);
    expect(Math.max(...hours)).toBeLessThanOrEqual(Date.now());
    expect(Math.min(...hours)).toBeGreaterThanOrEqual(started - 31 * 86_400_000);
    expect((await fetch(stack.url.replace('/graphql', '/healthz'))).status).toBe(200);
  });

  it('a window entirely in the future or before the retention is empty, not an error', async () => {
    const owner = await mintDevToken({ roles: ['data-product-owner'], subject: 'owner-empty' });
    for (const variables of [
      { c: 'Customer.id', since: '9000-01-01T00:00:00Z', until: '9999-12-31T00:00:00Z' },
      { c: 'Customer.id', since: '2000-01-01T00:00:00Z', until: '2000-02-01T00:00:00Z' },
    ]) {
      const result = await postGraphQL<{ fieldUsageSeries: unknown[] }>(stack.url, SERIES, { token: owner, variables });
      expect(result.body).toEqual({ data: { fieldUsageSeries: expect.any(Array) } });
      expect(result.body.data!.fieldUsageSeries.length).toBeLessThanOrEqual(1);
    }
  });

  it.each([
    ['fieldUsage(first:)', '{ fieldUsage(product: "customer", first: 5000) { coordinate } }', ['fieldUsage'], 'first', 1000],
    ['clients(first:)', '{ fieldUsage(product: "customer", first: 1) { clients(first: 500) { name } } }', ['fieldUsage', 0, 'clients'], 'first', 100],
    ['dataProducts(first:)', '{ dataProducts(first: 0) { name } }', ['dataProducts'], 'first', 100],
  ])('%s over its maximum: BAD_USER_INPUT naming the limit', async (_, query, path, argument, maximum) => {
    const owner = await mintDevToken({ roles: ['data-product-owner'], subject: 'owner-pages' });
    const result = await postGraphQL(stack.url, query, { token: owner });
    expect(result.body.errors).toEqual([
      { message: `${argument} must be an integer from 1 to ${maximum}`, path, extensions: { code: 'BAD_USER_INPUT', service: 'platform', argument, maximum } },
    ]);
  });

  it('pages: first and after walk the whole list, each row once', async () => {
    const owner = await mintDevToken({ roles: ['data-product-owner'], subject: 'owner-walk' });
    const all = await postGraphQL<{ fieldUsage: { coordinate: string }[] }>(stack.url, '{ fieldUsage(product: "customer") { coordinate } }', { token: owner });
    const walked: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 100; i++) {
      const next: Awaited<ReturnType<typeof postGraphQL<{ fieldUsage: { coordinate: string }[] }>>> = await postGraphQL(
        stack.url,
        'query($after: String) { fieldUsage(product: "customer", first: 7, after: $after) { coordinate } }',
        { token: owner, variables: { after } },
      );
      const rows = next.body.data!.fieldUsage;
      walked.push(...rows.map((r) => r.coordinate));
      if (rows.length < 7) break;
      after = rows[rows.length - 1]!.coordinate;
    }
    expect(walked).toEqual(all.body.data!.fieldUsage.map((r) => r.coordinate));
    expect(new Set(walked).size).toBe(walked.length);
  });

  it('a series wider than 744 hours (a longer retention) is refused naming the limit', async () => {
    const gateway = await startGateway(loadConfig(gatewayEnv(stack.subgraphUrls, { USAGE_RETENTION_DAYS: '60' })), silent);
    try {
      const owner = await mintDevToken({ roles: ['data-product-owner'], subject: 'owner-wide' });
      const since = new Date(Date.now() - 40 * 86_400_000).toISOString();
      const result = await postGraphQL(gateway.url, SERIES, { token: owner, variables: { c: 'Customer.id', since } });
      expect(result.body.errors).toEqual([
        { message: 'A series may span at most 744 hours; ask for a shorter window', path: ['fieldUsageSeries'], extensions: { code: 'BAD_USER_INPUT', service: 'platform', argument: 'since', maximum: 744 } },
      ]);
    } finally {
      await gateway.stop();
    }
  });
});

describe('5. usage labels are bounded', () => {
  it('distinct client versions past the hourly cap count as other, with a metric; refused requests create no label', async () => {
    const limits = writeLimits({ default: { requests: 6, cost: 1_000_000 } });
    const gateway = await startGateway(loadConfig(gatewayEnv(stack.subgraphUrls, { USAGE_MAX_CLIENTS: '3', RATE_LIMITS_FILE: limits })), silent);
    try {
      const token = await mintDevToken({ roles: ['marketing-analyst'], subject: 'label-maker' });
      const statuses: number[] = [];
      for (let v = 1; v <= 9; v++) {
        const result = await postGraphQL(gateway.url, '{ customers(first: 1) { country } }', { token, headers: { 'apollographql-client-name': 'app', 'apollographql-client-version': `${v}.0` } });
        statuses.push(result.status);
      }
      // 6 served (3 own labels, 3 over the cap), 3 refused by the budget (each a new version: no label).
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429, 429]);
      await gateway.flushUsage();
      const owner = await mintDevToken({ roles: ['data-product-owner'], subject: 'label-owner' });
      const usage = await postGraphQL<{ fieldUsage: { coordinate: string; requests: number; rejected: number; clients: { name: string; version: string | null; requests: number }[] }[] }>(
        gateway.url,
        '{ fieldUsage(product: "customer") { coordinate requests rejected clients { name version requests } } }',
        { token: owner },
      );
      expect(usage.body.errors).toBeUndefined();
      const country = usage.body.data!.fieldUsage.find((r) => r.coordinate === 'Customer.country')!;
      expect(country.requests).toBe(6);
      expect(country.rejected).toBe(3);
      expect(country.clients).toEqual([
        { name: 'other', version: null, requests: 3 },
        { name: 'app', version: '1.0', requests: 1 },
        { name: 'app', version: '2.0', requests: 1 },
        { name: 'app', version: '3.0', requests: 1 },
      ]);
      const metrics = await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text();
      // The owner's own query above was a fourth new pair past the cap.
      expect(metrics).toMatch(/^dpg_usage_client_overflow_total\{reason="cap"\} 4$/m);
      expect(metrics).toMatch(/^dpg_usage_client_overflow_total\{reason="refused"\} 3$/m);
    } finally {
      await gateway.stop();
    }
  });
});

describe('10. metrics: an admin listener in production, nothing version-revealing on the public port', () => {
  const production = (extra: Record<string, string>) => {
    const key = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    return gatewayEnv(stack.subgraphUrls, {
      NODE_ENV: 'production',
      INTERNAL_SIGNING_KEY: key,
      PSEUDONYM_KEY: randomBytes(32).toString('base64'),
      OIDC_ISSUERS: JSON.stringify([{ issuer: 'https://idp.example.com', audiences: ['gateway'] }]),
      // Production needs an audit store that outlives the process; nothing is audited here, so it is never opened.
      AUDIT_DATA_DIR: join(tmpdir(), 'dpg-audit-never-opened'),
      ADMIN_PORT: '0',
      ...extra,
    });
  };

  it('production without METRICS_TOKEN: /metrics is 404 on the public port, served on the loopback admin port', async () => {
    const gateway = await startGateway(loadConfig(production({})), silent);
    try {
      const base = gateway.url.replace(/\/graphql$/, '');
      const open = await fetch(`${base}/metrics`);
      expect(open.status).toBe(404);
      expect(await open.json()).toEqual({ errors: [{ message: 'Not found', extensions: { code: 'NOT_FOUND' } }] });
      expect(gateway.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const admin = await fetch(`${gateway.adminUrl}/metrics`);
      expect(admin.status).toBe(200);
      expect(await admin.text()).toMatch(/^dpg_requests_total|^dpg_nodejs_version_info\{/m);
      // Readiness is there too (the products refuse this gateway's fresh identity key: not ready, and it says why).
      expect(await (await fetch(`${gateway.adminUrl}/readyz`)).json()).toEqual({ status: 'unavailable', phase: 'ready', supergraph: expect.stringMatching(/^[0-9a-f]{16}$/), subgraphs: { customer: 'down', finance: 'down', product: 'down' } });
      expect((await fetch(`${gateway.adminUrl}/graphql`)).status).toBe(404);
    } finally {
      await gateway.stop();
    }
  });

  it('with METRICS_TOKEN the public port serves metrics to the token only, without runtime versions', async () => {
    const token = 'a-metrics-token-of-32-characters';
    const gateway = await startGateway(loadConfig(production({ METRICS_TOKEN: token })), silent);
    try {
      const base = gateway.url.replace(/\/graphql$/, '');
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      expect(text).toContain('dpg_requests_total');
      expect(text).not.toMatch(/version_info|v\d+\.\d+\.\d+/);
      // The admin listener shows operators everything, versions included.
      expect(await (await fetch(`${gateway.adminUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text()).toMatch(/^dpg_nodejs_version_info\{version="v\d+/m);
    } finally {
      await gateway.stop();
    }
  });
});

describe('11. development mode never listens beyond loopback', () => {
  it.each(['0.0.0.0', '::', '192.168.1.10', 'gateway.example.com'])('HOST=%s without NODE_ENV=production is refused, naming what production needs', (host) => {
    expect(() => loadConfig({ HOST: host }, [])).toThrow(/HOST: ".*" is not a loopback address.*NODE_ENV=production with OIDC_ISSUERS .* and INTERNAL_SIGNING_KEY/);
    expect(() => loadSubgraphsConfig({ HOST: host }, [])).toThrow(/HOST: ".*" is not a loopback address.*NODE_ENV=production with INTERNAL_VERIFY_KEY/);
  });

  it.each(['127.0.0.1', '127.0.0.2', 'localhost', '::1'])('HOST=%s is fine in development', (host) => {
    expect(loadConfig({ HOST: host }, []).host).toBe(host);
    expect(loadSubgraphsConfig({ HOST: host }, []).host).toBe(host);
  });

  it('the gateway process refuses to start on 0.0.0.0 in development: exit code 2 and the message', async () => {
    const child = spawnTs('gateway/main.ts', [], { HOST: '0.0.0.0', PORT: '0', LOG_LEVEL: 'silent' });
    expect(await child.exited).toBe(2);
    expect(child.stderr()).toMatch(/^gateway: Invalid configuration:\n {2}HOST: "0\.0\.0\.0" is not a loopback address/);
  });
});

describe('introspection the query planner cannot serve', () => {
  it.each([
    ['{ __type(name: "CustomerFilter") { isOneOf } }', '__Type.isOneOf'],
    ['{ __schema { directives { isDeprecated } } }', '__Directive.isDeprecated'],
    ['{ __schema { directives { name deprecationReason } } }', '__Directive.deprecationReason'],
    ['{ __schema { directives(includeDeprecated: true) { name } } }', '__Schema.directives(includeDeprecated:)'],
    ['{ __schema { __typename directives(includeDeprecated: true) { name } } }', '__Schema.directives(includeDeprecated:)'],
  ])('%s: 400 GRAPHQL_VALIDATION_FAILED naming it, never a 500', async (query, what) => {
    const result = await postGraphQL(stack.url, query, { token: await analyst('introspection-support') });
    expect(result.status).toBe(400);
    expect(result.body).toEqual({
      errors: [{ message: `Introspection of ${what} is not supported by this gateway`, locations: expect.any(Array), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }],
    });
  });

  it('what it can serve still works, the standard introspection query included', async () => {
    const result = await postGraphQL<{ __schema: { types: unknown[] } }>(stack.url, getIntrospectionQuery({ inputValueDeprecation: true, specifiedByUrl: true, schemaDescription: true, directiveIsRepeatable: true }), {
      token: await analyst('introspection-full'),
    });
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data!.__schema.types.length).toBeGreaterThan(20);
  });
});

describe('a persisted query whose hash does not match', () => {
  it('is 400 BAD_REQUEST in our words, not an internal error', async () => {
    const response = await fetch(stack.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await analyst('apq')}` },
      body: JSON.stringify({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ errors: [{ message: 'extensions.persistedQuery.sha256Hash is not the SHA-256 of the query', extensions: { code: 'BAD_REQUEST' } }] });
  });
});

describe("a custom scalar's value the data product refuses", () => {
  it.each([
    ['a literal', '{ customers(first: 1, filter: { signedUpAfter: "yesterday" }) { id } }', undefined],
    ['a variable', 'query($f: CustomerFilter) { customers(first: 1, filter: $f) { id } }', { f: { signedUpAfter: ['2024-03-15'] } }],
  ])('as %s: BAD_USER_INPUT naming the product, not SUBGRAPH_ERROR', async (_, query, variables) => {
    const result = await postGraphQL(stack.url, query, { token: await analyst('scalar-input'), variables });
    expect(result.body).toEqual({
      data: null,
      errors: [{ message: expect.stringMatching(/Date must be a calendar date as YYYY-MM-DD$/), extensions: { code: 'BAD_USER_INPUT', service: 'customer' } }],
    });
  });
});
