import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL } from './helpers/http.js';
import { spawnTs } from './helpers/process.js';
import { startStack, type Stack } from './helpers/stack.js';

// The README's "A first query", as a newcomer runs it: `npm run token`, then the curl body.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## A first query'));
const role = /TOKEN=\$\(npm run -s token -- --role ([a-z-]+)\)/.exec(section)?.[1];
const body = /-d '(\{"query":.*\})'/.exec(section)?.[1];

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

async function token(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnTs('scripts/token.ts', args, {});
  const code = await child.exited;
  return { code, stdout: child.lines.map((l) => String(l.text ?? JSON.stringify(l))).join('\n'), stderr: child.stderr() };
}

describe('README first query', () => {
  it('npm run token prints the token alone on stdout', async () => {
    expect(role).toBeDefined();
    const result = await token(['--role', role!]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('npm run token refuses an unknown role with exit code 2 and the known roles', async () => {
    const result = await token(['--role', 'intern']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('unknown role intern (known: marketing-analyst,');
  });

  it('the first query answers with data from all three products and no errors', async () => {
    const { stdout } = await token(['--role', role!]);
    const { query } = JSON.parse(body!) as { query: string };
    const result = await postGraphQL<{ customers: { id: string; name: string; transactions: { amount: number; product: { name: string } }[] }[] }>(stack.url, query, { token: stdout });
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    const customers = result.body.data!.customers;
    expect(customers).toHaveLength(3);
    expect(customers.flatMap((c) => c.transactions).length).toBeGreaterThan(0);
    for (const c of customers) {
      expect(typeof c.name).toBe('string');
      for (const t of c.transactions) expect(t).toEqual({ amount: expect.any(Number), product: { name: expect.any(String) } });
    }
  });
});
