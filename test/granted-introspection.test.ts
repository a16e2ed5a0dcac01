import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertValidSchema, buildClientSchema, getIntrospectionQuery, isInterfaceType, isObjectType, type GraphQLSchema, type IntrospectionQuery } from 'graphql';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { loadConfig } from '../gateway/config.js';
import { EMPTY_VIEW_FIELD } from '../gateway/authz/granted-schema.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { hashOf } from '../gateway/supergraph.js';
import { createLogger } from '../lib/logger.js';
import { postGraphQL } from './helpers/http.js';
import { gatewayEnv, startStack, SUPERGRAPH_FILE, tokenFor, type Stack } from './helpers/stack.js';

/*
 * Issue 16 item 3, over HTTP: with INTROSPECTION_VIEW=granted introspection answers each caller
 * from the graph its grants may read; INTROSPECTION_VIEW=full (the default, until the sandbox
 * introspects with the caller's token) answers everyone the whole API schema, as before. Views per principal are checked field by field against the enforcement in
 * granted-views.test.ts; here, what a client gets.
 */

let stack: Stack;
let full: RunningGateway;
const tokens = new Map<string, string>();
const silent = createLogger('test', 'silent');
const INTROSPECTION = getIntrospectionQuery();

beforeAll(async () => {
  stack = await startStack({ customers: 20, env: { INTROSPECTION_VIEW: 'granted' } });
  // The default configuration: the full view.
  full = await startGateway(loadConfig(gatewayEnv(stack.subgraphUrls)), silent);
  for (const roles of [['marketing-analyst'], ['admin'], ['admin', 'auditor'], ['data-scientist']]) tokens.set(roles.join('+'), await tokenFor(...roles));
});
afterAll(async () => {
  await full?.stop();
  await stack?.stop();
});

const as = (roles: string) => ({ token: tokens.get(roles)! });

async function introspect(url: string, roles?: string): Promise<{ data: IntrospectionQuery; schema: GraphQLSchema }> {
  const result = await postGraphQL<IntrospectionQuery>(url, INTROSPECTION, roles ? as(roles) : {});
  expect(result.status).toBe(200);
  expect(result.body.errors).toBeUndefined();
  const schema = buildClientSchema(result.body.data!);
  assertValidSchema(schema);
  return { data: result.body.data!, schema };
}

/** `Type.field` of every object and interface type (introspection's own left out), sorted. */
function coordinates(schema: GraphQLSchema): string[] {
  const out: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if ((isObjectType(type) || isInterfaceType(type)) && !type.name.startsWith('__')) for (const field of Object.keys(type.getFields())) out.push(`${type.name}.${field}`);
  }
  return out.sort();
}

/*
 * What marketing-analyst may not read, from policies/access.yaml and schema/*.graphql (the table of
 * authorization.test.ts): personal data (customer:pii, no treatment for the role), finance, risk,
 * usage and the audit trail; and the types only those fields lead to.
 */
const NOT_FOR_MARKETING_FIELDS = [
  'Customer.name', 'Customer.firstName', 'Customer.lastName', 'Customer.fullName', 'Customer.email', 'Customer.phone',
  'Customer.transactions', 'Customer.lifetimeValue', 'Customer.loanRiskAssessments', 'Product.revenue', 'Product.unitsSold',
  'Query.transaction', 'Query.transactions', 'Query.loanRiskAssessment', 'Query.loanRiskAssessments',
  'Query.usageProducts', 'Query.fieldUsage', 'Query.fieldUsageSeries', 'Query.fieldOperations', 'Query.accessAudit',
  // Its events are transactions (finance:read).
  'Subscription.transactionCreated',
];
const NOT_FOR_MARKETING_TYPES = ['AuditRecordConnection', 'ClientUsage', 'FieldUsage', 'OperationClientUsage', 'OperationUsage', 'LineItem', 'LoanRiskAssessment', 'Money', 'RiskFactor', 'Subscription', 'Transaction', 'UsagePoint'];

describe('INTROSPECTION_VIEW=granted', () => {
  it('marketing-analyst: the standard introspection query answers a valid schema with no field the role may not read', async () => {
    const { schema: whole } = await introspect(full.url, 'marketing-analyst');
    const { schema } = await introspect(stack.url, 'marketing-analyst');
    const hidden = new Set([...NOT_FOR_MARKETING_FIELDS, ...coordinates(whole).filter((c) => NOT_FOR_MARKETING_TYPES.includes(c.split('.')[0]!))]);
    expect(coordinates(schema)).toEqual(coordinates(whole).filter((c) => !hidden.has(c)));
    expect(Object.keys(schema.getTypeMap()).sort()).toEqual(Object.keys(whole.getTypeMap()).filter((t) => !NOT_FOR_MARKETING_TYPES.includes(t)).sort());
  });

  it('admin: the full API schema but the audit trail (auditor only); admin with auditor: the full API schema, to the byte', async () => {
    const { data: everything } = await introspect(full.url, 'marketing-analyst');
    expect((await introspect(stack.url, 'admin+auditor')).data).toEqual(everything);
    const { data: admin, schema } = await introspect(stack.url, 'admin');
    expect(coordinates(schema)).toEqual(coordinates(buildClientSchema(everything)).filter((c) => c !== 'Query.accessAudit' && !c.startsWith('AuditRecordConnection.')));
    // Every other type as the full view shows it: descriptions (access, classification), deprecations.
    const byName = new Map(everything.__schema.types.map((t) => [t.name, t]));
    for (const type of admin.__schema.types) if (type.name !== 'Query') expect(type).toEqual(byName.get(type.name));
  });

  it('a hidden type is absent from __type (null, as for a name that does not exist); a visible one lists readable fields only', async () => {
    const result = await postGraphQL(stack.url, '{ loans: __type(name: "LoanRiskAssessment") { name } nope: __type(name: "Nope") { name } customer: __type(name: "Customer") { fields { name } } }', as('marketing-analyst'));
    expect(result.body).toEqual({
      data: { loans: null, nope: null, customer: { fields: ['id', 'country', 'preferredLanguage', 'signupDate', 'status', 'segments', 'churnRisk'].map((name) => ({ name })) } },
    });
  });

  it('data-scientist sees fields it reads treated, with their classification, access rule and deprecation', async () => {
    const result = await postGraphQL<{ t: { fields: { name: string; description: string; isDeprecated: boolean }[] } }>(
      stack.url,
      '{ t: __type(name: "Customer") { fields(includeDeprecated: true) { name description isDeprecated } } }',
      as('data-scientist'),
    );
    const fields = new Map(result.body.data!.t.fields.map((f) => [f.name, f]));
    expect(fields.get('email')).toEqual({ name: 'email', description: expect.stringMatching(/\n\nClassification: PII \(EMAIL\)\.\n\nAccess: reading this field needs scope customer:pii\.$/), isDeprecated: false });
    expect(fields.get('fullName')).toMatchObject({ isDeprecated: true });
    expect([...fields.keys()]).toContain('lifetimeValue');
  });

  it('mixed with data: introspection from the view, data planned as always (FORBIDDEN and all), root keys in the order asked', async () => {
    const query = 'query Q($type: String!) { customers(first: 2) { id email } t: __type(name: $type) { name } __typename }';
    const hidden = await postGraphQL(stack.url, query, { ...as('marketing-analyst'), variables: { type: 'Transaction' } });
    expect(hidden.body).toEqual({
      data: { customers: [{ id: 'C000001', email: null }, { id: 'C000002', email: null }], t: null, __typename: 'Query' },
      errors: [{ message: expect.any(String), path: ['customers', 'email'], extensions: { code: 'FORBIDDEN', coordinate: 'Customer.email', missingScopes: ['customer:pii'] } }],
    });
    expect(Object.keys(hidden.body.data!)).toEqual(['customers', 't', '__typename']);
    const shown = await postGraphQL(stack.url, '{ t: __type(name: "Segment") { name } customer(id: "C000003") { id country } }', as('marketing-analyst'));
    expect(shown.body).toEqual({ data: { t: { name: 'Segment' }, customer: { id: 'C000003', country: expect.any(String) } } });
    expect(Object.keys(shown.body.data!)).toEqual(['t', 'customer']);
  });

  it('through fragments and @include at the root', async () => {
    const query = `query Q($more: Boolean!) { ...Root ... on Query @include(if: $more) { money: __type(name: "Money") { name } } }
      fragment Root on Query { __schema { queryType { name } } }`;
    const result = await postGraphQL(stack.url, query, { ...as('marketing-analyst'), variables: { more: true } });
    expect(result.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } }, money: null } });
    const less = await postGraphQL(stack.url, query, { ...as('marketing-analyst'), variables: { more: false } });
    expect(less.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });

  it('anonymous callers (where they may introspect) get a valid schema that says there is nothing for them', async () => {
    const result = await postGraphQL(stack.url, '{ __schema { queryType { fields { name } } } }');
    expect(result.body).toEqual({ data: { __schema: { queryType: { fields: [{ name: EMPTY_VIEW_FIELD }] } } } });
    await introspect(stack.url);
    // It stands in for fields; it is not one.
    const asked = await postGraphQL(stack.url, `{ ${EMPTY_VIEW_FIELD} }`);
    expect(asked.status).toBe(400);
    expect(asked.body).toEqual({ errors: [{ message: expect.any(String), locations: expect.any(Array), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
  });

  it('is priced as the full schema answers it, an upper bound of every view', async () => {
    const remainingCost = (headers: Headers) => Number(/"cost";r=(\d+)/.exec(headers.get('ratelimit') ?? '')?.[1]);
    const query = '{ __schema { types { name fields { name } } } }';
    // A caller of its own: nothing else spends from its budget meanwhile.
    const token = await mintDevToken({ roles: ['marketing-analyst'], subject: 'granted-introspection-price' });
    const before = remainingCost((await postGraphQL(stack.url, '{ __typename }', { token })).headers);
    const granted = await postGraphQL<{ __schema: { types: { fields: unknown[] | null }[] } }>(stack.url, query, { token });
    const whole = await postGraphQL<{ __schema: { types: { fields: unknown[] | null }[] } }>(full.url, query, as('marketing-analyst'));
    const objects = (data: { __schema: { types: { fields: unknown[] | null }[] } }) => 1 + data.__schema.types.reduce((n, t) => n + 1 + (t.fields?.length ?? 0), 0);
    expect(before - remainingCost(granted.headers)).toBe(objects(whole.body.data!));
    expect(objects(granted.body.data!)).toBeLessThan(objects(whole.body.data!));
  });
});

describe('views and supergraph reloads', () => {
  it('are rebuilt from each new supergraph: a field that gains a rule leaves the views of those who miss it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dpg-granted-')), 'supergraph.graphql');
    const sdl = readFileSync(SUPERGRAPH_FILE, 'utf8');
    const country = 'country: String! @join__field(graph: CUSTOMER)';
    expect(sdl).toContain(country);
    writeFileSync(file, sdl);
    const gateway = await startGateway(loadConfig(gatewayEnv(stack.subgraphUrls, { SUPERGRAPH: file, SUPERGRAPH_POLL_MS: '0', INTROSPECTION_VIEW: 'granted' })), silent);
    try {
      const customerFields = async () => (await postGraphQL(gateway.url, '{ t: __type(name: "Customer") { fields { name } } }', as('marketing-analyst'))).body;
      const shape = (names: string[]) => ({ data: { t: { fields: names.map((name) => ({ name })) } } });
      expect(await customerFields()).toEqual(shape(['id', 'country', 'preferredLanguage', 'signupDate', 'status', 'segments', 'churnRisk']));
      writeFileSync(file, sdl.replace(country, `${country} @requiresScopes(scopes: [["customer:pii"]])`));
      expect(['applied', 'unchanged']).toContain((await gateway.reloadSupergraph()).outcome);
      expect(gateway.supergraphHash()).not.toBe(hashOf(sdl));
      expect(await customerFields()).toEqual(shape(['id', 'preferredLanguage', 'signupDate', 'status', 'segments', 'churnRisk']));
    } finally {
      await gateway.stop();
    }
  });
});

describe('INTROSPECTION_VIEW=full, the default', () => {
  it('is the default; another value stops the gateway naming the key', () => {
    expect(loadConfig(gatewayEnv(stack.subgraphUrls)).authorization.introspectionView).toBe('full');
    expect(loadConfig(gatewayEnv(stack.subgraphUrls, { INTROSPECTION_VIEW: 'granted' })).authorization.introspectionView).toBe('granted');
    expect(() => loadConfig(gatewayEnv(stack.subgraphUrls, { INTROSPECTION_VIEW: 'partial' }))).toThrow(/INTROSPECTION_VIEW/);
  });

  it('answers every caller the whole API schema, as before, with each rule in the descriptions', async () => {
    const { data: marketing } = await introspect(full.url, 'marketing-analyst');
    expect((await introspect(full.url, 'admin')).data).toEqual(marketing);
    const customer = marketing.__schema.types.find((t) => t.name === 'Customer');
    const email = customer && 'fields' in customer ? customer.fields.find((f) => f.name === 'email') : undefined;
    expect(email?.description).toMatch(/\n\nAccess: reading this field needs scope customer:pii\.$/);
  });
});
