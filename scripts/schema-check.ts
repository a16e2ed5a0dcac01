import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import semver from 'semver';
import { PRODUCT_NAMES, isProductName } from '../subgraphs/kit/data-product.js';
import { descriptorFile, loadDescriptor } from '../subgraphs/kit/descriptor.js';
import { checkSchemaChange, type CoordinateOperation, type CoordinateUsage } from './schema-check/check.js';
import { DEFAULT_GATEWAY_URL, fetchFieldOperations, fetchFieldUsage, parseTime, UsageApiError, usageToken } from './usage-api.js';

const USAGE = `Usage: npm run schema:check -- --subgraph <name> --schema <proposed.graphql> [--version <semver>]
        [--since 30d] [--until <ISO time>] [--min-requests 1] [--exclude-client <name>]...
        [--gateway http://localhost:4000/graphql] [--token <bearer token>] [--report <file.md>] [--json]

Checks a proposed subgraph schema: composes it with the other subgraphs, diffs the result against
the current supergraph, and weighs every breaking change against recorded usage (from the
gateway's usage API). Exits 1 when a breaking change touches a field used in the window, when a
field is removed without having been deprecated first, when a breaking change comes without a
major version (--version, compared with the product's descriptor), or when the proposal breaks a
schema lint rule (a paginated list without @listSize, a field without an access rule or @public);
0 otherwise; 2 on bad flags.
Prints a markdown change report (also to --report), or with --json the changes as JSON: each
breaking change with its usage and the operations (name, document hash, clients) it would break.`;

class CheckUsageError extends Error {}

async function main(): Promise<void> {
  let values: {
    subgraph?: string; schema?: string; version?: string; since?: string; until?: string; 'min-requests'?: string;
    'exclude-client'?: string[]; gateway?: string; token?: string; report?: string; json?: boolean; help?: boolean;
  };
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: {
        subgraph: { type: 'string' },
        schema: { type: 'string' },
        version: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        'min-requests': { type: 'string' },
        'exclude-client': { type: 'string', multiple: true },
        gateway: { type: 'string' },
        token: { type: 'string' },
        report: { type: 'string' },
        json: { type: 'boolean' },
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
  const subgraph = values.subgraph;
  if (!subgraph || !isProductName(subgraph)) throw new CheckUsageError(`--subgraph: one of ${PRODUCT_NAMES.join(', ')}`);
  if (!values.schema) throw new CheckUsageError('--schema: the proposed SDL file is required');
  let proposedSdl: string;
  try {
    proposedSdl = readFileSync(values.schema, 'utf8');
  } catch (error) {
    throw new CheckUsageError(`--schema: cannot read ${values.schema} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const currentVersion = loadDescriptor(descriptorFile(subgraph), { product: subgraph }).metadata.version;
  const proposedVersion = values.version ?? currentVersion;
  if (semver.valid(proposedVersion) !== proposedVersion) throw new CheckUsageError(`--version: a semantic version such as 2.0.0, got "${proposedVersion}"`);
  const minRequests = values['min-requests'] === undefined ? 1 : Number(values['min-requests']);
  if (!Number.isInteger(minRequests) || minRequests < 1) throw new CheckUsageError('--min-requests: a whole number of at least 1');
  let since: Date;
  let until: Date | undefined;
  try {
    since = parseTime(values.since ?? '30d', '--since');
    until = values.until ? parseTime(values.until, '--until') : undefined;
  } catch (error) {
    throw new CheckUsageError((error as Error).message);
  }
  const excluded = new Set((values['exclude-client'] ?? []).map((c) => c.toLowerCase()));

  const gateway = values.gateway ?? process.env.GATEWAY_URL ?? DEFAULT_GATEWAY_URL;
  const api = { gateway, token: await usageToken(values.token), since, until, clientName: 'schema-check' };
  const rows = await fetchFieldUsage({ ...api, product: subgraph });
  const operationsOf = async (coordinate: string): Promise<CoordinateOperation[]> =>
    (await fetchFieldOperations({ ...api, coordinate })).flatMap((o) => {
      const clients = o.clients.filter((c) => !excluded.has(c.name));
      if (clients.length === 0) return [];
      return [{ name: o.name, hash: o.hash, requests: clients.reduce((n, c) => n + c.requests, 0), clients: clients.map((c) => c.name), lastSeen: o.lastSeen }];
    });
  const usage = new Map<string, CoordinateUsage>(
    rows.map((row) => {
      const clients = row.clients.filter((c) => !excluded.has(c.name));
      return [row.coordinate, { requests: clients.reduce((n, c) => n + c.requests, 0), clients }];
    }),
  );
  const days = Math.round(((until ?? new Date()).getTime() - since.getTime()) / 86_400_000);
  const windowLabel = values.until ? `${since.toISOString()} .. ${until!.toISOString()}` : `the last ${days} days`;
  const result = await checkSchemaChange({ subgraph, proposedSdl, proposedFile: values.schema, currentVersion, proposedVersion, usageOf: (c) => usage.get(c), operationsOf, minRequests, windowLabel: windowLabel + (excluded.size ? ` (excluding ${[...excluded].join(', ')})` : '') });
  if (values.json) {
    const { report: _report, ...json } = result;
    process.stdout.write(`${JSON.stringify({ subgraph, currentVersion, proposedVersion, window: windowLabel, ...json }, null, 2)}\n`);
  } else process.stdout.write(result.report);
  if (values.report) writeFileSync(values.report, result.report);
  process.exit(result.blocked ? 1 : 0);
}

main().catch((error: unknown) => {
  if (error instanceof CheckUsageError) {
    process.stderr.write(`schema:check: ${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`schema:check: ${error instanceof UsageApiError ? `usage unavailable: ${error.message}` : `failed: ${(error as Error).message}`}\n`);
  process.exit(2);
});
