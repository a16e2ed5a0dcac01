import { describe, expect, it } from 'vitest';
import { generateDataset } from '../subgraphs/seed/generate.js';

describe('seed generator', () => {
  it('is deterministic: same seed and scale, same rows; another seed, other rows', () => {
    const a = generateDataset({ customers: 200, seed: 7 });
    const b = generateDataset({ customers: 200, seed: 7 });
    const c = generateDataset({ customers: 200, seed: 8 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
  });

  it('is consistent across the three domains', () => {
    const data = generateDataset({ customers: 500 });
    const customers = new Set(data.customer.customers.map((c) => c.id));
    const skus = new Set(data.product.products.map((p) => p.sku));
    expect(customers.size).toBe(500);
    for (const t of data.finance.transactions) expect(customers.has(t.customer_id)).toBe(true);
    for (const item of data.finance.lineItems) expect(skus.has(item.sku)).toBe(true);
    for (const loan of data.finance.loanApplications) expect(customers.has(loan.customer_id)).toBe(true);
    const byTransaction = new Map<string, number>();
    for (const item of data.finance.lineItems) byTransaction.set(item.transaction_id, (byTransaction.get(item.transaction_id) ?? 0) + item.amount);
    for (const t of data.finance.transactions) expect(Math.abs((byTransaction.get(t.id) ?? 0) - t.amount)).toBeLessThan(0.005);
    const weights = new Map<string, number>();
    for (const f of data.finance.riskFactors) weights.set(f.application_id, (weights.get(f.application_id) ?? 0) + f.weight);
    for (const loan of data.finance.loanApplications) expect(weights.get(loan.id)).toBeCloseTo(1, 6);
  });

  it('scales with the customers knob', () => {
    const small = generateDataset({ customers: 100 });
    const large = generateDataset({ customers: 1000 });
    expect(large.customer.customers).toHaveLength(1000);
    expect(large.finance.transactions.length).toBeGreaterThan(small.finance.transactions.length * 5);
  });
});
