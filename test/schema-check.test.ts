import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL } from './helpers/http.js';
import { spawnTs } from './helpers/process.js';
import { startStack, tokenFor, type Stack } from './helpers/stack.js';

/*
 * `npm run schema:check` against recorded usage: removing the deprecated Customer.fullName is
 * blocked while a client still calls it, and allowed once the usage window is clean (with the major
 * version the descriptor requires); a safe addition passes.
 */
let stack: Stack;
let owner: string;
let beforeUse: string;
const dir = mkdtempSync(join(tmpdir(), 'dpg-schema-check-'));
/** The legacy client's one operation, anonymous: usage names it by its document's SHA-256. */
const LEGACY = '{ customer(id: "C000001") { fullName } }';
const LEGACY_HASH = createHash('sha256').update(LEGACY).digest('hex');
const current = readFileSync(new URL('../schema/customer.graphql', import.meta.url), 'utf8');

function proposal(name: string, sdl: string): string {
  const file = join(dir, `${name}.graphql`);
  writeFileSync(file, sdl);
  return file;
}

function withoutField(sdl: string, field: string): string {
  // A field with its description block and directives, up to the next description.
  const pattern = new RegExp(`\\n  """[^"]*"""\\n  ${field}: [^\\n]*(\\n    @[^\\n]*)*`);
  const result = sdl.replace(pattern, '');
  if (result === sdl) throw new Error(`field ${field} not found in the SDL`);
  return result;
}

async function check(args: string[]): Promise<{ code: number | null; report: string; stderr: string }> {
  const run = spawnTs('scripts/schema-check.ts', ['--subgraph', 'customer', '--gateway', stack.url, '--token', owner, ...args], {});
  const code = await run.exited;
  return { code, report: run.lines.map((l) => String(l.text ?? JSON.stringify(l))).join('\n'), stderr: run.stderr() };
}

beforeAll(async () => {
  stack = await startStack({ customers: 20 });
  owner = await tokenFor('data-product-owner');
  // Usage is kept by the hour: a window ending at the start of this hour holds none of what follows.
  beforeUse = new Date(Date.now() - (Date.now() % 3_600_000)).toISOString();
  const crm = { token: await tokenFor('sales-manager'), headers: { 'apollographql-client-name': 'legacy-crm', 'apollographql-client-version': '4.2' } };
  for (let i = 0; i < 3; i++) await postGraphQL(stack.url, LEGACY, crm);
  // The legacy client's calls reach the usage store now, before the checks read it through the gateway.
  await stack.gateway.flushUsage();
});
afterAll(async () => {
  await stack?.stop();
});

describe('npm run schema:check', () => {
  it('blocks removing a field still in use, and says who uses it', async () => {
    const { code, report } = await check(['--schema', proposal('remove-fullname', withoutField(current, 'fullName')), '--since', '7d']);
    expect(code).toBe(1);
    expect(report).toContain('# Schema check: customer 1.5.0 -> 1.5.0');
    expect(report).toMatch(/Field 'fullName' .*was removed from object type 'Customer': 3 requests from 1 client \(legacy-crm 4\.2\) in the last 7 days\. \*\*Blocks:\*\* still used: 3 requests from 1 client\(s\) in the last 7 days; breaking without a major version \(1\.5\.0 -> 1\.5\.0\)/);
    // The operations the removal would break, by name and document hash (an app's manifest id).
    expect(report).toMatch(new RegExp(`\\n  - breaks operation \`\\(anonymous\\)\` \\(${LEGACY_HASH.slice(0, 12)}\\): 3 requests from legacy-crm, last \\d{4}-\\d{2}-\\d{2}T\\d{2}:00:00\\.000Z\\n`));
    expect(report).toContain('**Verdict: blocked.**');
  });

  it('names the operations a breaking change would break in its JSON', async () => {
    const { code, report } = await check(['--schema', proposal('remove-fullname', withoutField(current, 'fullName')), '--since', '7d', '--json']);
    expect(code).toBe(1);
    const result = JSON.parse(report) as { blocked: boolean; changes: { severity: string; coordinate: string; usage: unknown; operations: unknown[] }[] };
    expect(result.blocked).toBe(true);
    const removal = result.changes.find((c) => c.coordinate === 'Customer.fullName' && c.severity === 'breaking');
    expect(removal).toMatchObject({
      usage: { requests: 3, clients: [{ name: 'legacy-crm', version: '4.2', requests: 3 }] },
      operations: [{ name: '(anonymous)', hash: LEGACY_HASH, requests: 3, clients: ['legacy-crm'], lastSeen: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/) }],
    });
    // Changes to unused coordinates name no operation.
    expect(result.changes.filter((c) => c.coordinate !== 'Customer.fullName').every((c) => c.operations.length === 0)).toBe(true);
  });

  it('blocks removing a field that was never deprecated, even unused', async () => {
    const { code, report } = await check(['--schema', proposal('remove-phone', withoutField(current, 'phone')), '--version', '2.0.0']);
    expect(code).toBe(1);
    expect(report).toMatch(/Field 'phone' .*removed.*no recorded use.*\*\*Blocks:\*\* removed without being deprecated first/);
  });

  it('allows the removal once the usage window is clean and the major version is bumped', async () => {
    const { code, report } = await check(['--schema', proposal('remove-fullname', withoutField(current, 'fullName')), '--version', '2.0.0', '--since', '30d', '--until', beforeUse]);
    expect(code).toBe(0);
    expect(report).toMatch(/Field 'fullName' .*removed.*: no recorded use in /);
    expect(report).toContain('**Verdict: safe to ship.**');
  });

  it('lets excluded clients (and thresholds) not block', async () => {
    const excluded = await check(['--schema', proposal('remove-fullname', withoutField(current, 'fullName')), '--version', '2.0.0', '--exclude-client', 'legacy-crm']);
    expect(excluded.code).toBe(0);
    const threshold = await check(['--schema', proposal('remove-fullname', withoutField(current, 'fullName')), '--version', '2.0.0', '--min-requests', '4']);
    expect(threshold.code).toBe(0);
  });

  it('passes a safe addition without a version bump', async () => {
    const added = current.replace('type Customer @key(fields: "id") @requiresScopes(scopes: [["customer:read"]]) {', 'type Customer @key(fields: "id") @requiresScopes(scopes: [["customer:read"]]) {\n  """\n  The name the customer asked to be called. Personal data.\n  """\n  preferredName: String @requiresScopes(scopes: [["customer:pii"]])');
    expect(added).not.toBe(current);
    const { code, report } = await check(['--schema', proposal('add-field', added)]);
    expect(code).toBe(0);
    expect(report).toContain('## Breaking changes (0)');
    expect(report).toContain('## Schema lint (0)');
    expect(report).toMatch(/## Safe changes \(\d+\)[\s\S]*preferredName/);
    // A personal field without @classification: a warning in the report, never a block.
    expect(report).toContain('## Personal data warnings (1)');
    expect(report).toMatch(/- .*: Customer\.preferredName: named like personal data but has no @classification/);
  });

  it('blocks an otherwise safe addition that breaks a schema lint rule, naming the file and each field', async () => {
    const added = current.replace(
      'type Query {\n',
      [
        'type Query {',
        '  """',
        '  Number of customer accounts.',
        '  """',
        '  customerCount: Int',
        '  """',
        '  Names of the marketing segments, largest first.',
        '  """',
        '  segmentNames(',
        '    """',
        '    How many names, from 1 to 50.',
        '    """',
        '    limit: Int = 10',
        '  ): [String!]! @requiresScopes(scopes: [["customer:read"]])',
        '',
      ].join('\n'),
    );
    expect(added).not.toBe(current);
    const file = proposal('unguarded', added);
    const { code, report } = await check(['--schema', file]);
    expect(code).toBe(1);
    expect(report).toContain('## Breaking changes (0)');
    const section = /## Schema lint \((\d+)\)\n\n((?:- .*\n)+)/.exec(report);
    expect(section?.[1]).toBe('2');
    const escaped = file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    expect(section?.[2]!.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^- ${escaped}: Query\\.customerCount: no access rule: .* \\[ACCESS_UNCOVERED\\]\\. \\*\\*Blocks\\.\\*\\*$`)),
      expect.stringMatching(new RegExp(`^- ${escaped}: Query\\.segmentNames: takes "limit" but declares no @listSize.* \\[LIST_SIZE_MISSING\\]\\. \\*\\*Blocks\\.\\*\\*$`)),
    ]);
    expect(report).toContain('**Verdict: blocked.**');
  });

  it('reports composition errors and blocks', async () => {
    const broken = current.replace('type Customer @key(fields: "id")', 'type Customer @key(fields: "nope")');
    const { code, report } = await check(['--schema', proposal('broken', broken)]);
    expect(code).toBe(1);
    expect(report).toContain('**Blocked:** the proposal does not compose with the other subgraphs.');
  });

  it('refuses bad flags with exit code 2', async () => {
    const { code, stderr } = await check(['--schema', '/nonexistent.graphql']);
    expect(code).toBe(2);
    expect(stderr).toContain('--schema: cannot read /nonexistent.graphql (ENOENT)');
  });
});
