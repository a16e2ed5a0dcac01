import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isObjectType, type GraphQLSchema } from 'graphql';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { takeOverAuthorization } from '../gateway/authz/takeover.js';
import { ApolloGateway } from '@apollo/gateway';
import { createLogger } from '../lib/logger.js';
import { fieldRequirements, isEmptyRequirement } from '../lib/requirements.js';
import { postGraphQL, type GraphQLResult } from './helpers/http.js';
import { gatewayEnv, startStack, SUPERGRAPH_FILE, tokenFor, type Stack } from './helpers/stack.js';

/*
 * The role x field matrix: every role of policies/access.yaml (and anonymous) against every field
 * the supergraph protects. Expectations come from the human-edited files read independently here
 * (the YAML and the table below), not from the gateway's own checking code.
 */

interface Access {
  scopes: Record<string, string>;
  roles: Record<string, string[]>;
  policies: Record<string, { anyOf: { roles?: string[]; scopes?: string[] }[] }>;
  treatments?: Record<string, Record<string, string>>;
}
const access = parseYaml(readFileSync(new URL('../policies/access.yaml', import.meta.url), 'utf8')) as Access;

/** What each protected field needs, as schema/*.graphql declares it (directly or through its return type). */
type Need = { scopes: string[] } | { policy: string } | { authenticated: true };
const NEEDS: Record<string, Need> = {
  'Query.customer': { scopes: ['customer:read'] },
  'Query.customers': { scopes: ['customer:read'] },
  'Query.transaction': { scopes: ['finance:read'] },
  'Query.transactions': { scopes: ['finance:read'] },
  'Query.loanRiskAssessment': { scopes: ['risk:read'] },
  'Query.loanRiskAssessments': { scopes: ['risk:read'] },
  'Query.product': { authenticated: true },
  'Query.products': { authenticated: true },
  'Customer.name': { scopes: ['customer:pii'] },
  'Customer.firstName': { scopes: ['customer:pii'] },
  'Customer.lastName': { scopes: ['customer:pii'] },
  'Customer.fullName': { scopes: ['customer:pii'] },
  'Customer.email': { scopes: ['customer:pii'] },
  'Customer.phone': { scopes: ['customer:pii'] },
  'Customer.transactions': { scopes: ['finance:read'] },
  'Customer.lifetimeValue': { scopes: ['finance:read'] },
  'Customer.loanRiskAssessments': { scopes: ['risk:read'] },
  'Product.revenue': { scopes: ['finance:read'] },
  'Product.unitsSold': { scopes: ['finance:read'] },
  'Product.inventory': { scopes: ['product:read'] },
  'Transaction.customer': { scopes: ['customer:read'] },
  'Transaction.product': { authenticated: true },
  'LineItem.product': { authenticated: true },
  'LoanRiskAssessment.customer': { scopes: ['customer:read'] },
  'LoanRiskAssessment.keyFactors': { policy: 'risk-model-explanations' },
  'Query.usageProducts': { scopes: ['usage:read'] },
  'Query.fieldUsage': { scopes: ['usage:read'] },
  'Query.fieldUsageSeries': { scopes: ['usage:read'] },
  'Query.fieldOperations': { scopes: ['usage:read'] },
  'Query.dataProducts': { authenticated: true },
  'Query.dataProduct': { authenticated: true },
  'Query.accessAudit': { scopes: ['audit:read'] },
  'Query.myAccess': { authenticated: true },
};

/** A query reaching each protected field; `chain` lists the guarded fields on the way, outermost first. */
const C = 'customer(id: "C000001")';
const PROBES: Record<string, { query: string; chain: [string[], string][] }> = {
  'Query.customer': { query: `{ ${C} { id } }`, chain: [[['customer'], 'Query.customer']] },
  'Query.customers': { query: '{ customers(first: 1) { id } }', chain: [[['customers'], 'Query.customers']] },
  'Query.transaction': { query: '{ transaction(id: "T0000001") { id } }', chain: [[['transaction'], 'Query.transaction']] },
  'Query.transactions': { query: '{ transactions(first: 1) { id } }', chain: [[['transactions'], 'Query.transactions']] },
  'Query.loanRiskAssessment': { query: '{ loanRiskAssessment(applicationId: "LA000001") { riskScore } }', chain: [[['loanRiskAssessment'], 'Query.loanRiskAssessment']] },
  'Query.loanRiskAssessments': { query: '{ loanRiskAssessments(first: 1) { riskScore } }', chain: [[['loanRiskAssessments'], 'Query.loanRiskAssessments']] },
  'Query.product': { query: '{ product(sku: "SKU-0001") { sku } }', chain: [[['product'], 'Query.product']] },
  'Query.products': { query: '{ products(first: 1) { sku } }', chain: [[['products'], 'Query.products']] },
  ...Object.fromEntries(
    ['name', 'firstName', 'lastName', 'fullName', 'email', 'phone'].map((f) => [
      `Customer.${f}`,
      { query: `{ ${C} { id ${f} } }`, chain: [[['customer'], 'Query.customer'], [['customer', f], `Customer.${f}`]] as [string[], string][] },
    ]),
  ),
  'Customer.transactions': { query: `{ ${C} { transactions(first: 1) { id } } }`, chain: [[['customer'], 'Query.customer'], [['customer', 'transactions'], 'Customer.transactions']] },
  'Customer.lifetimeValue': { query: `{ ${C} { lifetimeValue { amount } } }`, chain: [[['customer'], 'Query.customer'], [['customer', 'lifetimeValue'], 'Customer.lifetimeValue']] },
  'Customer.loanRiskAssessments': { query: `{ ${C} { loanRiskAssessments { riskScore } } }`, chain: [[['customer'], 'Query.customer'], [['customer', 'loanRiskAssessments'], 'Customer.loanRiskAssessments']] },
  'Product.revenue': { query: '{ product(sku: "SKU-0001") { name revenue } }', chain: [[['product'], 'Query.product'], [['product', 'revenue'], 'Product.revenue']] },
  'Product.unitsSold': { query: '{ product(sku: "SKU-0001") { name unitsSold } }', chain: [[['product'], 'Query.product'], [['product', 'unitsSold'], 'Product.unitsSold']] },
  'Product.inventory': { query: '{ product(sku: "SKU-0001") { name inventory { quantity } } }', chain: [[['product'], 'Query.product'], [['product', 'inventory'], 'Product.inventory']] },
  'Transaction.customer': { query: '{ transaction(id: "T0000001") { id customer { id } } }', chain: [[['transaction'], 'Query.transaction'], [['transaction', 'customer'], 'Transaction.customer']] },
  'Transaction.product': { query: '{ transaction(id: "T0000001") { id product { sku } } }', chain: [[['transaction'], 'Query.transaction'], [['transaction', 'product'], 'Transaction.product']] },
  'LineItem.product': { query: '{ transaction(id: "T0000001") { id lineItems { product { sku } } } }', chain: [[['transaction'], 'Query.transaction'], [['transaction', 'lineItems', 'product'], 'LineItem.product']] },
  'LoanRiskAssessment.customer': { query: '{ loanRiskAssessments(first: 1) { riskScore customer { id } } }', chain: [[['loanRiskAssessments'], 'Query.loanRiskAssessments'], [['loanRiskAssessments', 'customer'], 'LoanRiskAssessment.customer']] },
  'LoanRiskAssessment.keyFactors': { query: '{ loanRiskAssessments(first: 1) { riskScore keyFactors { name } } }', chain: [[['loanRiskAssessments'], 'Query.loanRiskAssessments'], [['loanRiskAssessments', 'keyFactors'], 'LoanRiskAssessment.keyFactors']] },
  'Query.usageProducts': { query: '{ usageProducts }', chain: [[['usageProducts'], 'Query.usageProducts']] },
  'Query.fieldUsage': { query: '{ fieldUsage(product: "customer") { coordinate requests } }', chain: [[['fieldUsage'], 'Query.fieldUsage']] },
  'Query.fieldUsageSeries': { query: '{ fieldUsageSeries(coordinate: "Customer.id") { hour requests } }', chain: [[['fieldUsageSeries'], 'Query.fieldUsageSeries']] },
  'Query.fieldOperations': { query: '{ fieldOperations(coordinate: "Customer.id") { name } }', chain: [[['fieldOperations'], 'Query.fieldOperations']] },
  'Query.dataProducts': { query: '{ dataProducts { name } }', chain: [[['dataProducts'], 'Query.dataProducts']] },
  'Query.dataProduct': { query: '{ dataProduct(name: "customer") { name } }', chain: [[['dataProduct'], 'Query.dataProduct']] },
  'Query.accessAudit': { query: '{ accessAudit(since: "2026-01-01T00:00:00Z", first: 1) { hasNextPage } }', chain: [[['accessAudit'], 'Query.accessAudit']] },
  'Query.myAccess': { query: '{ myAccess(since: "2026-01-01T00:00:00Z", first: 1) { hasNextPage } }', chain: [[['myAccess'], 'Query.myAccess']] },
};

/** How schema/customer.graphql classifies the personal data fields (`@classification`). */
const CLASSIFIED: Record<string, [level: string, kind: string]> = {
  'Customer.name': ['PII', 'NAME'],
  'Customer.firstName': ['PII', 'NAME'],
  'Customer.lastName': ['PII', 'NAME'],
  'Customer.fullName': ['PII', 'NAME'],
  'Customer.email': ['PII', 'EMAIL'],
  'Customer.phone': ['PII', 'PHONE'],
};

/** A role without a field's scope still reads it (treated) when policies/access.yaml grants a treatment other than denied. */
function treated(role: string | null, coordinate: string): boolean {
  const classification = CLASSIFIED[coordinate];
  if (role === null || !classification) return false;
  const byKey = access.treatments?.[role] ?? {};
  const treatment = byKey[`${classification[0]}.${classification[1]}`] ?? byKey[classification[0]] ?? 'denied';
  return treatment !== 'denied';
}

function allows(role: string | null, need: Need): boolean {
  if (role === null) return false;
  const scopes = new Set(access.roles[role] ?? []);
  if ('authenticated' in need) return true;
  if ('scopes' in need) return need.scopes.every((s) => scopes.has(s));
  return (access.policies[need.policy]?.anyOf ?? []).some((e) => (!e.roles || e.roles.includes(role)) && (!e.scopes || e.scopes.every((s) => scopes.has(s))));
}

function valueAt(data: unknown, path: readonly string[]): unknown {
  let value = data;
  for (const key of path) {
    if (Array.isArray(value)) value = value[0];
    if (value === null || typeof value !== 'object') return value;
    value = (value as Record<string, unknown>)[key];
  }
  return Array.isArray(value) ? value[0] : value;
}

let stack: Stack;
const tokens = new Map<string, string>();
const ROLES = Object.keys(access.roles);

beforeAll(async () => {
  stack = await startStack({ customers: 60 });
  for (const role of ROLES) tokens.set(role, await tokenFor(role));
});
afterAll(async () => {
  await stack?.stop();
});

async function apiSchema(): Promise<GraphQLSchema> {
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  const takeover = takeOverAuthorization(readFileSync(SUPERGRAPH_FILE, 'utf8'));
  const gateway = new ApolloGateway({ supergraphSdl: takeover.gatewaySdl });
  const { schema } = await gateway.load();
  await gateway.stop();
  return schema;
}

describe('role x field matrix', () => {
  it('covers every field the supergraph protects (a new protected field needs a row here)', async () => {
    const schema = await apiSchema();
    const takeover = takeOverAuthorization(readFileSync(SUPERGRAPH_FILE, 'utf8'));
    const requirementOf = fieldRequirements(schema, takeover.requirements);
    const protectedFields: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      // Subscriptions are not HTTP queries: each event runs as the query of its entity
      // (Subscription.transactionCreated as Query.transaction, same requirement), which this
      // matrix covers; test/subscriptions.test.ts checks the events of a denied role.
      if (type === schema.getSubscriptionType()) {
        expect(Object.keys(type.getFields()).map((name) => requirementOf(type, name))).toEqual(Object.keys(type.getFields()).map(() => requirementOf(schema.getQueryType()!, 'transaction')));
        continue;
      }
      for (const field of Object.values(type.getFields())) {
        if (!isEmptyRequirement(requirementOf(type, field.name))) protectedFields.push(`${type.name}.${field.name}`);
      }
    }
    expect(protectedFields.sort()).toEqual(Object.keys(NEEDS).sort());
    expect(Object.keys(PROBES).sort()).toEqual(Object.keys(NEEDS).sort());
  });

  const cases = [...ROLES, null].flatMap((role) => Object.keys(PROBES).map((coordinate) => [role, coordinate] as const));
  it.each(cases)('%s reading %s: data or FORBIDDEN with its path', async (role, coordinate) => {
    const probe = PROBES[coordinate]!;
    const result: GraphQLResult = await postGraphQL(stack.url, probe.query, role ? { token: tokens.get(role)! } : {});
    expect(result.status).toBe(200);
    const firstDenied = probe.chain.find(([, c]) => !allows(role, NEEDS[c]!) && !treated(role, c));
    if (!firstDenied) {
      expect(result.body.errors).toBeUndefined();
      expect(result.body.data).toBeTruthy();
      return;
    }
    const [path, denied] = firstDenied;
    const need = NEEDS[denied]!;
    expect(result.body.errors).toEqual([
      {
        message: expect.any(String),
        path,
        extensions: {
          code: 'FORBIDDEN',
          coordinate: denied,
          ...(role === null
            ? { reason: 'authentication required' }
            : 'scopes' in need
              ? { missingScopes: need.scopes.filter((s) => !(access.roles[role] ?? []).includes(s)) }
              : 'policy' in need
                ? { missingPolicies: [need.policy] }
                : {}),
        },
      },
    ]);
    expect(valueAt(result.body.data, path) ?? null).toBeNull();
    // Never the value: nothing of the denied field's data in the response.
    if (result.body.data) expect(valueAt(result.body.data, path)).toBeNull();
  });
});

describe('the done-when case: one response, data and FORBIDDEN side by side', () => {
  it('marketing-analyst: customer data, FORBIDDEN with paths for finance fields', async () => {
    const result = await postGraphQL(stack.url, '{ customers(first: 2) { id country segments { name } lifetimeValue { amount } transactions(first: 1) { amount } } }', {
      token: tokens.get('marketing-analyst')!,
    });
    expect(result.status).toBe(200);
    expect(result.body.data).toEqual({
      customers: [
        { id: 'C000001', country: expect.any(String), segments: expect.any(Array), lifetimeValue: null, transactions: null },
        { id: 'C000002', country: expect.any(String), segments: expect.any(Array), lifetimeValue: null, transactions: null },
      ],
    });
    expect(result.body.errors).toEqual([
      { message: expect.any(String), path: ['customers', 'lifetimeValue'], extensions: { code: 'FORBIDDEN', coordinate: 'Customer.lifetimeValue', missingScopes: ['finance:read'] } },
      { message: expect.any(String), path: ['customers', 'transactions'], extensions: { code: 'FORBIDDEN', coordinate: 'Customer.transactions', missingScopes: ['finance:read'] } },
    ]);
  });

  it('risk-analyst sees loan risk with its key factors', async () => {
    const result = await postGraphQL<{ loanRiskAssessments: { riskScore: number; keyFactors: { weight: number }[] }[] }>(
      stack.url,
      '{ loanRiskAssessments(first: 3) { applicationId riskScore riskLevel keyFactors { name weight } } }',
      { token: tokens.get('risk-analyst')! },
    );
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data!.loanRiskAssessments).toHaveLength(3);
    for (const a of result.body.data!.loanRiskAssessments) expect(a.keyFactors.length).toBeGreaterThan(0);
  });
});

/** A FORBIDDEN error for a personal-data field read without customer:pii. */
const forbidden = (path: (string | number)[], coordinate: string) => ({
  message: expect.any(String),
  path,
  extensions: { code: 'FORBIDDEN', coordinate, missingScopes: ['customer:pii'] },
});

describe('no bypass', () => {
  const marketing = () => ({ token: tokens.get('marketing-analyst')! });

  it('through aliases: every alias of a denied field is denied, the rest answered', async () => {
    const result = await postGraphQL(stack.url, `{ ${C} { id mail: email other: email } }`, marketing());
    expect(result.body).toEqual({
      data: { customer: { id: 'C000001', mail: null, other: null } },
      errors: [forbidden(['customer', 'mail'], 'Customer.email'), forbidden(['customer', 'other'], 'Customer.email')],
    });
  });

  it('through named, inline and nested fragments', async () => {
    const result = await postGraphQL(
      stack.url,
      `query { ${C} { ...Outer ... on Customer { ... on Customer { phone } } } }
       fragment Outer on Customer { country ...Inner }
       fragment Inner on Customer { email }`,
      marketing(),
    );
    expect(result.body).toEqual({
      data: { customer: { country: expect.any(String), email: null, phone: null } },
      errors: [forbidden(['customer', 'email'], 'Customer.email'), forbidden(['customer', 'phone'], 'Customer.phone')],
    });
  });

  it('through @include/@skip and variables: only what runs is checked, nothing slips through', async () => {
    const query = 'query Q($show: Boolean!, $id: ID!) { customer(id: $id) { id email @include(if: $show) name @skip(if: true) } }';
    const shown = await postGraphQL(stack.url, query, { ...marketing(), variables: { show: true, id: 'C000002' } });
    expect(shown.body).toEqual({ data: { customer: { id: 'C000002', email: null } }, errors: [forbidden(['customer', 'email'], 'Customer.email')] });
    const hidden = await postGraphQL(stack.url, query, { ...marketing(), variables: { show: false, id: 'C000002' } });
    expect(hidden.body).toEqual({ data: { customer: { id: 'C000002' } } });
  });

  it('through __typename: a denied object stays denied', async () => {
    const result = await postGraphQL(stack.url, '{ customers(first: 1) { __typename } }');
    expect(result.body).toEqual({
      data: null,
      errors: [{ message: expect.any(String), path: ['customers'], extensions: { code: 'FORBIDDEN', coordinate: 'Query.customers', reason: 'authentication required' } }],
    });
  });

  it('client-sent identity headers change nothing', async () => {
    const result = await postGraphQL(stack.url, `{ ${C} { email } }`, {
      ...marketing(),
      headers: { 'x-roles': 'admin', 'x-forwarded-user': 'admin', 'x-scopes': 'customer:pii' },
    });
    expect(result.body.errors).toEqual([forbidden(['customer', 'email'], 'Customer.email')]);
  });
});

describe('switches', () => {
  let reject: RunningGateway;
  let closed: RunningGateway;
  const silent = createLogger('test', 'silent');
  beforeAll(async () => {
    reject = await startGateway(loadConfig(gatewayEnv(stack.subgraphUrls, { AUTHZ_MODE: 'reject' })), silent);
    closed = await startGateway(loadConfig(gatewayEnv(stack.subgraphUrls, { ANONYMOUS_INTROSPECTION: 'false' })), silent);
  });
  afterAll(async () => {
    await reject?.stop();
    await closed?.stop();
  });

  it('AUTHZ_MODE=reject refuses the whole operation with 403 and no data', async () => {
    const result = await postGraphQL(reject.url, `{ ${C} { id email } }`, { token: tokens.get('marketing-analyst')! });
    expect(result.status).toBe(403);
    expect(result.body).toEqual({ errors: [forbidden(['customer', 'email'], 'Customer.email')] });
    const allowed = await postGraphQL(reject.url, `{ ${C} { id country } }`, { token: tokens.get('marketing-analyst')! });
    expect(allowed.status).toBe(200);
    expect(allowed.body.errors).toBeUndefined();
  });

  it('anonymous introspection can be switched off; authenticated users may introspect', async () => {
    const anonymous = await postGraphQL(closed.url, '{ __schema { queryType { name } } }');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="data-product-gateway"');
    expect(anonymous.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }] });
    const signedIn = await postGraphQL(closed.url, '{ __schema { queryType { name } } }', { token: tokens.get('marketing-analyst')! });
    expect(signedIn.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });

  it('field suggestions are hidden from clients who may not introspect', async () => {
    const anonymous = await postGraphQL(closed.url, '{ custmer(id: "C000001") { id } }');
    expect(anonymous.status).toBe(400);
    expect(anonymous.body.errors?.[0]?.message).not.toContain('Did you mean');
    const signedIn = await postGraphQL(closed.url, '{ custmer(id: "C000001") { id } }', { token: tokens.get('marketing-analyst')! });
    expect(signedIn.body.errors?.[0]?.message).toContain('Did you mean');
  });
});

describe('the data dictionary names the access rules', () => {
  it('introspection shows what each protected field and type needs', async () => {
    const result = await postGraphQL<{ customer: { fields: { name: string; description: string }[]; description: string } }>(
      stack.url,
      '{ customer: __type(name: "Customer") { description fields { name description } } }',
      { token: tokens.get('marketing-analyst')! },
    );
    const fields = new Map(result.body.data!.customer.fields.map((f) => [f.name, f.description]));
    expect(fields.get('email')).toMatch(/\n\nAccess: reading this field needs scope customer:pii\.$/);
    expect(fields.get('country')).not.toContain('Access:');
    expect(result.body.data!.customer.description).toMatch(/Access: reading this type needs scope customer:read\.$/);
    const loans = await postGraphQL<{ t: { fields: { name: string; description: string }[] } }>(stack.url, '{ t: __type(name: "LoanRiskAssessment") { fields { name description } } }', { token: tokens.get('marketing-analyst')! });
    expect(loans.body.data!.t.fields.find((f) => f.name === 'keyFactors')!.description).toMatch(/Access: reading this field needs policy risk-model-explanations\.$/);
  });
});
