import { parseArgs } from 'node:util';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';

const USAGE = `Usage: npm run usage -- --product <name> [--since 7d] [--until <ISO time>] [--client <name>] [--json]
                        [--gateway http://localhost:4000/graphql] [--token <bearer token>]

Per-field usage of one data product, from the gateway's usage API (the same numbers as the /usage
page). The token needs the usage:read scope (roles data-product-owner or admin); it comes from
--token or USAGE_TOKEN, else a development token is minted (a gateway in development mode only).
--since: a duration back from now (30m, 24h, 7d) or an ISO 8601 time.`;

const QUERY = /* GraphQL */ `
  query FieldUsage($product: String!, $since: DateTime, $until: DateTime, $client: String) {
    fieldUsage(product: $product, since: $since, until: $until, client: $client) {
      coordinate requests errors rejected lastSeen deprecated deprecationReason
      clients { name version requests errors }
    }
  }
`;

interface Row {
  coordinate: string;
  requests: number;
  errors: number;
  rejected: number;
  lastSeen: string | null;
  deprecated: boolean;
  deprecationReason: string | null;
  clients: { name: string; version: string | null; requests: number; errors: number }[];
}

class UsageError extends Error {}

function parseSince(value: string, now = Date.now()): Date {
  const duration = /^(\d+)([mhd])$/.exec(value);
  if (duration) return new Date(now - Number(duration[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 'm' | 'h' | 'd']);
  const time = new Date(value);
  if (Number.isNaN(time.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw new UsageError(`--since: expected 30m, 24h, 7d or an ISO 8601 time, got "${value}"`);
  return time;
}

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

async function main(): Promise<void> {
  let values: { product?: string; since?: string; until?: string; client?: string; json?: boolean; gateway?: string; token?: string; help?: boolean };
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: {
        product: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        client: { type: 'string' },
        json: { type: 'boolean' },
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
  const since = parseSince(values.since ?? '7d');
  const until = values.until ? parseSince(values.until) : undefined;
  const gateway = values.gateway ?? process.env.GATEWAY_URL ?? 'http://localhost:4000/graphql';
  const token = values.token ?? process.env.USAGE_TOKEN ?? (await mintDevToken({ roles: ['data-product-owner'], clientId: 'usage-cli' }));
  let response: Response;
  try {
    response = await fetch(gateway, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'apollographql-client-name': 'usage-cli' },
      body: JSON.stringify({ query: QUERY, operationName: 'FieldUsage', variables: { product: values.product, since: since.toISOString(), until: until?.toISOString(), client: values.client } }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    process.stderr.write(`usage: cannot reach the gateway at ${gateway} (${(error as Error).name})\n`);
    process.exit(1);
  }
  const body = (await response.json().catch(() => ({}))) as { data?: { fieldUsage?: Row[] } | null; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length || !body.data?.fieldUsage) {
    for (const error of body.errors ?? [{ message: `HTTP ${response.status}`, extensions: { code: 'INTERNAL_SERVER_ERROR' } }]) {
      process.stderr.write(`usage: ${error.extensions?.code ?? 'ERROR'}: ${error.message}\n`);
    }
    process.exit(1);
  }
  const rows = body.data.fieldUsage;
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
  const window = `${since.toISOString()} .. ${(until ?? new Date()).toISOString()}`;
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
