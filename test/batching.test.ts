import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL } from './helpers/http.js';
import { startStack, tokenFor, type Stack } from './helpers/stack.js';

// DataLoaders per request: the SQL statements per data product do not grow with the rows returned.
let stack: Stack;
let token: string;

beforeAll(async () => {
  stack = await startStack({ customers: 300 });
  token = await tokenFor('admin');
});

afterAll(async () => {
  await stack?.stop();
});

function statementCounts(): Record<string, number> {
  return Object.fromEntries(Object.entries(stack.products.dbs).map(([name, db]) => [name, db.queryCount]));
}

async function countStatements(query: string): Promise<{ counts: Record<string, number>; rows: number }> {
  for (const db of Object.values(stack.products.dbs)) db.resetCount();
  const result = await postGraphQL<{ customers: { transactions: unknown[] }[] }>(stack.url, query, { token });
  expect(result.body.errors).toBeUndefined();
  const rows = result.body.data!.customers.reduce((n, c) => n + 1 + c.transactions.length, 0);
  return { counts: statementCounts(), rows };
}

describe('batching', () => {
  it('100 customers x transactions x products: customer 1, finance 2, product 1 statement', async () => {
    const { counts, rows } = await countStatements('{ customers(first: 100) { id name transactions(first: 10) { id amount product { sku name price } } } }');
    expect(rows).toBeGreaterThan(300);
    expect(counts).toEqual({ customer: 1, finance: 2, product: 1 });
  });

  it('the bound does not move with the page size (10 vs 100 customers)', async () => {
    const query = (n: number) => `{ customers(first: ${n}) { id transactions(first: 10) { id product { name } } } }`;
    const small = await countStatements(query(10));
    const large = await countStatements(query(100));
    expect(large.rows).toBeGreaterThan(small.rows * 5);
    expect(large.counts).toEqual(small.counts);
  });

  it('a wide customer 360 stays within a fixed bound', async () => {
    const { counts } = await countStatements(`{ customers(first: 100) { id segments { name } churnRisk { level } lifetimeValue { amount }
      loanRiskAssessments { riskScore keyFactors { name } } transactions(first: 10) { lineItems { quantity product { name inventory { quantity } revenue } } } } }`);
    expect(counts).toEqual({ customer: 2, finance: 6, product: 1 });
  });
});
