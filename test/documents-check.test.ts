import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { spawnTs } from './helpers/process.js';

/*
 * `npm run documents:check`: an app team's manifest against a supergraph, before it deploys. An
 * operation broken by a schema change blocks (exit 1) and is named; costs and deprecated or sunset
 * fields are reported.
 */
const dir = mkdtempSync(join(tmpdir(), 'dpg-documents-check-'));
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function supergraph(name: string, books: string): string {
  const composed = composeServices([{ name: 'books', url: 'http://books.invalid/graphql', typeDefs: parse(books) }]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  const file = join(dir, `${name}.graphql`);
  writeFileSync(file, composed.supergraphSdl);
  return file;
}

function manifest(client: string, version: string, bodies: readonly string[]): string {
  mkdirSync(join(dir, client), { recursive: true });
  const file = join(dir, client, `${version}.json`);
  writeFileSync(file, JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: bodies.map((body) => ({ id: sha256(body), name: /query (\w+)/.exec(body)?.[1], type: 'query', body })) }));
  return file;
}

async function check(args: string[]): Promise<{ code: number | null; report: string; stderr: string }> {
  const run = spawnTs('scripts/documents-check.ts', args, {});
  const code = await run.exited;
  return { code, report: run.lines.map((l) => String(l.text ?? JSON.stringify(l))).join('\n'), stderr: run.stderr() };
}

const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])';
const TITLES = 'query Titles { books { id title } }';
const IDS = 'query Ids { books { id } }';

describe('npm run documents:check', () => {
  it('passes a manifest whose operations validate, with their costs; blocks and names the operation a schema change breaks', async () => {
    const file = manifest('web-app', '2.0.0', [TITLES, IDS]);
    const before = supergraph('before', `${LINK}\ntype Book @key(fields: "id") { id: ID! title: String! }\ntype Query { books: [Book!]! }`);
    const ok = await check(['--manifest', file, '--supergraph', before]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.report).toContain('# Documents check: web-app 2.0.0');
    expect(ok.report).toMatch(/\| Titles \| [0-9a-f]{12} \| \d+ \| - \| ok \|/);
    expect(ok.report).toContain('**Verdict: ready to deploy.**');

    // The proposal renames Book.title: Titles no longer validates.
    const after = supergraph('after', `${LINK}\ntype Book @key(fields: "id") { id: ID! name: String! }\ntype Query { books: [Book!]! }`);
    const broken = await check(['--manifest', file, '--supergraph', after]);
    expect(broken.code).toBe(1);
    expect(broken.report).toMatch(/\| Titles \| [0-9a-f]{12} \| - \| - \| blocked \|/);
    expect(broken.report).toMatch(/\| Ids \| [0-9a-f]{12} \| \d+ \| - \| ok \|/);
    expect(broken.report).toContain(`- \`Titles\` (${sha256(TITLES).slice(0, 12)}): Cannot query field "title" on type "Book".`);
    expect(broken.report).toContain('**Verdict: blocked** (1 of 2 operations would be refused).');
  });

  it('reports deprecated fields with their sunset, and blocks a field read past its sunset (the repository\'s supergraph)', async () => {
    const file = manifest('crm', '4.2.0', ['query Card { customer(id: "C000001") { id fullName } }']);
    const now = await check(['--manifest', file, '--at', '2027-01-01']);
    expect(now.code).toBe(0);
    expect(now.report).toMatch(/- `Card` \([0-9a-f]{12}\) reads Customer\.fullName: Use firstName and lastName\.; sunset 2027-03-31; use Customer\.firstName/);
    const later = await check(['--manifest', file, '--at', '2027-04-01']);
    expect(later.code).toBe(1);
    expect(later.report).toMatch(/- `Card` \([0-9a-f]{12}\): reads Customer\.fullName, refused since its sunset 2027-03-31 \(FIELD_SUNSET\): use Customer\.firstName/);
  });

  it('exits 2, saying why, for a missing flag or a manifest whose ids are not the SHA-256 of their documents', async () => {
    expect((await check([])).code).toBe(2);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ [sha256('{ a }')]: '{ b }' }));
    const result = await check(['--manifest', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the id is not the SHA-256 of its document');
  });
});
