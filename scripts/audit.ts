import { parseArgs } from 'node:util';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { openAuditSql } from '../gateway/audit/create.js';
import { createAuditStore } from '../gateway/audit/store.js';
import { verifyAuditChains } from '../gateway/audit/verify.js';
import { ConfigError, loadConfig } from '../gateway/config.js';
import { DEFAULT_GATEWAY_URL, parseTime } from './usage-api.js';

const USAGE = `Usage: npm run audit -- --subject <sub> [--coordinate Type.field] --since 30d [--until <ISO time>] [--json]
                        [--gateway http://localhost:4000/graphql] [--token <bearer token>]
       npm run audit -- verify
       npm run audit -- purge

Query: the gateway's accessAudit API (GATEWAY_URL or --gateway), newest first, every page. The token
needs audit:read (role auditor): --token or AUDIT_TOKEN, else (development only) an auditor token is
minted. --since / --until: a duration back from now (30m, 24h, 7d) or an ISO 8601 time.

verify: walks every writer's hash chain in the audit database (AUDIT_DATABASE_URL or AUDIT_DATA_DIR,
AUDIT_SCHEMA) and prints the first broken (writer, seq) of each broken chain; exit code 1 if any.
purge: deletes records older than AUDIT_RETENTION_DAYS (whole prefixes of chains, anchored).

Exit codes: 0 done, 1 a broken chain or a failed or refused query, 2 a usage or configuration error.`;

class UsageError extends Error {}

interface AuditRow {
  at: string;
  subject: string | null;
  clientName: string | null;
  operationName: string | null;
  outcome: string;
  requestId: string;
  accesses: { coordinate: string; treatment: string; product: string | null; productVersion: string | null }[];
}

const PAGE = 500;
const QUERY = /* GraphQL */ `
  query AccessAudit($subject: String, $coordinate: String, $since: DateTime!, $until: DateTime, $after: String) {
    accessAudit(subject: $subject, coordinate: $coordinate, since: $since, until: $until, first: ${PAGE}, after: $after) {
      records { at subject clientName operationName outcome requestId accesses { coordinate treatment product productVersion } }
      hasNextPage endCursor
    }
  }
`;

/** The audit store as configured, straight to the database (not through a gateway). */
async function directStore() {
  let config;
  try {
    config = loadConfig(process.env, []);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  const { store, schema } = config.audit;
  if (store.kind === 'embedded' && store.dataDir === undefined) throw new UsageError('set AUDIT_DATABASE_URL (or AUDIT_DATA_DIR): an in-memory audit store lives only inside its gateway');
  return { store: createAuditStore(await openAuditSql(store), schema), retentionMs: config.audit.retentionMs };
}

async function verify(): Promise<number> {
  const { store } = await directStore();
  try {
    const result = await verifyAuditChains(store.sql, store.schema);
    for (const b of result.breaks) process.stdout.write(`BROKEN writer ${b.writerId} at seq ${b.seq} (${b.problem})\n`);
    process.stdout.write(`${result.breaks.length ? 'audit chains broken' : 'audit chains verified'}: ${result.writers} writers, ${result.records} records\n`);
    return result.breaks.length ? 1 : 0;
  } finally {
    await store.close();
  }
}

async function purge(): Promise<number> {
  const { store, retentionMs } = await directStore();
  try {
    const before = Date.now() - retentionMs;
    const result = await store.purge(before);
    process.stdout.write(`purged ${result.rows} records older than ${new Date(before).toISOString()} from ${result.writers} chains\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function token(given: string | undefined): Promise<string> {
  const token = given ?? process.env.AUDIT_TOKEN;
  if (token) return token;
  if (process.env.NODE_ENV === 'production') throw new UsageError('AUDIT_TOKEN (or --token) is required: development tokens are for development gateways');
  return mintDevToken({ roles: ['auditor'], clientId: 'audit-cli' });
}

async function query(args: readonly string[]): Promise<number> {
  let values: { subject?: string; coordinate?: string; since?: string; until?: string; json?: boolean; gateway?: string; token?: string };
  let since: Date;
  let until: Date | undefined;
  try {
    values = parseArgs({
      args: [...args],
      options: { subject: { type: 'string' }, coordinate: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, json: { type: 'boolean' }, gateway: { type: 'string' }, token: { type: 'string' } },
      strict: true,
    }).values;
    if (!values.subject && !values.coordinate) throw new Error('--subject or --coordinate is required');
    if (!values.since) throw new Error('--since is required (for example --since 30d)');
    since = parseTime(values.since, '--since');
    until = values.until ? parseTime(values.until, '--until') : undefined;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const gateway = values.gateway ?? process.env.GATEWAY_URL ?? DEFAULT_GATEWAY_URL;
  const bearer = await token(values.token);
  const records: AuditRow[] = [];
  for (let after: string | undefined; ; ) {
    let response: Response;
    try {
      response = await fetch(gateway, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, 'apollographql-client-name': 'audit-cli' },
        body: JSON.stringify({ query: QUERY, operationName: 'AccessAudit', variables: { subject: values.subject, coordinate: values.coordinate, since: since.toISOString(), until: until?.toISOString(), after } }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      process.stderr.write(`audit: cannot reach the gateway at ${gateway} (${(error as Error).name})\n`);
      return 1;
    }
    const body = (await response.json().catch(() => ({}))) as { data?: { accessAudit?: { records: AuditRow[]; hasNextPage: boolean; endCursor: string | null } } | null; errors?: { message: string; extensions?: { code?: string } }[] };
    const page = body.data?.accessAudit;
    if (body.errors?.length || !page) {
      const errors = body.errors ?? [{ message: `HTTP ${response.status}`, extensions: { code: 'INTERNAL_SERVER_ERROR' } }];
      process.stderr.write(`audit: ${errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; ')}\n`);
      return 1;
    }
    records.push(...page.records);
    if (!page.hasNextPage || !page.endCursor) break;
    after = page.endCursor;
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
    return 0;
  }
  const lines = records.map((r) => `${r.at}  ${r.subject ?? '-'}  ${r.clientName ?? '-'}  ${r.operationName ?? '(anonymous)'}  ${r.outcome}  ${r.accesses.map((a) => `${a.coordinate}=${a.treatment}`).join(', ')}  ${r.requestId}`);
  process.stdout.write(`${records.length} audit records, newest first\n${lines.join('\n')}${lines.length ? '\n' : ''}`);
  return 0;
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === 'verify' || command === 'purge') {
    if (rest.length) throw new UsageError(`${command} takes no arguments (the database comes from AUDIT_DATABASE_URL or AUDIT_DATA_DIR)`);
    return command === 'verify' ? verify() : purge();
  }
  return query(process.argv.slice(2));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`audit: ${error.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`audit: failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
