import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { Supergraph } from '@apollo/federation-internals';
import { DEFAULT_SUPERGRAPH, DEFAULT_TRUSTED_DOCUMENTS_MAX_DOCUMENT_BYTES, DEFAULT_TRUSTED_DOCUMENTS_MAX_DOCUMENTS } from '../gateway/config.js';
import { indexDeprecations } from '../gateway/deprecation/index.js';
import { checkManifest, type OperationReport } from '../gateway/documents/check.js';
import { ManifestError, parseManifest } from '../gateway/documents/manifest.js';
import { DEFAULT_RATE_LIMITS_FILE, loadRateLimitPolicy, RateLimitPolicyError } from '../gateway/limits/policy.js';
import { loadSupergraph, SupergraphError } from '../gateway/supergraph.js';

const USAGE = `Usage: npm run documents:check -- --manifest <file.json> [--client <id>] [--version <v>]
        [--supergraph <file or URL>] [--rate-limits <policies/rate-limits.yaml>] [--at <ISO date>] [--report <file.md>]

Tells an app team, before it deploys, how the gateway will take its operations: checks each
operation of a manifest of trusted documents (Apollo's generate-persisted-query-manifest output, or
Relay's / GraphQL Codegen's { "<sha256>": "<document>" }) against a supergraph (default: the one in
this repository, ${DEFAULT_SUPERGRAPH}): whether it validates, its static cost with its variables'
defaults and the operation limits it must stay under (policies/rate-limits.yaml), and which fields
it reads that are deprecated (with their sunset date) or already sunset (--at: as of that date,
default now). The client and version default to the manifest's directory and file name, as
TRUSTED_DOCUMENTS lays them out (<client>/<version>.json).
Exits 1 when an operation does not validate, is over a limit, or reads a field past its sunset
(the gateway would refuse it); 0 otherwise (deprecated fields are reported, not blocking); 2 on
bad flags or unreadable files. Prints a markdown report (also to --report).`;

class CheckUsageError extends Error {}

async function main(): Promise<void> {
  let values: { manifest?: string; client?: string; version?: string; supergraph?: string; 'rate-limits'?: string; at?: string; report?: string; help?: boolean };
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: {
        manifest: { type: 'string' },
        client: { type: 'string' },
        version: { type: 'string' },
        supergraph: { type: 'string' },
        'rate-limits': { type: 'string' },
        at: { type: 'string' },
        report: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (error) {
    throw new CheckUsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.manifest) throw new CheckUsageError('--manifest: the manifest file is required');
  const at = values.at === undefined ? Date.now() : Date.parse(values.at);
  if (Number.isNaN(at)) throw new CheckUsageError(`--at: an ISO 8601 date such as 2027-03-31, got "${values.at}"`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(values.manifest, 'utf8')) as unknown;
  } catch (error) {
    throw new CheckUsageError(`--manifest: cannot read ${values.manifest} as JSON (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const client = values.client ?? basename(dirname(values.manifest));
  const version = values.version ?? basename(values.manifest).replace(/\.json$/, '');
  const manifest = parseManifest(json, { client, version, where: values.manifest }, { maxDocumentBytes: DEFAULT_TRUSTED_DOCUMENTS_MAX_DOCUMENT_BYTES });
  if (manifest.documents.size > DEFAULT_TRUSTED_DOCUMENTS_MAX_DOCUMENTS) {
    throw new ManifestError(`${values.manifest}: ${manifest.documents.size} documents, over the gateway's default TRUSTED_DOCUMENTS_MAX_DOCUMENTS (${DEFAULT_TRUSTED_DOCUMENTS_MAX_DOCUMENTS})`);
  }
  const location = values.supergraph ?? DEFAULT_SUPERGRAPH;
  const supergraph = await loadSupergraph(location);
  const schema = Supergraph.build(supergraph.sdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
  const limits = loadRateLimitPolicy(values['rate-limits'] ?? DEFAULT_RATE_LIMITS_FILE).operation;
  const reports = checkManifest(manifest, { schema, supergraph: supergraph.document, deprecations: indexDeprecations(supergraph.document, schema), limits, now: at });
  const report = render({ client, version, file: values.manifest, supergraph: `${location} (${supergraph.hash})`, at, maxCost: limits.maxCost, reports });
  process.stdout.write(report);
  if (values.report) writeFileSync(values.report, report);
  process.exit(reports.some((r) => r.blocking.length) ? 1 : 0);
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function render(facts: { client: string; version: string; file: string; supergraph: string; at: number; maxCost: number; reports: readonly OperationReport[] }): string {
  const { reports } = facts;
  const label = (r: OperationReport) => `\`${r.name ?? '(anonymous)'}\` (${r.hash.slice(0, 12)})`;
  const lines = [
    `# Documents check: ${facts.client} ${facts.version}`,
    '',
    `${reports.length} operation(s) of ${facts.file}, against ${facts.supergraph}, as of ${new Date(facts.at).toISOString().slice(0, 10)}.`,
    '',
    '| Operation | Hash | Cost | Deprecated fields | Verdict |',
    '| --- | --- | --- | --- | --- |',
    ...reports.map((r) =>
      `| ${cell(r.name ?? '(anonymous)')} | ${r.hash.slice(0, 12)} | ${r.cost ?? '-'} | ${r.deprecated.length ? r.deprecated.map((d) => d.coordinate).join(', ') : '-'} | ${r.blocking.length ? 'blocked' : r.deprecated.length ? 'ok, deprecated fields' : 'ok'} |`,
    ),
    '',
  ];
  const blocked = reports.filter((r) => r.blocking.length);
  if (blocked.length) {
    lines.push('## Blocking', '');
    for (const r of blocked) for (const problem of r.blocking) lines.push(`- ${label(r)}: ${cell(problem)}`);
    lines.push('');
  }
  const deprecated = reports.filter((r) => r.deprecated.length);
  if (deprecated.length) {
    lines.push('## Deprecated fields read', '');
    for (const r of deprecated) {
      for (const d of r.deprecated) {
        lines.push(`- ${label(r)} reads ${d.coordinate}: ${cell(d.reason)}${d.sunset ? `; sunset ${d.sunset}` : ''}${d.replacement ? `; use ${d.replacement}` : ''}`);
      }
    }
    lines.push('');
  }
  lines.push(`Costs are static, with the variables' defaults (the limit is ${facts.maxCost}); the gateway prices each request with its own variables.`, '');
  lines.push(blocked.length ? `**Verdict: blocked** (${blocked.length} of ${reports.length} operations would be refused).` : '**Verdict: ready to deploy.**', '');
  return lines.join('\n');
}

main().catch((error: unknown) => {
  if (error instanceof CheckUsageError) {
    process.stderr.write(`documents:check: ${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  const known = error instanceof ManifestError || error instanceof SupergraphError || error instanceof RateLimitPolicyError;
  process.stderr.write(`documents:check: ${known ? '' : 'failed: '}${(error as Error).message}\n`);
  process.exit(2);
});
