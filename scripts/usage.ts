import { parseArgs } from 'node:util';
import { DEFAULT_GATEWAY_URL, fetchFieldOperations, fetchFieldUsage, parseTime, UsageApiError, usageToken, type FieldUsageRow, type OperationUsageRow } from './usage-api.js';

const USAGE = `Usage: npm run usage -- --product <name> [--since 7d] [--until <ISO time>] [--client <name>] [--json]
                        [--operations [--field <Type.field>]]
                        [--gateway http://localhost:4000/graphql] [--token <bearer token>]

Per-field usage of one data product, from the gateway's usage API (the same numbers as the /usage
page). The token needs the usage:read scope (roles data-product-owner or admin); it comes from
--token or USAGE_TOKEN, else a development token is minted (a gateway in development mode only).
--since: a duration back from now (30m, 24h, 7d) or an ISO 8601 time.
--operations: the operations (name, document hash, clients, last use) that read each field used in
the window, or only --field's.`;

type Row = FieldUsageRow;

class UsageError extends Error {}

function table(rows: Row[]): string {
  const header = ['coordinate', 'requests', 'clients', 'errors', 'rejected', 'last seen', 'deprecated'];
  const lines = rows.map((r) => [
    r.coordinate,
    String(r.requests),
    r.clients.map((c) => (c.version ? `${c.name} ${c.version}` : c.name)).join(', ') || '-',
    String(r.errors),
    String(r.rejected),
    r.lastSeen ?? '-',
    r.deprecated ? `yes${r.requests > 0 ? ' (still used)' : ''}` : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 2 || i === 5 || i === 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [format(header), ...lines.map(format)].join('\n');
}

interface FieldOperations {
  coordinate: string;
  operations: OperationUsageRow[];
}

function operationsTable(fields: FieldOperations[]): string {
  const header = ['coordinate', 'operation', 'hash', 'requests', 'clients', 'last seen'];
  const lines = fields.flatMap((f) =>
    f.operations.map((o) => [f.coordinate, o.name, o.hash?.slice(0, 12) ?? '-', String(o.requests), o.clients.map((c) => c.name).join(', '), o.lastSeen]),
  );
  if (lines.length === 0) return 'No operation read these fields in the window.';
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => cells.map((c, i) => (i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [format(header), ...lines.map(format)].join('\n');
}

async function main(): Promise<void> {
  let values: { product?: string; since?: string; until?: string; client?: string; json?: boolean; operations?: boolean; field?: string; gateway?: string; token?: string; help?: boolean };
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: {
        product: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        client: { type: 'string' },
        json: { type: 'boolean' },
        operations: { type: 'boolean' },
        field: { type: 'string' },
        gateway: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.product) throw new UsageError('--product is required (for example --product customer)');
  if (values.field && !values.operations) throw new UsageError('--field goes with --operations');
  let since: Date;
  let until: Date | undefined;
  try {
    since = parseTime(values.since ?? '7d', '--since');
    until = values.until ? parseTime(values.until, '--until') : undefined;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const gateway = values.gateway ?? process.env.GATEWAY_URL ?? DEFAULT_GATEWAY_URL;
  let rows: Row[];
  let operations: FieldOperations[] | undefined;
  try {
    const options = { gateway, token: await usageToken(values.token), since, until, client: values.client, clientName: 'usage-cli' };
    rows = await fetchFieldUsage({ ...options, product: values.product });
    if (values.operations) {
      // One field, or every field read in the window (one question each: a field's operations are read on their own).
      const fields = values.field ? rows.filter((r) => r.coordinate === values.field) : rows.filter((r) => r.requests > 0);
      if (values.field && fields.length === 0) throw new UsageError(`--field: ${values.field} is not a field of the ${values.product} data product`);
      operations = [];
      for (const field of fields) operations.push({ coordinate: field.coordinate, operations: await fetchFieldOperations({ ...options, coordinate: field.coordinate }) });
    }
  } catch (error) {
    if (!(error instanceof UsageApiError)) throw error;
    process.stderr.write(`usage: ${error.message}\n`);
    process.exit(1);
  }
  const window = `${since.toISOString()} .. ${(until ?? new Date()).toISOString()}`;
  if (operations) {
    if (values.json) process.stdout.write(`${JSON.stringify(operations, null, 2)}\n`);
    else process.stdout.write(`Operations reading the ${values.product} data product, ${window}${values.client ? `, client ${values.client}` : ''}\n\n${operationsTable(operations)}\n`);
    return;
  }
  if (values.json) {
    const out = rows.map((r) => ({
      coordinate: r.coordinate,
      requests: r.requests,
      clients: r.clients.map((c) => ({ name: c.name, version: c.version, requests: c.requests })),
      errors: r.errors,
      rejected: r.rejected,
      lastSeen: r.lastSeen,
      deprecated: r.deprecated,
    }));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  process.stdout.write(`Usage of the ${values.product} data product, ${window}${values.client ? `, client ${values.client}` : ''}\n\n${table(rows)}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`usage: ${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`usage: failed: ${(error as Error).message}\n`);
  process.exit(1);
});
