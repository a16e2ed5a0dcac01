import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema, parse } from 'graphql';
import { indexDeprecations, isRefused } from '../gateway/deprecation/index.js';
import { postGraphQL } from './helpers/http.js';
import { startStack, tokenFor, type Stack } from './helpers/stack.js';

/*
 * The customer product's legacy `Customer.fullName` (deprecated since 2026-09-01, sunset
 * 2027-03-31, replaced by Customer.firstName) end to end, with the gateway's clock frozen.
 */
const SINCE = Date.UTC(2026, 8, 1);
const SUNSET = Date.UTC(2027, 2, 31);
let clock = Date.UTC(2026, 10, 21, 12);
let stack: Stack;
let token: string;

beforeAll(async () => {
  stack = await startStack({ customers: 20, now: () => clock });
  token = await tokenFor('sales-manager');
});
afterAll(async () => {
  await stack?.stop();
});

const LEGACY = '{ customer(id: "C000001") { id fullName } }';

describe('before the sunset date', () => {
  it('answers with the data, extensions.deprecations and the Deprecation, Sunset and Link headers', async () => {
    clock = Date.UTC(2026, 10, 21, 12);
    const result = await postGraphQL(stack.url, LEGACY, { token, headers: { 'apollographql-client-name': 'legacy-crm' } });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      data: { customer: { id: 'C000001', fullName: expect.any(String) } },
      extensions: {
        deprecations: [{ coordinate: 'Customer.fullName', reason: 'Use firstName and lastName.', sunset: new Date(SUNSET).toISOString(), replacement: 'Customer.firstName' }],
      },
    });
    expect(result.headers.get('deprecation')).toBe(`@${SINCE / 1000}`);
    expect(result.headers.get('sunset')).toBe('Wed, 31 Mar 2027 00:00:00 GMT');
    expect(result.headers.get('link')).toBe('</deprecations>; rel="deprecation"; type="application/json"');
  });

  it('says nothing to operations that do not use it', async () => {
    const result = await postGraphQL(stack.url, '{ customer(id: "C000001") { firstName } }', { token });
    expect(result.body.extensions).toBeUndefined();
    expect(result.headers.get('deprecation')).toBeNull();
    expect(result.headers.get('sunset')).toBeNull();
  });

  it('publishes the plan at /deprecations', async () => {
    const response = await fetch(stack.url.replace('/graphql', '/deprecations'));
    expect(await response.json()).toEqual({
      deprecations: [
        { coordinate: 'Customer.fullName', reason: 'Use firstName and lastName.', deprecatedSince: new Date(SINCE).toISOString(), sunset: new Date(SUNSET).toISOString(), removedIn: '2.0.0', replacement: 'Customer.firstName', brownouts: [] },
      ],
    });
  });

  it('shows owners which clients still call it', async () => {
    const owner = await tokenFor('data-product-owner');
    type Row = { coordinate: string; deprecated: boolean; clients: { name: string; requests: number }[] };
    // What the legacy client's request recorded reaches the store now.
    await stack.gateway.flushUsage();
    const usage = await postGraphQL<{ fieldUsage: Row[] }>(stack.url, '{ fieldUsage(product: "customer") { coordinate deprecated clients { name requests } } }', { token: owner });
    const row = usage.body.data?.fieldUsage.find((r) => r.coordinate === 'Customer.fullName');
    expect(row).toMatchObject({ deprecated: true, clients: [{ name: 'legacy-crm', requests: 1 }] });
  });
});

describe('after the sunset date', () => {
  it('refuses operations that use it with FIELD_SUNSET naming the replacement, before any subgraph is called', async () => {
    clock = SUNSET + 1;
    for (const db of Object.values(stack.products.dbs)) db.resetCount();
    const result = await postGraphQL(stack.url, LEGACY, { token });
    expect(result.status).toBe(400);
    expect(result.body).toEqual({
      errors: [{ message: expect.stringContaining('Customer.firstName'), extensions: { code: 'FIELD_SUNSET', coordinate: 'Customer.fullName', sunset: new Date(SUNSET).toISOString(), replacement: 'Customer.firstName' } }],
      extensions: { deprecations: [expect.objectContaining({ coordinate: 'Customer.fullName' })] },
    });
    expect(Object.values(stack.products.dbs).map((db) => db.queryCount)).toEqual([0, 0, 0]);
    const replacement = await postGraphQL(stack.url, '{ customer(id: "C000001") { firstName lastName } }', { token });
    expect(replacement.status).toBe(200);
    expect(replacement.body.errors).toBeUndefined();
  });
});

describe('brownouts and plans', () => {
  const supergraph = parse(/* GraphQL */ `
    schema @link(url: "https://specs.apollo.dev/link/v1.0") @link(url: "https://specs.data-product-gateway.dev/lifecycle/v0.1", import: ["@sunset"]) { query: Query }
    type Query {
      old: String @deprecated(reason: "Use new.") @sunset(since: "2026-01-01", date: "2026-06-01", removedIn: "3.0.0", replacement: "Query.new", brownouts: ["2026-05-01T10:00:00Z/2026-05-01T11:00:00Z"])
      new: String
      plain: String @deprecated(reason: "No plan yet.")
    }
  `);
  const api = buildSchema('type Query { old: String @deprecated(reason: "Use new.") new: String plain: String @deprecated(reason: "No plan yet.") }');
  const index = indexDeprecations(supergraph, api);

  it('refuses during a brownout window and after the date, not otherwise', () => {
    const sunset = index.get('Query.old')!.sunset;
    expect(isRefused(sunset, Date.parse('2026-05-01T09:59:59Z'))).toBe(false);
    expect(isRefused(sunset, Date.parse('2026-05-01T10:30:00Z'))).toBe(true);
    expect(isRefused(sunset, Date.parse('2026-05-01T11:00:00Z'))).toBe(false);
    expect(isRefused(sunset, Date.parse('2026-06-01T00:00:00Z'))).toBe(true);
  });

  it('knows deprecations without a plan, which are never refused', () => {
    expect(index.get('Query.plain')).toEqual({ coordinate: 'Query.plain', reason: 'No plan yet.', sunset: undefined });
    expect(isRefused(index.get('Query.plain')!.sunset, Date.parse('2099-01-01T00:00:00Z'))).toBe(false);
    expect(index.get('Query.new')).toBeUndefined();
  });
});
