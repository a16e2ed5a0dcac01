import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalog } from '../gateway/catalog/index.js';
import { SubgraphSource } from '../gateway/subgraph-source.js';
import { createLogger } from '../lib/logger.js';
import { parse } from 'graphql';
import { parseDescriptor, DescriptorError, loadDescriptor, descriptorFile } from '../subgraphs/kit/descriptor.js';
import { PRODUCT_NAMES } from '../subgraphs/kit/data-product.js';
import { READINESS_CACHE_MS } from '../gateway/readiness.js';
import { postGraphQL } from './helpers/http.js';
import { startStack, tokenFor, type Stack } from './helpers/stack.js';

/*
 * The catalogue: descriptors published by the products, live status measured by the gateway,
 * quality rules run over the data (including rows broken on purpose).
 */
let clock = Date.now();
let stack: Stack;
let token: string;

const CATALOG = /* GraphQL */ `{
  dataProducts {
    name domain owner { team email } version description accessRoles
    sla { availability latencyP95Ms freshnessMinutes }
    exampleOperations { name description query }
    status { healthy latencyP95Ms latencyWithinSla refreshedAt dataAgeMinutes fresh }
    quality { checkedAt passRate rules { name field check passed totalRows failingRows passRate } completeness { field totalRows nonNullRows ratio } }
    migrations { latest pending applied { name } }
  }
}`;

interface Product {
  name: string;
  version: string;
  status: { healthy: boolean; latencyP95Ms: number | null; latencyWithinSla: boolean | null; fresh: boolean | null };
  quality: { passRate: number; rules: { name: string; passed: boolean; totalRows: number; failingRows: number }[]; completeness: { field: string; ratio: number }[] } | null;
  exampleOperations: { name: string; query: string }[];
  migrations: { latest: string | null; pending: number; applied: { name: string }[] } | null;
}

beforeAll(async () => {
  stack = await startStack({ customers: 50, now: () => clock });
  token = await tokenFor('data-scientist');
});
afterAll(async () => {
  await stack?.stop();
});

async function catalog(): Promise<Product[]> {
  const result = await postGraphQL<{ dataProducts: Product[] }>(stack.url, CATALOG, { token });
  expect(result.body.errors).toBeUndefined();
  return result.body.data!.dataProducts;
}

describe('catalogue', () => {
  it('lists every data product with owner, version, SLA, access, examples and live status', async () => {
    await postGraphQL(stack.url, '{ customers(first: 1) { id } transactions(first: 1) { id } products(first: 1) { sku } }', { token });
    const products = await catalog();
    expect(products.map((p) => [p.name, p.version])).toEqual([['customer', '1.5.0'], ['finance', '2.1.0'], ['product', '1.0.0']]);
    // Migrated at start (PostgreSQL) or by the embedded default, through the same runner: nothing pending.
    expect(products.map((p) => [p.name, p.migrations])).toEqual([
      ['customer', { latest: '20261202000000000_event-outbox', pending: 0, applied: [{ name: '20260101000000000_initial' }, { name: '20261201000000000_preferred-language' }, { name: '20261202000000000_event-outbox' }] }],
      ['finance', { latest: '20261202000000000_event-outbox', pending: 0, applied: [{ name: '20260101000000000_initial' }, { name: '20261202000000000_event-outbox' }] }],
      ['product', { latest: '20260101000000000_initial', pending: 0, applied: [{ name: '20260101000000000_initial' }] }],
    ]);
    const customer = products[0]! as Product & Record<string, unknown>;
    expect(customer).toMatchObject({
      domain: 'customer',
      owner: { team: 'customer-data', email: 'customer-data@example.com' },
      sla: { availability: 99.9, latencyP95Ms: 250, freshnessMinutes: 60 },
      accessRoles: expect.arrayContaining(['marketing-analyst', 'data-scientist']),
      status: { healthy: true, latencyP95Ms: expect.any(Number), latencyWithinSla: expect.any(Boolean), refreshedAt: expect.any(String), dataAgeMinutes: expect.any(Number), fresh: true },
    });
    expect(customer.exampleOperations.map((o) => o.name)).toEqual(['CustomersInCountry', 'Customer360']);
    for (const op of products.flatMap((p) => p.exampleOperations)) expect(() => parse(op.query)).not.toThrow();
    expect(customer.quality!.rules.find((r) => r.name === 'phone-present')).toMatchObject({ passed: false, totalRows: 50, failingRows: expect.any(Number) });
    expect(customer.quality!.completeness.find((c) => c.field === 'Customer.email')).toEqual({ field: 'Customer.email', totalRows: 50, nonNullRows: 50, ratio: 1 });
  });

  it('one product by name; null for an unknown name; refused to anonymous callers', async () => {
    const one = await postGraphQL<{ dataProduct: { name: string } | null; none: unknown }>(stack.url, '{ dataProduct(name: "finance") { name } none: dataProduct(name: "marketing") { name } }', { token });
    expect(one.body).toEqual({ data: { dataProduct: { name: 'finance' }, none: null } });
    const anonymous = await postGraphQL(stack.url, '{ dataProducts { name } }');
    expect(anonymous.body).toEqual({ data: null, errors: [{ message: expect.any(String), path: ['dataProducts'], extensions: { code: 'FORBIDDEN', coordinate: 'Query.dataProducts', reason: 'authentication required' } }] });
  });

  it('shows failing quality rules with their counts when rows break them', async () => {
    const db = stack.products.dbs.customer!;
    // Deliberately broken rows: two malformed e-mail addresses and one address used twice.
    await db.query(
      `insert into customer.customers (id, name, first_name, last_name, email, phone, country, signup_date, status)
       values ('C900001', 'Bad One', 'Bad', 'One', 'not-an-email', null, 'DE', '2024-01-01', 'ACTIVE'),
              ('C900002', 'Bad Two', 'Bad', 'Two', 'also@broken', null, 'DE', '2024-01-01', 'ACTIVE'),
              ('C900003', 'Copy Cat', 'Copy', 'Cat', (select email from customer.customers where id = 'C000001'), '+49 1', 'DE', '2024-01-01', 'ACTIVE')`,
    );
    // The products check their rules over the new rows now, then the gateway asks them again.
    await stack.products.checkQualityNow();
    await stack.gateway.refreshCatalog();
    const rules = (await catalog())[0]!.quality!.rules;
    expect(rules.find((r) => r.name === 'email-format')).toMatchObject({ passed: false, totalRows: 53, failingRows: 2 });
    expect(rules.find((r) => r.name === 'email-unique')).toMatchObject({ passed: false, totalRows: 53, failingRows: 1 });
    expect(rules.find((r) => r.name === 'id-unique')).toMatchObject({ passed: true, totalRows: 53, failingRows: 0 });
  });

  it('reports an unreachable product as unhealthy', async () => {
    await stack.products.subgraphs.product!.stop();
    // Past the readiness cache on the gateway's clock: the next catalogue read asks the products again.
    clock += READINESS_CACHE_MS + 1;
    const product = (await catalog()).find((p) => p.name === 'product');
    expect(product?.status.healthy).toBe(false);
  });
});

describe('descriptors', () => {
  const file = 'subgraphs/customer/descriptor.yaml';
  const good = () => loadDescriptor(descriptorFile('customer'), { product: 'customer' });
  const refused = (mutate: (d: Record<string, any>) => void, context: Parameters<typeof parseDescriptor>[2] = { product: 'customer' }) => {
    const raw = JSON.parse(JSON.stringify(good())) as Record<string, any>;
    mutate(raw);
    try {
      parseDescriptor(raw, file, context);
    } catch (error) {
      expect(error).toBeInstanceOf(DescriptorError);
      return (error as Error).message;
    }
    throw new Error('expected a DescriptorError');
  };

  it.each(PRODUCT_NAMES)('%s: the shipped descriptor is valid against its contract and the access policy', (product) => {
    expect(loadDescriptor(descriptorFile(product), { product }).metadata.name).toBe(product);
  });

  it('refuses each kind of mistake, naming the file and the field', () => {
    expect(refused((d) => (d.metadata.version = '1.4'))).toBe(`${file}: metadata.version: a semantic version such as 1.4.0`);
    expect(refused((d) => (d.metadata.name = 'finance'))).toBe(`${file}: metadata.name: "finance" but the file belongs to the customer data product`);
    expect(refused((d) => (d.metadata.owner.email = 'nobody'))).toContain(`${file}: metadata.owner.email:`);
    expect(refused((d) => delete d.spec.sla)).toContain(`${file}: spec.sla:`);
    expect(refused((d) => (d.spec.sla.availability = 120))).toContain(`${file}: spec.sla.availability:`);
    expect(refused((d) => (d.spec.accessRoles = ['intern']), { product: 'customer', knownRoles: new Set(['admin']) })).toBe(`${file}: spec.accessRoles.0: unknown role "intern" (see policies/access.yaml)`);
    expect(refused((d) => (d.spec.qualityRules[0].check = 'positive'))).toContain(`${file}: spec.qualityRules.0.check:`);
    expect(refused((d) => (d.spec.qualityRules[0].field = 'Customer.shoeSize'), { product: 'customer', contract: parse('type Customer { id: ID! email: String }') })).toContain(
      `${file}: spec.qualityRules.0.field: Customer.shoeSize is not a field of the customer data product`,
    );
    expect(refused((d) => (d.spec.exampleOperations[0].query = '{ customers('))).toContain(`${file}: spec.exampleOperations.0.query: does not parse`);
    expect(refused((d) => (d.surprise = true))).toContain(`${file}: (top level)`);
  });
});

describe('descriptors as the gateway receives them', () => {
  /** A data product's /data-product endpoint answering whatever the test says. */
  async function publisher(answer: () => { status: number; body: string }): Promise<{ url: string; close(): Promise<void> }> {
    const server = createServer((req, res) => {
      const { status, body } = answer();
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/graphql`, close: () => new Promise((resolve) => server.close(() => resolve())) };
  }

  it('a product publishing another shape is listed as unavailable, with the reason; the others still answer; its last valid descriptor stays', async () => {
    const valid = JSON.stringify({ descriptor: loadDescriptor(descriptorFile('product'), { product: 'product' }), quality: null, refreshedAt: null });
    let broken = { status: 200, body: JSON.stringify({ descriptor: { metadata: { name: 'finance' } }, quality: 'fine', refreshedAt: 7 }) };
    let laterBroken = { status: 200, body: valid };
    const good = await publisher(() => ({ status: 200, body: valid }));
    const bad = await publisher(() => broken);
    const flaky = await publisher(() => laterBroken);
    try {
      let at = 0;
      const sources = new Map(
        [
          ['product', good.url],
          ['finance', bad.url],
          ['customer', flaky.url],
        ].map(([name, url]) => [name!, new SubgraphSource({ name: name!, url: url!, timeoutMs: 1_000, identity: async () => 'token' })]),
      );
      const catalog = createCatalog({ sources, identity: async () => 'token', health: async () => ({ product: true, finance: true, customer: true }), logger: createLogger('test', 'silent'), now: () => at });
      const first = await catalog.view();
      expect(first.map((p) => [p.name, p.status.healthy, p.status.problem])).toEqual([
        ['product', true, null],
        ['finance', false, 'its descriptor does not match the data product specification (descriptor.apiVersion: not an allowed value; descriptor.kind: not an allowed value; descriptor.metadata.domain: missing or of the wrong type)'],
        ['customer', true, null],
      ]);
      expect(first[1]).toMatchObject({ name: 'finance', domain: null, owner: null, version: null, sla: null, accessRoles: [], exampleOperations: [], quality: null });
      // Later the third product breaks too: it keeps its last valid descriptor, and says what is wrong now.
      laterBroken = { status: 200, body: '{"descriptor": ' };
      broken = { status: 500, body: '' };
      at += 31_000;
      const second = await catalog.view();
      expect(second.find((p) => p.name === 'customer')).toMatchObject({ version: '1.0.0', status: { healthy: false, problem: 'its descriptor is not JSON' } });
      expect(second.find((p) => p.name === 'finance')).toMatchObject({ version: null, status: { healthy: false, problem: 'its descriptor could not be fetched' } });
      expect(second.find((p) => p.name === 'product')!.status.problem).toBeNull();
    } finally {
      await Promise.all([good.close(), bad.close(), flaky.close()]);
    }
  });
});
