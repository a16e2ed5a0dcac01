import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codesOf, postGraphQL } from './helpers/http.js';
import { startStack, tokenFor, type Stack } from './helpers/stack.js';

// The three data products behind the real gateway: one endpoint, joins across domains.
let stack: Stack;
let token: string;

beforeAll(async () => {
  stack = await startStack();
  token = await tokenFor('admin');
});

afterAll(async () => {
  await stack?.stop();
});

interface Page {
  customers: { id: string; name: string; transactions: { amount: number; product: { name: string } }[] }[];
}

describe('one endpoint over customer, finance and product', () => {
  it('answers the README first query with data from all three products', async () => {
    const result = await postGraphQL<Page>(stack.url, '{ customers(first: 3) { id name transactions(first: 2) { amount product { name } } } }', { token });
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    const customers = result.body.data!.customers;
    expect(customers.map((c) => c.id)).toEqual(['C000001', 'C000002', 'C000003']);
    for (const customer of customers) {
      expect(customer).toEqual({ id: expect.stringMatching(/^C\d{6}$/), name: expect.any(String), transactions: expect.any(Array) });
      expect(customer.transactions.length).toBeLessThanOrEqual(2);
      for (const t of customer.transactions) expect(t).toEqual({ amount: expect.any(Number), product: { name: expect.any(String) } });
    }
    expect(customers.some((c) => c.transactions.length > 0)).toBe(true);
  });

  it('keeps every join consistent: a transaction belongs to the customer it is listed under, its product to its line items', async () => {
    const result = await postGraphQL<{
      customers: { id: string; transactions: { customer: { id: string; country: string }; amount: number; lineItems: { amount: number; product: { sku: string } }[]; product: { sku: string } }[] }[];
    }>(stack.url, '{ customers(first: 20) { id transactions(first: 5) { amount customer { id country } lineItems { amount product { sku } } product { sku } } } }', { token });
    expect(result.body.errors).toBeUndefined();
    for (const customer of result.body.data!.customers) {
      for (const t of customer.transactions) {
        expect(t.customer.id).toBe(customer.id);
        const sum = t.lineItems.reduce((acc, item) => acc + item.amount, 0);
        expect(Math.abs(sum - t.amount)).toBeLessThan(0.005);
        const top = [...t.lineItems].sort((a, b) => b.amount - a.amount || a.product.sku.localeCompare(b.product.sku))[0]!;
        expect(t.product.sku).toBe(top.product.sku);
      }
    }
  });

  it('serves a customer 360 with segments, churn risk, lifetime value and loan risk', async () => {
    const result = await postGraphQL<{ customers: Record<string, unknown>[] }>(
      stack.url,
      `{ customers(first: 100) { id firstName lastName email country signupDate status
          segments { name score } churnRisk { score level } lifetimeValue { amount currency }
          loanRiskAssessments { applicationId riskScore riskLevel modelVersion assessedAt keyFactors { name weight } } } }`,
      { token },
    );
    expect(result.body.errors).toBeUndefined();
    const customers = result.body.data!.customers as {
      email: string; signupDate: string; status: string;
      segments: { score: number }[]; lifetimeValue: { amount: number; currency: string };
      loanRiskAssessments: { riskScore: number; riskLevel: string; assessedAt: string; keyFactors: { weight: number }[] }[];
    }[];
    expect(customers).toHaveLength(100);
    for (const c of customers) {
      expect(c.email).toMatch(/^[^@\s]+@[^@\s]+\.[a-z]+$/);
      expect(c.signupDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(['ACTIVE', 'INACTIVE', 'CHURNED']).toContain(c.status);
      for (const s of c.segments) expect(s.score).toBeGreaterThanOrEqual(0), expect(s.score).toBeLessThanOrEqual(1);
      expect(c.lifetimeValue.currency).toBe('USD');
      for (const loan of c.loanRiskAssessments) {
        expect(loan.assessedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        expect(loan.keyFactors.reduce((a, f) => a + f.weight, 0)).toBeCloseTo(1, 6);
      }
    }
    expect(customers.some((c) => c.loanRiskAssessments.length > 0)).toBe(true);
  });

  it('adds finance sales figures to products', async () => {
    const result = await postGraphQL<{ products: { sku: string; name: string; price: number; inventory: { quantity: number; inStock: boolean }; revenue: number; unitsSold: number }[] }>(
      stack.url,
      '{ products(first: 10) { sku name price category inventory { quantity inStock } revenue unitsSold } }',
      { token },
    );
    expect(result.body.errors).toBeUndefined();
    const products = result.body.data!.products;
    expect(products).toHaveLength(10);
    for (const p of products) {
      expect(p.inventory.inStock).toBe(p.inventory.quantity > 0);
      expect(p.unitsSold).toBeGreaterThanOrEqual(0);
      expect(p.revenue === 0).toBe(p.unitsSold === 0);
    }
  });

  it('pages with first/after and filters, refusing a page over the maximum with BAD_USER_INPUT', async () => {
    const first = await postGraphQL<{ customers: { id: string }[] }>(stack.url, '{ customers(first: 5) { id } }', { token });
    const next = await postGraphQL<{ customers: { id: string }[] }>(stack.url, '{ customers(first: 5, after: "C000005") { id } }', { token });
    expect(first.body.data!.customers.map((c) => c.id)).toEqual(['C000001', 'C000002', 'C000003', 'C000004', 'C000005']);
    expect(next.body.data!.customers.map((c) => c.id)).toEqual(['C000006', 'C000007', 'C000008', 'C000009', 'C000010']);

    const filtered = await postGraphQL<{ customers: { country: string; status: string }[] }>(stack.url, '{ customers(first: 100, filter: { country: "DE", status: ACTIVE }) { country status } }', { token });
    expect(filtered.body.data!.customers.length).toBeGreaterThan(0);
    expect(new Set(filtered.body.data!.customers.map((c) => `${c.country}/${c.status}`))).toEqual(new Set(['DE/ACTIVE']));

    const tooMany = await postGraphQL(stack.url, '{ customers(first: 101) { id } }', { token });
    expect(tooMany.status).toBe(200);
    expect(tooMany.body).toEqual({
      data: null,
      errors: [{ message: expect.any(String), path: ['customers'], extensions: { code: 'BAD_USER_INPUT', service: 'customer', argument: 'first', maximum: 100 } }],
    });
  });

  it('answers a missing entity with null, not an error', async () => {
    const result = await postGraphQL(stack.url, '{ customer(id: "C999999") { id } product(sku: "SKU-9999") { sku } transaction(id: "T9999999") { id } }', { token });
    expect(result.body).toEqual({ data: { customer: null, product: null, transaction: null } });
  });

  it('degrades to a partial result naming the product when one data product is down', async () => {
    await stack.products.subgraphs.finance!.stop();
    const result = await postGraphQL<{ customer: { id: string; name: string; lifetimeValue: null } }>(stack.url, '{ customer(id: "C000001") { id name lifetimeValue { amount } } }', { token });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      data: { customer: { id: 'C000001', name: expect.any(String), lifetimeValue: null } },
      errors: [{ message: 'The finance data product is unavailable', extensions: { code: 'SUBGRAPH_UNAVAILABLE', service: 'finance' } }],
    });
    expect(codesOf(result)).toEqual(['SUBGRAPH_UNAVAILABLE']);
  });
});
