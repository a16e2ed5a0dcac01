import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import type { AuditGate } from '../lib/classification/model.js';
import { DEVELOPMENT_PSEUDONYM_KEY } from '../lib/classification/pseudonym.js';
import { devKeyPair } from '../lib/dev-keys.js';
import { createIdentitySigner, subgraphAudience } from '../lib/internal-token.js';
import { createLogger } from '../lib/logger.js';
import type { Principal } from '../lib/principal.js';
import { postGraphQL } from './helpers/http.js';
import { gatewayEnv, startStack, tokenFor, type Stack } from './helpers/stack.js';

/*
 * Issue 15, done-when: per role, the same query returns clear, masked, pseudonymized or denied
 * values exactly as policies/access.yaml says, through aliases, fragments, lists and entities.
 * Expected values are computed here from the clear values an admin reads, with the rules written
 * out independently of lib/classification (HMAC by node:crypto, masks by hand).
 */

const silent = createLogger('test', 'silent');
const KEY_1 = Buffer.alloc(32, 1);
const KEY_2 = Buffer.alloc(32, 2);

const pseudonym = (key: Buffer, value: string) => `pse_${createHmac('sha256', key).update(value).digest().subarray(0, 16).toString('base64url')}`;
/** `+81 281 5935858` -> `+81 ****** 858`: the seeded phones are `+<code> <3 digits> <7 digits>`. */
const maskedPhone = (phone: string | null) => (phone === null ? null : `${phone.split(' ')[0]} ****** ${phone.slice(-3)}`);
const initials = (name: string) => name.split(' ').map((w) => `${w[0]}.`).join(' ');

interface Person {
  id: string;
  name: string;
  firstName: string;
  lastName: string;
  email: string;
  phone: string | null;
  country: string;
}
const PERSON = 'id name firstName lastName email phone country';
const ONE = `{ customer(id: "C000003") { ${PERSON} } }`;

let stack: Stack;
const tokens: Record<string, string> = {};
let clear: Person;

beforeAll(async () => {
  stack = await startStack({ customers: 30 });
  for (const role of ['admin', 'sales-manager', 'customer-success-agent', 'data-scientist', 'marketing-analyst', 'risk-analyst']) tokens[role] = await tokenFor(role);
  tokens['data-scientist+marketing-analyst'] = await tokenFor('data-scientist', 'marketing-analyst');
  const read = await postGraphQL<{ customer: Person }>(stack.url, ONE, { token: tokens.admin! });
  clear = read.body.data!.customer;
  // The masks below assume a phone; the seed gives C000003 one (a test reading another customer would say so here).
  expect(clear.phone).toMatch(/^\+\d{1,3} \d{3} \d{7}$/);
});
afterAll(async () => {
  await stack?.stop();
});

const scientistView = (p: Person, key = DEVELOPMENT_PSEUDONYM_KEY) => ({
  id: p.id,
  name: initials(p.name),
  firstName: initials(p.firstName),
  lastName: initials(p.lastName),
  email: pseudonym(key, p.email),
  phone: maskedPhone(p.phone),
  country: p.country,
});

const forbidden = (path: (string | number)[], coordinate: string) => ({
  message: expect.any(String),
  path,
  extensions: { code: 'FORBIDDEN', coordinate, missingScopes: ['customer:pii'] },
});

describe('one query, every role', () => {
  it.each(['admin', 'sales-manager', 'customer-success-agent'])('%s (holds customer:pii) reads every field clear', async (role) => {
    const result = await postGraphQL(stack.url, ONE, { token: tokens[role]! });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ data: { customer: clear } });
  });

  it('data-scientist: email pseudonymized, phone masked, names masked to initials, the rest clear; the key id named', async () => {
    const result = await postGraphQL(stack.url, ONE, { token: tokens['data-scientist']! });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ data: { customer: scientistView(clear) }, extensions: { pseudonymKeyId: 'development' } });
    expect(JSON.stringify(result.body)).not.toContain(clear.email);
    expect(JSON.stringify(result.body)).not.toContain(clear.lastName);
  });

  it.each(['marketing-analyst', 'risk-analyst'])('%s: personal data denied as before (FORBIDDEN and null), the rest answers', async (role) => {
    const result = await postGraphQL(stack.url, ONE, { token: tokens[role]! });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      data: { customer: { id: clear.id, name: null, firstName: null, lastName: null, email: null, phone: null, country: clear.country } },
      errors: ['name', 'firstName', 'lastName', 'email', 'phone'].map((f) => forbidden(['customer', f], `Customer.${f}`)),
    });
  });

  it('several roles: the most revealing treatment any of them grants', async () => {
    const result = await postGraphQL(stack.url, ONE, { token: tokens['data-scientist+marketing-analyst']! });
    expect(result.body).toEqual({ data: { customer: scientistView(clear) }, extensions: { pseudonymKeyId: 'development' } });
  });

  it('a query without pseudonymized fields carries no key id; one without classified fields is untouched', async () => {
    const masked = await postGraphQL(stack.url, '{ customer(id: "C000003") { phone } }', { token: tokens['data-scientist']! });
    expect(masked.body).toEqual({ data: { customer: { phone: maskedPhone(clear.phone) } } });
    const plain = await postGraphQL(stack.url, '{ customer(id: "C000003") { id status } }', { token: tokens['data-scientist']! });
    expect(plain.body).toEqual({ data: { customer: { id: 'C000003', status: expect.any(String) } } });
  });
});

describe('through every shape of operation (data-scientist)', () => {
  const scientist = () => ({ token: tokens['data-scientist']! });

  it('aliases, named, inline and nested fragments, @include', async () => {
    const result = await postGraphQL(
      stack.url,
      `query Q($yes: Boolean = true) { c: customer(id: "C000003") { ...Outer mail: email other: email @include(if: $yes) ... on Customer { ... on Customer { tel: phone } } } }
       fragment Outer on Customer { country ...Inner }
       fragment Inner on Customer { email who: name }`,
      scientist(),
    );
    const view = scientistView(clear);
    expect(result.body).toEqual({
      data: { c: { country: clear.country, email: view.email, who: view.name, mail: view.email, other: view.email, tel: view.phone } },
      extensions: { pseudonymKeyId: 'development' },
    });
  });

  it('lists: every customer of a page, compared with what an admin reads', async () => {
    const query = `{ customers(first: 30) { ${PERSON} } }`;
    const admin = await postGraphQL<{ customers: Person[] }>(stack.url, query, { token: tokens.admin! });
    const result = await postGraphQL(stack.url, query, scientist());
    expect(result.body).toEqual({ data: { customers: admin.body.data!.customers.map((p) => scientistView(p)) }, extensions: { pseudonymKeyId: 'development' } });
    // Some seeded customers gave no phone: null stays null.
    expect(admin.body.data!.customers.some((p) => p.phone === null)).toBe(true);
  });

  it('entities across data products: a finance transaction\'s customer, resolved by the customer product', async () => {
    const query = '{ transactions(first: 5) { id customer { id email phone } } }';
    const admin = await postGraphQL<{ transactions: { id: string; customer: Person }[] }>(stack.url, query, { token: tokens.admin! });
    const result = await postGraphQL(stack.url, query, scientist());
    expect(result.body).toEqual({
      data: {
        transactions: admin.body.data!.transactions.map((t) => ({ id: t.id, customer: { id: t.customer.id, email: pseudonym(DEVELOPMENT_PSEUDONYM_KEY, t.customer.email), phone: maskedPhone(t.customer.phone) } })),
      },
      extensions: { pseudonymKeyId: 'development' },
    });
  });

  it('treated and denied side by side: the denied field removed and reported, the treated one treated', async () => {
    const result = await postGraphQL(stack.url, '{ customer(id: "C000003") { email } loanRiskAssessments(first: 1) { riskScore keyFactors { name } } }', scientist());
    expect(result.body).toEqual({
      data: { customer: { email: scientistView(clear).email }, loanRiskAssessments: [{ riskScore: expect.any(Number), keyFactors: null }] },
      errors: [{ message: expect.any(String), path: ['loanRiskAssessments', 'keyFactors'], extensions: { code: 'FORBIDDEN', coordinate: 'LoanRiskAssessment.keyFactors', missingPolicies: ['risk-model-explanations'] } }],
      extensions: { pseudonymKeyId: 'development' },
    });
  });
});

describe('pseudonyms across requests, replicas and keys', () => {
  let one: RunningGateway;
  let two: RunningGateway;
  let rotated: RunningGateway;
  const start = (key: Buffer, keyId?: string) =>
    startGateway(loadConfig(gatewayEnv(stack.subgraphUrls, { PSEUDONYM_KEY: key.toString('base64'), ...(keyId ? { PSEUDONYM_KEY_ID: keyId } : {}) })), silent);
  beforeAll(async () => {
    one = await start(KEY_1);
    two = await start(KEY_1);
    rotated = await start(KEY_2, 'k2');
  });
  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop(), rotated?.stop()]);
  });

  const emails = async (url: string) => {
    const result = await postGraphQL<{ customers: { email: string }[] }>(url, '{ customers(first: 5) { email } }', { token: tokens['data-scientist']! });
    return { emails: result.body.data!.customers.map((c) => c.email), keyId: result.body.extensions?.pseudonymKeyId };
  };

  it('stable across two requests and two gateways with the same key; different with another key, and the key id says so', async () => {
    const admin = await postGraphQL<{ customers: { email: string }[] }>(stack.url, '{ customers(first: 5) { email } }', { token: tokens.admin! });
    const expected = admin.body.data!.customers.map((c) => pseudonym(KEY_1, c.email));
    const first = await emails(one.url);
    expect(first.emails).toEqual(expected);
    expect(await emails(one.url)).toEqual(first);
    expect(await emails(two.url)).toEqual(first);
    const other = await emails(rotated.url);
    expect(other.keyId).toBe('k2');
    expect(other.emails).toEqual(admin.body.data!.customers.map((c) => pseudonym(KEY_2, c.email)));
    for (let i = 0; i < expected.length; i++) expect(other.emails[i]).not.toBe(first.emails[i]);
    expect(new Set(first.emails).size).toBe(5);
  });
});

describe('the data product\'s shield agrees with the gateway', () => {
  const internal = devKeyPair('internal-identity');
  const signer = createIdentitySigner(internal.privateKey, internal.kid);
  const as = (roles: string[], scopes: string[]) =>
    signer({ kind: 'authenticated', issuer: 'https://idp.example', subject: 's', clientId: 'app', roles: new Set(roles), scopes: new Set(scopes) } satisfies Principal, subgraphAudience('customer'));
  const query = '{ customer(id: "C000003") { id email phone name } }';

  it('a treated reader\'s request gets the clear values from the product (the gateway treats them); a denied one is refused', async () => {
    const url = stack.subgraphUrls.customer!;
    const scientist = await postGraphQL(url, query, { token: await as(['data-scientist'], ['customer:read', 'finance:read', 'product:read', 'risk:read']) });
    expect(scientist.body).toEqual({ data: { customer: { id: 'C000003', email: clear.email, phone: clear.phone, name: clear.name } } });
    const marketing = await postGraphQL(url, query, { token: await as(['marketing-analyst'], ['customer:read', 'product:read']) });
    expect(marketing.body.data).toEqual({ customer: { id: 'C000003', email: null, phone: null, name: null } });
    expect(marketing.body.errors?.map((e) => [e.path, e.extensions?.code, e.extensions?.coordinate])).toEqual([
      [['customer', 'email'], 'FORBIDDEN', 'Customer.email'],
      [['customer', 'phone'], 'FORBIDDEN', 'Customer.phone'],
      [['customer', 'name'], 'FORBIDDEN', 'Customer.name'],
    ]);
  });

  it('the type\'s own rule still holds for a treated reader: without customer:read, no customer at all', async () => {
    const result = await postGraphQL(stack.subgraphUrls.customer!, query, { token: await as(['data-scientist'], ['finance:read']) });
    expect(result.body.data).toEqual({ customer: null });
    expect(result.body.errors?.map((e) => [e.path, e.extensions?.code, e.extensions?.coordinate])).toEqual([[['customer'], 'FORBIDDEN', 'Query.customer']]);
  });
});

describe('the audit gate', () => {
  let gateway: RunningGateway;
  let accepting = true;
  const gate: AuditGate = { level: 'PII', failMode: 'closed', accepting: () => accepting };
  beforeAll(async () => {
    gateway = await startGateway(loadConfig(gatewayEnv(stack.subgraphUrls)), silent, { audit: gate });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  const unavailable = (path: string[], coordinate: string) => ({ message: expect.any(String), path, extensions: { code: 'AUDIT_UNAVAILABLE', coordinate } });

  it('closed and not accepting: audited fields refused with AUDIT_UNAVAILABLE, the rest answers; accepting again: served', async () => {
    const query = '{ customer(id: "C000003") { id country email phone } }';
    accepting = false;
    const refused = await postGraphQL(gateway.url, query, { token: tokens['data-scientist']! });
    expect(refused.status).toBe(200);
    expect(refused.body).toEqual({
      data: { customer: { id: 'C000003', country: clear.country, email: null, phone: null } },
      errors: [unavailable(['customer', 'email'], 'Customer.email'), unavailable(['customer', 'phone'], 'Customer.phone')],
    });
    const admin = await postGraphQL(gateway.url, query, { token: tokens.admin! });
    expect(admin.body.errors?.map((e) => e.extensions?.code)).toEqual(['AUDIT_UNAVAILABLE', 'AUDIT_UNAVAILABLE']);
    // A field the caller may not read is refused for that reason, not for the audit's.
    const marketing = await postGraphQL(gateway.url, query, { token: tokens['marketing-analyst']! });
    expect(marketing.body.errors).toEqual([forbidden(['customer', 'email'], 'Customer.email'), forbidden(['customer', 'phone'], 'Customer.phone')]);
    accepting = true;
    const served = await postGraphQL(gateway.url, query, { token: tokens['data-scientist']! });
    expect(served.body).toEqual({ data: { customer: { id: 'C000003', country: clear.country, email: scientistView(clear).email, phone: maskedPhone(clear.phone) } }, extensions: { pseudonymKeyId: 'development' } });
  });
});
