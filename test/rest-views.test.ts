import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { ConfigError } from '../gateway/config.js';
import { MAX_LISTED_FIELD_ERRORS, restResponse } from '../gateway/rest/respond.js';
import { loadRestRoutes, parseRestRoutes } from '../gateway/rest/routes.js';
import type { Principal } from '../lib/principal.js';
import { HeaderMap } from '@apollo/server';
import { ERROR_CODES, ERROR_STATUS, type ErrorCode } from '../lib/errors.js';
import { postGraphQL } from './helpers/http.js';
import { writeLimits } from './helpers/limits.js';
import { startStack, SUPERGRAPH_FILE, tokenFor, type Stack } from './helpers/stack.js';

/*
 * Issue 18, items 4 and 5: REST views of the graph. Each route runs its stored operation through
 * the /graphql pipeline as the caller's own request, so every answer is checked against what
 * /graphql answers for the same operation and token.
 */

const PROFILE_QUERY = `query CustomerProfile($id: ID!) {
  customer(id: $id) {
    id
    firstName
    lastName
    email
    phone
    country
    signupDate
    status
    segments { name score }
    churnRisk { level score }
  }
}
`;

/** A test-only route file beside the shipped ones: a route that reads a deprecated field, and one whose operation no longer validates. */
const TEST_ROUTES = `
product: customer
routes:
  - name: LegacyCustomerName
    path: /api/v1/customers/{id}/legacy-name
    version: 1.0.0
    description: The legacy CRM's full name of a customer (deprecated field).
    parameters:
      id: { pattern: "C[0-9]{6}" }
    operation: |
      query LegacyCustomerName($id: ID!) { customer(id: $id) { id fullName } }
  - name: CustomerNickname
    path: /api/v1/customers/{id}/nickname
    version: 1.0.0
    description: A field the supergraph does not have (any more).
    operation: |
      query CustomerNickname($id: ID!) { customer(id: $id) { id nickname } }
`;

let stack: Stack;
let base: string;
/** The supergraph the gateway serves, a copy that a test replaces and reloads. */
let supergraphFile: string;
const SUPERGRAPH = readFileSync(SUPERGRAPH_FILE, 'utf8');
const tokens: Record<string, string> = {};

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dpg-rest-'));
  cpSync('schema/rest', dir, { recursive: true });
  writeFileSync(join(dir, 'test-legacy.yaml'), TEST_ROUTES);
  // risk-analyst: a budget of three requests in the window, to see 429.
  supergraphFile = join(dir, 'supergraph.graphql');
  writeFileSync(supergraphFile, SUPERGRAPH);
  const limits = writeLimits({ tiers: { tiny: { requests: 3, cost: 1_000_000 } }, roles: { 'risk-analyst': 'tiny' } });
  stack = await startStack({ customers: 30, env: { REST_ROUTES_DIR: dir, RATE_LIMITS_FILE: limits, SUPERGRAPH: supergraphFile, SUPERGRAPH_POLL_MS: '0' } });
  base = stack.url.replace(/\/graphql$/, '');
  for (const role of ['admin', 'data-scientist', 'marketing-analyst', 'auditor', 'data-product-owner', 'sales-manager']) tokens[role] = await tokenFor(role);
  // Budgets are per subject: the rate-limited caller is someone of its own.
  tokens['risk-analyst'] = await mintDevToken({ roles: ['risk-analyst'], subject: 'rest-rate-limited', clientId: 'test-risk-analyst' });
});
afterAll(async () => {
  await stack?.stop();
});

interface RestAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function get(path: string, token?: string, headers: Record<string, string> = {}): Promise<RestAnswer> {
  const response = await fetch(base + path, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`non-JSON answer (HTTP ${response.status}): ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body };
}

/** The REST error shape: `error` decides the status, `errors` lists them all. */
const errorShape = (code: ErrorCode, errors: unknown = expect.any(Array)) => ({ error: { code, message: expect.any(String) }, errors });

describe('GET /api/v2/customers/{id}/profile answers as the equivalent GraphQL operation', () => {
  it.each(['admin', 'sales-manager', 'data-scientist'])('%s: the body is data.customer, masking included', async (role) => {
    const rest = await get('/api/v2/customers/C000003/profile', tokens[role]);
    const graphql = await postGraphQL<{ customer: Record<string, unknown> }>(stack.url, PROFILE_QUERY, { token: tokens[role]!, variables: { id: 'C000003' } });
    expect(graphql.body.errors).toBeUndefined();
    expect(rest.status).toBe(200);
    expect(rest.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(rest.body).toEqual(graphql.body.data!.customer);
    expect(rest.headers.get('dpg-field-errors')).toBeNull();
    // Rate-limit headers as /graphql sends them.
    expect(rest.headers.get('ratelimit')).toMatch(/^"requests";r=\d+;t=\d+, "cost";r=\d+;t=\d+$/);
    expect(rest.headers.get('ratelimit-policy')).toMatch(/^"requests";q=\d+;w=\d+/);
  });

  it('data-scientist: email pseudonymized, names and phone masked, exactly as /graphql treats them', async () => {
    const clear = (await get('/api/v2/customers/C000003/profile', tokens.admin)).body as Record<string, string>;
    const masked = (await get('/api/v2/customers/C000003/profile', tokens['data-scientist'])).body as Record<string, string>;
    expect(masked.email).toMatch(/^pse_[A-Za-z0-9_-]{22}$/);
    expect(masked.email).not.toBe(clear.email);
    expect(masked.firstName).toBe(`${clear.firstName![0]}.`);
    expect(masked.phone).toBe(`${clear.phone!.split(' ')[0]} ****** ${clear.phone!.slice(-3)}`);
    expect(masked.country).toBe(clear.country);
    expect(masked.segments).toEqual(clear.segments);
  });

  it('marketing-analyst (no customer:pii): 200 with the denied fields null, listed in Dpg-Field-Errors as /graphql lists its errors', async () => {
    const rest = await get('/api/v2/customers/C000003/profile', tokens['marketing-analyst']);
    const graphql = await postGraphQL<{ customer: Record<string, unknown> }>(stack.url, PROFILE_QUERY, { token: tokens['marketing-analyst']!, variables: { id: 'C000003' } });
    expect(rest.status).toBe(200);
    expect(rest.body).toEqual(graphql.body.data!.customer);
    expect(rest.body).toMatchObject({ firstName: null, lastName: null, email: null, phone: null, country: expect.any(String) });
    const listed = graphql.body.errors!.map((e) => `"${String(e.extensions!.code)}";pointer="/${e.path!.slice(1).join('/')}";coordinate="${String(e.extensions!.coordinate)}"`);
    expect(listed).toHaveLength(4);
    expect(rest.headers.get('dpg-field-errors')).toBe(listed.join(', '));
    expect(rest.headers.get('dpg-field-error-count')).toBe('4');
  });

  it('403 FORBIDDEN when the root field is denied (auditor: no customer:read), with the GraphQL error listed', async () => {
    const rest = await get('/api/v2/customers/C000003/profile', tokens.auditor);
    const graphql = await postGraphQL(stack.url, PROFILE_QUERY, { token: tokens.auditor!, variables: { id: 'C000003' } });
    expect(rest.status).toBe(403);
    expect(rest.body).toEqual({ error: { code: 'FORBIDDEN', message: graphql.body.errors![0]!.message }, errors: graphql.body.errors });
  });

  it('401 UNAUTHENTICATED with WWW-Authenticate: no token, a bad token', async () => {
    const none = await get('/api/v2/customers/C000003/profile');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="data-product-gateway"');
    expect(none.body).toEqual(errorShape('UNAUTHENTICATED'));
    const bad = await get('/api/v2/customers/C000003/profile', 'not-a-jwt');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer realm="data-product-gateway", error="invalid_token"/);
    expect(bad.body).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'Invalid bearer token' }, errors: [{ message: 'Invalid bearer token', extensions: { code: 'UNAUTHENTICATED' } }] });
  });

  it('404 NOT_FOUND for an unknown id and for a path no route has', async () => {
    const unknownId = await get('/api/v2/customers/C999999/profile', tokens.admin);
    expect(unknownId.status).toBe(404);
    expect(unknownId.body).toEqual({ error: { code: 'NOT_FOUND', message: 'Nothing found for these parameters' }, errors: [] });
    for (const path of ['/api/v2/customers/C000003', '/api/v2/customers/C000003/profile/more', '/api/v3/customers/C000003/profile', '/api/']) {
      const unknownRoute = await get(path, tokens.admin);
      expect(unknownRoute.status, path).toBe(404);
      expect(unknownRoute.body).toEqual(errorShape('NOT_FOUND', [{ message: 'No REST route at this path', extensions: { code: 'NOT_FOUND' } }]));
    }
  });

  it('400 BAD_USER_INPUT naming the parameter: a malformed id, a bad query parameter', async () => {
    const malformed = await get('/api/v2/customers/42/profile', tokens.admin);
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({
      error: { code: 'BAD_USER_INPUT', message: 'Parameter id is not in the expected format' },
      errors: [{ message: 'Parameter id is not in the expected format', extensions: { code: 'BAD_USER_INPUT', parameter: 'id' } }],
    });
    for (const [query, parameter] of [
      ['first=ten', 'first'],
      ['first=99999999999', 'first'],
      ['first=1&first=2', 'first'],
      ['limit=5', 'query'],
      ['after=X1', 'after'],
    ] as const) {
      const answer = await get(`/api/v1/customers/C000003/transactions?${query}`, tokens.admin);
      expect(answer.status, query).toBe(400);
      expect(answer.body, query).toMatchObject({ error: { code: 'BAD_USER_INPUT' }, errors: [{ extensions: { code: 'BAD_USER_INPUT', parameter } }] });
    }
    // In range for the type but not for the data product: its own BAD_USER_INPUT, as /graphql answers it.
    const tooMany = await get('/api/v1/customers/C000003/transactions?first=1000', tokens.admin);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ error: { code: 'BAD_USER_INPUT' }, errors: [{ path: ['customer', 'transactions'], extensions: { code: 'BAD_USER_INPUT', argument: 'first', service: 'finance' } }] });
  });

  it('405 METHOD_NOT_ALLOWED with Allow for another method on a route', async () => {
    const response = await fetch(`${base}/api/v2/customers/C000003/profile`, { method: 'POST', headers: { authorization: `Bearer ${tokens.admin}` } });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
    expect(await response.json()).toEqual(errorShape('METHOD_NOT_ALLOWED'));
  });

  it('429 RATE_LIMITED with Retry-After and RateLimit headers once the caller budget is spent', async () => {
    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push(await get('/api/v2/customers/C000003/profile', tokens['risk-analyst']));
    expect(answers.map((a) => a.status), JSON.stringify(answers[0]!.body)).toEqual([200, 200, 200, 429]);
    const refused = answers[3]!;
    expect(refused.body).toEqual(errorShape('RATE_LIMITED'));
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('ratelimit')).toMatch(/^"requests";r=0;t=\d+/);
    expect(refused.headers.get('ratelimit-policy')).toMatch(/^"requests";q=3;w=600/);
  });
});

describe('GET /api/v1/customers/{id}/transactions?first=&after=', () => {
  it('answers data.customer.transactions of the equivalent operation, paged by first and after', async () => {
    const query = `query CustomerTransactions($id: ID!, $first: Int = 10, $after: ID) { customer(id: $id) { transactions(first: $first, after: $after) { id timestamp amount currency product { sku name category } } } }`;
    const graphql = await postGraphQL<{ customer: { transactions: { id: string }[] } }>(stack.url, query, { token: tokens.admin!, variables: { id: 'C000003', first: 2 } });
    const rest = await get('/api/v1/customers/C000003/transactions?first=2', tokens.admin);
    expect(rest.status).toBe(200);
    expect(rest.body).toEqual(graphql.body.data!.customer.transactions);
    expect(rest.body).toHaveLength(2);
    const last = graphql.body.data!.customer.transactions[1]!.id;
    const next = await get(`/api/v1/customers/C000003/transactions?first=2&after=${last}`, tokens.admin);
    const nextGraphql = await postGraphQL<{ customer: { transactions: unknown[] } }>(stack.url, query, { token: tokens.admin!, variables: { id: 'C000003', first: 2, after: last } });
    expect(next.body).toEqual(nextGraphql.body.data!.customer.transactions);
  });

  it('403 for a role without finance:read on the answered field (marketing-analyst)', async () => {
    const rest = await get('/api/v1/customers/C000003/transactions', tokens['marketing-analyst']);
    expect(rest.status).toBe(403);
    expect(rest.body).toMatchObject({ error: { code: 'FORBIDDEN' }, errors: [{ path: ['customer', 'transactions'], extensions: { code: 'FORBIDDEN', coordinate: 'Customer.transactions' } }] });
  });
});

describe('deprecation and routes that no longer validate', () => {
  it('a route reading a deprecated field carries the Deprecation, Sunset and Link headers /graphql sends', async () => {
    const rest = await get('/api/v1/customers/C000003/legacy-name', tokens.admin);
    const graphql = await postGraphQL(stack.url, 'query LegacyCustomerName($id: ID!) { customer(id: $id) { id fullName } }', { token: tokens.admin!, variables: { id: 'C000003' } });
    expect(rest.status).toBe(200);
    expect(rest.body).toEqual((graphql.body.data as { customer: unknown }).customer);
    expect(rest.headers.get('deprecation')).toBe(graphql.headers.get('deprecation'));
    expect(rest.headers.get('deprecation')).toBe(`@${Date.UTC(2026, 8, 1) / 1000}`);
    expect(rest.headers.get('sunset')).toBe(new Date(Date.UTC(2027, 2, 31)).toUTCString());
    expect(rest.headers.get('link')).toBe('</deprecations>; rel="deprecation"; type="application/json"');
    // The profile reads nothing deprecated.
    expect((await get('/api/v2/customers/C000003/profile', tokens.admin)).headers.get('deprecation')).toBeNull();
  });

  it('a route whose operation does not validate against the supergraph is reported and answers 503, the others serve', async () => {
    const bound = stack.gateway.rest.routes();
    expect(bound.find((b) => b.route.name === 'CustomerNickname')).toMatchObject({ state: 'invalid', problems: [expect.stringContaining('Cannot query field "nickname" on type "Customer"')] });
    expect(bound.filter((b) => b.state === 'ready').map((b) => b.route.name).sort()).toEqual(['CustomerProfile', 'CustomerTransactions', 'LegacyCustomerName']);
    const answer = await get('/api/v1/customers/C000003/nickname', tokens.admin);
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual(errorShape('SERVICE_UNAVAILABLE', [{ message: expect.any(String), extensions: { code: 'SERVICE_UNAVAILABLE', route: 'CustomerNickname' } }]));
  });
});

describe('bounds on what the caller controls', () => {
  it('a request target over 2048 bytes, a parameter over 256 bytes, more than 20 query parameters: 400', async () => {
    const long = await get(`/api/v1/customers/C000003/transactions?first=1&x=${'a'.repeat(2_100)}`, tokens.admin);
    expect(long.status).toBe(400);
    expect(long.body).toEqual(errorShape('BAD_REQUEST'));
    const parameter = await get(`/api/v2/customers/${'C'.repeat(300)}/profile`, tokens.admin);
    expect(parameter.status).toBe(400);
    expect(parameter.body).toMatchObject({ error: { code: 'BAD_USER_INPUT' }, errors: [{ extensions: { parameter: 'id' } }] });
    const many = await get(`/api/v1/customers/C000003/transactions?${Array.from({ length: 21 }, () => 'first=1').join('&')}`, tokens.admin);
    expect(many.status).toBe(400);
    expect(many.body).toEqual(errorShape('BAD_USER_INPUT'));
  });

  it('property (fast-check, fixed seed): malformed path and query parameters always answer a documented 4xx code, never a 5xx or a stack trace', async () => {
    const segment = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }).map(encodeURIComponent),
      fc.string({ maxLength: 300 }),
      fc.constantFrom('%', '%zz', '%E0%A4', '%C0%AF', '%00', 'C00000', 'C0000001', 'c000001', 'C000001%20', '%2e%2e', ' ', '%2F', 'C000001;x', '\u00e9'),
    ).filter((s) => !/^C[0-9]{6}$/.test(decodeURIComponentSafe(s)));
    const queryValue = fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }).map(encodeURIComponent), fc.constantFrom('', '-1', '0', '101', '1e3', '1.5', '2147483648', '%', '%ff', 'NaN', '+1', 'T1', 'T00000001'));
    const queryName = fc.constantFrom('first', 'after', 'id', 'First', '', 'x', '%', '__proto__', 'constructor');
    const query = fc.array(fc.tuple(queryName, queryValue), { maxLength: 25 }).map((pairs) => pairs.map(([n, v]) => `${n}=${v}`).join('&'));
    const request = fc.oneof(
      segment.map((id) => `/api/v2/customers/${id}/profile`),
      fc.tuple(segment, query).map(([id, q]) => `/api/v1/customers/${id}/transactions?${q}`),
      query.filter((q) => q !== '' && !/^(first=([1-9][0-9]?|100)(&after=T[0-9]{7})?)?$/.test(q)).map((q) => `/api/v1/customers/C000003/transactions?${q}`),
    );
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(request, async (path) => {
        const response = await fetch(base + path, { headers: { authorization: `Bearer ${tokens.admin}` } });
        const text = await response.text();
        expect(response.status, path).toBeGreaterThanOrEqual(400);
        expect(response.status, path).toBeLessThan(500);
        expect(text).not.toMatch(/\bat [\w.<>]+ \(|node:internal|\.ts:\d+/);
        const body = JSON.parse(text) as { error: { code: ErrorCode; message: string }; errors: unknown[] };
        expect(ERROR_CODES).toContain(body.error.code);
        expect(ERROR_STATUS[body.error.code]).toBe(response.status);
        expect(body.errors.length).toBeGreaterThan(0);
        seen.add(body.error.code);
      }),
      { seed: 20261201, numRuns: 150 },
    );
    // The run reached past the router: parameters were refused, not just paths.
    expect([...seen]).toEqual(expect.arrayContaining(['BAD_USER_INPUT', 'NOT_FOUND']));
  });
});

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

describe('OpenAPI 3.1 at GET /api/openapi.json', () => {
  it('validates as OpenAPI 3.1, lists every route that binds, and describes the bodies the routes answer', async () => {
    const answer = await get('/api/openapi.json');
    expect(answer.status).toBe(200);
    const document = answer.body as { openapi: string; paths: Record<string, { get: { operationId: string; deprecated?: boolean; parameters: unknown[]; responses: Record<string, { content?: { 'application/json': { schema: object } } }> } }> };
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document) as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(Object.fromEntries(Object.entries(document.paths).map(([path, item]) => [path, item.get.operationId]))).toEqual({
      '/api/v2/customers/{id}/profile': 'CustomerProfile',
      '/api/v1/customers/{id}/transactions': 'CustomerTransactions',
      '/api/v1/customers/{id}/legacy-name': 'LegacyCustomerName',
    });
    expect(document.paths['/api/v1/customers/{id}/legacy-name']!.get.deprecated).toBe(true);
    expect(document.paths['/api/v2/customers/{id}/profile']!.get.deprecated).toBeUndefined();
    expect(document.paths['/api/v1/customers/{id}/transactions']!.get.parameters).toEqual([
      { name: 'id', in: 'path', required: true, description: expect.any(String), schema: { type: 'string', pattern: '^(?:C[0-9]{6})$' } },
      { name: 'first', in: 'query', required: false, description: expect.any(String), schema: { type: 'integer', format: 'int32' } },
      { name: 'after', in: 'query', required: false, description: expect.any(String), schema: { type: 'string', pattern: '^(?:T[0-9]{7})$' } },
    ]);
    const profileSchema = document.paths['/api/v2/customers/{id}/profile']!.get.responses['200']!.content!['application/json'].schema;
    expect(profileSchema).toMatchObject({
      type: 'object',
      required: ['id', 'firstName', 'lastName', 'email', 'phone', 'country', 'signupDate', 'status', 'segments', 'churnRisk'],
      additionalProperties: false,
      properties: {
        id: { type: 'string' },
        email: { type: ['string', 'null'], description: expect.stringContaining('Contact email address') },
        signupDate: { type: 'string', format: 'date' },
        status: { type: 'string', enum: ['ACTIVE', 'INACTIVE', 'CHURNED'] },
        segments: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, score: { type: 'number' } } } },
        churnRisk: { type: ['object', 'null'], required: ['level', 'score'], properties: { level: { type: 'string', enum: ['LOW', 'MEDIUM', 'HIGH'] } } },
      },
    });

    // Every answer of every role matches the document's schema for it.
    const ajv = new Ajv2020({ strict: false });
    addFormats.default(ajv);
    const check = ajv.compile(profileSchema);
    for (const role of ['admin', 'data-scientist', 'marketing-analyst']) {
      const body = (await get('/api/v2/customers/C000003/profile', tokens[role])).body;
      expect(check(body), `${role}: ${ajv.errorsText(check.errors)}`).toBe(true);
    }
    const transactions = ajv.compile(document.paths['/api/v1/customers/{id}/transactions']!.get.responses['200']!.content!['application/json'].schema);
    const page = (await get('/api/v1/customers/C000003/transactions?first=3', tokens.admin)).body;
    expect(transactions(page), ajv.errorsText(transactions.errors)).toBe(true);
    const errorSchema = ajv.compile({ ...(document as unknown as { components: { schemas: { Error: object } } }).components.schemas.Error });
    expect(errorSchema((await get('/api/v2/customers/C999999/profile', tokens.admin)).body)).toBe(true);
    expect(errorSchema((await get('/api/v2/customers/C000003/profile', tokens.auditor)).body)).toBe(true);
  });
});

describe('usage records the routes like any operation', () => {
  it("per-field usage carries the route's requests under the caller's client name", async () => {
    for (let i = 0; i < 3; i += 1) {
      const answer = await get('/api/v2/customers/C000004/profile', tokens['sales-manager'], { 'apollographql-client-name': 'rest-usage-probe', 'apollographql-client-version': '1.2' });
      expect(answer.status).toBe(200);
    }
    await stack.gateway.flushUsage();
    const usage = await postGraphQL<{ fieldUsage: { coordinate: string; requests: number; clients: { name: string; version: string | null; requests: number }[] }[] }>(
      stack.url,
      'query ($client: String) { fieldUsage(product: "customer", client: $client) { coordinate requests clients { name version requests } } }',
      { token: tokens['data-product-owner']!, variables: { client: 'rest-usage-probe' } },
    );
    expect(usage.body.errors).toBeUndefined();
    const rows = new Map(usage.body.data!.fieldUsage.map((r) => [r.coordinate, r]));
    for (const coordinate of ['Query.customer', 'Customer.email', 'Customer.segments', 'Segment.name']) {
      expect(rows.get(coordinate), coordinate).toEqual({ coordinate, requests: 3, clients: [{ name: 'rest-usage-probe', version: '1.2', requests: 3 }] });
    }
    // Fields the route does not select are not counted for it.
    expect(rows.get('Customer.fullName')?.requests ?? 0).toBe(0);
  });
});

describe('the catalogue lists each product contracts, versioned', () => {
  it('GraphQL root fields and types, REST routes, event subjects', async () => {
    const result = await postGraphQL<{ dataProducts: { name: string; version: string; contracts: { graphql: { version: string; rootFields: string[]; types: string[] }; rest: Record<string, unknown>[]; events: Record<string, unknown>[] } }[] }>(
      stack.url,
      '{ dataProducts(first: 5) { name version contracts { graphql { version rootFields types } rest { method path version operationName description available } events { subject name version description } } } }',
      { token: tokens['data-scientist']! },
    );
    expect(result.body.errors).toBeUndefined();
    const byName = new Map(result.body.data!.dataProducts.map((p) => [p.name, p]));
    const customer = byName.get('customer')!;
    const finance = byName.get('finance')!;
    expect(customer.contracts.graphql.version).toBe(customer.version);
    expect(customer.contracts.graphql.rootFields).toEqual(expect.arrayContaining(['Query.customer', 'Query.customers']));
    expect(customer.contracts.graphql.types).toEqual(expect.arrayContaining(['ChurnRisk', 'Customer', 'Segment']));
    expect(finance.contracts.graphql.rootFields).toEqual(expect.arrayContaining(['Query.transaction', 'Query.transactions']));
    expect(finance.contracts.graphql.rootFields).not.toContain('Query.customer');
    expect(customer.contracts.rest).toEqual([
      { method: 'GET', path: '/api/v2/customers/{id}/profile', version: '2.0.0', operationName: 'CustomerProfile', description: expect.any(String), available: true },
      { method: 'GET', path: '/api/v1/customers/{id}/legacy-name', version: '1.0.0', operationName: 'LegacyCustomerName', description: expect.any(String), available: true },
      { method: 'GET', path: '/api/v1/customers/{id}/nickname', version: '1.0.0', operationName: 'CustomerNickname', description: expect.any(String), available: false },
    ]);
    expect(finance.contracts.rest).toEqual([{ method: 'GET', path: '/api/v1/customers/{id}/transactions', version: '1.0.0', operationName: 'CustomerTransactions', description: expect.any(String), available: true }]);
    expect(customer.contracts.events).toEqual([{ subject: 'dpg.customer.segment-changed.v1', name: 'SegmentChanged', version: '1.0.0', description: "A customer's segment membership changed." }]);
    expect(finance.contracts.events).toEqual([{ subject: 'dpg.finance.transaction-created.v1', name: 'TransactionCreated', version: '1.0.0', description: 'A transaction was recorded.' }]);
    expect(byName.get('product')!.contracts.events).toEqual([]);
  });
});

describe('route declarations are checked at start', () => {
  const file = 'schema/rest/x.yaml';
  const route = (overrides: Record<string, unknown>) => ({
    product: 'customer',
    routes: [{ name: 'CustomerProfile', path: '/api/v2/customers/{id}/profile', version: '2.0.0', description: 'One customer profile.', operation: 'query CustomerProfile($id: ID!) { customer(id: $id) { id } }', ...overrides }],
  });
  const refusal = (raw: unknown) => {
    try {
      parseRestRoutes(raw, file);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('accepted');
  };

  it('the shipped files declare the two routes', () => {
    expect(loadRestRoutes('schema/rest').map((r) => `${r.method} ${r.path} ${r.name} ${r.version}`)).toEqual([
      'GET /api/v2/customers/{id}/profile CustomerProfile 2.0.0',
      'GET /api/v1/customers/{id}/transactions CustomerTransactions 1.0.0',
    ]);
  });

  it.each([
    [{ path: '/api/v2/customers/{customerId}/profile' }, 'the operation has no variable $customerId for this path parameter'],
    [{ operation: 'query CustomerProfile($id: ID!, $first: Int!) { customer(id: $id) { id } }' }, '$first is required but no path or query parameter sets it'],
    [{ operation: 'mutation CustomerProfile($id: ID!) { customer(id: $id) { id } }' }, 'only queries may be routes'],
    [{ operation: 'query Other($id: ID!) { customer(id: $id) { id } }' }, 'must be named CustomerProfile'],
    [{ operation: 'query CustomerProfile($id: ID!) { customer(id: $id) { id ' }, 'does not parse'],
    [{ operation: 'query CustomerProfile($id: ID!) { customer(id: $id) { id } customers { id } }' }, 'several root fields'],
    [{ path: '/api/v2/customers/{id}/{id}' }, '{id} appears twice'],
    [{ path: '/v2/customers/{id}' }, 'REST views live under /api/'],
    [{ path: '/api/v2/customers/{id}/pro file' }, 'neither literal text'],
    [{ version: 'two' }, 'a semantic version'],
    [{ parameters: { id: { pattern: '(' } } }, 'a valid regular expression'],
    [{ operation: 'query CustomerProfile($id: [ID!]!) { customers(ids: $id) { id } }' }, 'is a list'],
  ])('%j is refused: %s', (overrides, problem) => {
    expect(refusal(route(overrides))).toContain(problem);
  });

  it('two routes with one path shape, or one operation name, across files are refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpg-rest-clash-'));
    writeFileSync(join(dir, 'a.yaml'), JSON.stringify(route({})));
    writeFileSync(join(dir, 'b.yaml'), JSON.stringify(route({ path: '/api/v2/customers/{other}/profile', parameters: { other: { variable: 'id' } } })));
    expect(() => loadRestRoutes(dir)).toThrow(/is the same path as CustomerProfile[\s\S]*operation name is already used/);
  });

  it('a missing directory declares no routes; an unreadable file names itself', () => {
    expect(loadRestRoutes(join(tmpdir(), 'dpg-no-such-dir-rest'))).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'dpg-rest-bad-'));
    writeFileSync(join(dir, 'bad.yaml'), 'product: [');
    expect(() => loadRestRoutes(dir)).toThrow(ConfigError);
    expect(() => loadRestRoutes(dir)).toThrow(/bad\.yaml: not valid YAML/);
  });
});

describe('routes follow the supergraph served (hot reload)', () => {
  it('a route that did not validate binds once a supergraph has its field, and stops again when it is gone; the others serve throughout', async () => {
    const customerType = /^type Customer\n(?:  @[^\n]*\n)*\{\n/m;
    expect(SUPERGRAPH).toMatch(customerType);
    const withNickname = SUPERGRAPH.replace(customerType, (head) => `${head}  nickname: String @join__field(graph: CUSTOMER)\n`);
    writeFileSync(supergraphFile, withNickname);
    expect(await stack.gateway.reloadSupergraph()).toMatchObject({ outcome: 'applied' });
    expect(stack.gateway.rest.routes().find((b) => b.route.name === 'CustomerNickname')?.state).toBe('ready');
    const document = (await get('/api/openapi.json')).body as { paths: Record<string, unknown>; info: { version: string } };
    expect(Object.keys(document.paths)).toContain('/api/v1/customers/{id}/nickname');
    expect(document.info.version).toBe(stack.gateway.supergraphHash());
    expect((await get('/api/v2/customers/C000003/profile', tokens.admin)).status).toBe(200);

    writeFileSync(supergraphFile, SUPERGRAPH);
    expect(await stack.gateway.reloadSupergraph()).toMatchObject({ outcome: 'applied' });
    expect(stack.gateway.rest.routes().find((b) => b.route.name === 'CustomerNickname')?.state).toBe('invalid');
    expect((await get('/api/v1/customers/C000003/nickname', tokens.admin)).status).toBe(503);
    expect(Object.keys(((await get('/api/openapi.json')).body as { paths: Record<string, unknown> }).paths)).not.toContain('/api/v1/customers/{id}/nickname');
    expect((await get('/api/v2/customers/C000003/profile', tokens.admin)).status).toBe(200);
  });
});

describe('the REST answer of a GraphQL response (rest/respond.ts)', () => {
  const executed = (body: unknown, status = 200) => ({ status, headers: new HeaderMap(), body: JSON.stringify(body) });
  const user = { kind: 'authenticated' } as Principal;

  it('never puts text a data product chose into a header: malformed coordinates and path elements are left out', () => {
    const answer = restResponse(
      executed({
        data: { customer: { id: 'C000001', email: null, tags: null } },
        errors: [
          { message: 'x', path: ['customer', 'email'], extensions: { code: 'FORBIDDEN', coordinate: 'Customer.email"\r\nSet-Cookie: a=b' } },
          { message: 'y', path: ['customer', 'ta"gs\n'], extensions: { code: 'SUBGRAPH_ERROR', coordinate: 'Customer.tags' } },
          { message: 'z', path: ['customer', 'x'], extensions: { code: 'MADE_UP' } },
        ],
      }),
      ['customer'],
      user,
    );
    expect(answer.status).toBe(200);
    expect(answer.headers['dpg-field-errors']).toBe('"FORBIDDEN";pointer="/email", "SUBGRAPH_ERROR";coordinate="Customer.tags", "INTERNAL_SERVER_ERROR";pointer="/x"');
    expect(answer.headers['dpg-field-error-count']).toBe('3');
  });

  it('lists at most 20 field errors in the header, counting them all', () => {
    const errors = Array.from({ length: 50 }, (_, i) => ({ message: 'denied', path: ['customers', i, 'email'], extensions: { code: 'FORBIDDEN', coordinate: 'Customer.email' } }));
    const answer = restResponse(executed({ data: { customers: Array.from({ length: 50 }, () => ({ email: null })) }, errors }), ['customers'], user);
    expect(answer.headers['dpg-field-errors']!.split(', ')).toHaveLength(MAX_LISTED_FIELD_ERRORS);
    expect(answer.headers['dpg-field-error-count']).toBe('50');
  });

  it('a null answer takes the status of the error that nulled it, an unknown code 500 with a fixed message; a body that is not JSON is 500', () => {
    const failed = restResponse(executed({ data: { customer: null }, errors: [{ message: 'down', path: ['customer'], extensions: { code: 'SUBGRAPH_UNAVAILABLE', service: 'customer' } }] }), ['customer'], user);
    expect(failed.status).toBe(502);
    expect(JSON.parse(failed.body)).toMatchObject({ error: { code: 'SUBGRAPH_UNAVAILABLE' } });
    const unknown = restResponse(executed({ data: null, errors: [{ message: 'secret detail', extensions: { code: 'WHATEVER' } }] }), ['customer'], user);
    expect(unknown.status).toBe(500);
    expect(JSON.parse(unknown.body).error).toEqual({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
    expect(restResponse({ status: 200, headers: new HeaderMap(), body: '<html>' }, ['customer'], user).status).toBe(500);
  });
});
