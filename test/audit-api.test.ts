import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ISSUER } from '../gateway/auth/authenticate.js';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import type { AccessEvent } from '../gateway/audit/model.js';
import { createPostgresAuditSql } from '../gateway/audit/sql.js';
import { createAuditStore, type AuditStore } from '../gateway/audit/store.js';
import { createAuditWriter, type AuditWriter } from '../gateway/audit/writer.js';
import { createLogger } from '../lib/logger.js';
import { accessEvent, createScratchAuditDb } from './helpers/audit.js';
import { codesOf, postGraphQL } from './helpers/http.js';
import { spawnTs } from './helpers/process.js';
import { startStack, type Stack } from './helpers/stack.js';

/*
 * Who may read the audit trail, through a real gateway over real data products: accessAudit for
 * auditors (scope audit:read) only, myAccess for any signed-in caller and only their own records,
 * bounded windows and pages, cursors; the CLI against the running gateway, and its verify command
 * straight to the database. The records are written by an audit writer of the test's own into the
 * gateway's audit database (PostgreSQL, a scratch database), as another gateway replica would.
 */
const silent = createLogger('test', 'silent');
const databaseUrl = process.env.DATABASE_URL;
const HOUR = 3_600_000;

const RECORD_FIELDS = 'at writerId seq issuer subject clientName clientVersion roles operationName documentHash accesses { coordinate level kind treatment product productVersion } requestId traceId outcome hash';
const ACCESS_AUDIT = /* GraphQL */ `
  query Audit($subject: String, $coordinate: String, $since: DateTime!, $until: DateTime, $first: Int, $after: String) {
    accessAudit(subject: $subject, coordinate: $coordinate, since: $since, until: $until, first: $first, after: $after) {
      records { ${RECORD_FIELDS} } hasNextPage endCursor
    }
  }
`;
const MY_ACCESS = /* GraphQL */ `
  query Mine($since: DateTime!, $first: Int, $after: String) {
    myAccess(since: $since, first: $first, after: $after) { records { ${RECORD_FIELDS} } hasNextPage endCursor }
  }
`;

interface RecordView {
  at: string;
  writerId: string;
  seq: number;
  subject: string | null;
  issuer: string | null;
  accesses: { coordinate: string; treatment: string; product: string | null; productVersion: string | null }[];
  [field: string]: unknown;
}
interface Page {
  records: RecordView[];
  hasNextPage: boolean;
  endCursor: string | null;
}

describe.skipIf(!databaseUrl)('audit API through the gateway', () => {
  let stack: Stack;
  let db: Awaited<ReturnType<typeof createScratchAuditDb>>;
  let store: AuditStore;
  let writer: AuditWriter;
  let auditor: string;
  const base = Date.now() - 2 * HOUR;
  const seeded: AccessEvent[] = [];

  beforeAll(async () => {
    db = await createScratchAuditDb(databaseUrl!);
    stack = await startStack({ env: { AUDIT_DATABASE_URL: db.url, AUDIT_SCHEMA: db.schema, AUDIT_PURGE_INTERVAL_MS: '0' } });
    store = createAuditStore(createPostgresAuditSql(db.url), db.schema);
    await store.init();
    writer = createAuditWriter({ store, level: 'PII', failMode: 'closed', queueMax: 100, flushIntervalMs: 60_000, logger: silent });
    // Alice read emails three times and phones twice; bob once, from another issuer's view the same subject is someone else.
    const who = (subject: string, issuer = DEV_ISSUER) => ({ issuer, subject, clientName: 'web', clientVersion: '2.1', roles: ['sales-manager'] });
    for (let i = 0; i < 5; i++) {
      seeded.push(accessEvent(base + i * 60_000, {
        principal: who('alice'),
        accesses: [{ coordinate: i < 3 ? 'Customer.email' : 'Customer.phone', level: 'PII', kind: i < 3 ? 'EMAIL' : 'PHONE', treatment: 'clear', product: 'customer', productVersion: '1.0.0' }],
      }));
    }
    seeded.push(accessEvent(base + 10 * 60_000, { principal: who('bob') }));
    seeded.push(accessEvent(base + 11 * 60_000, { principal: who('alice', 'https://other-issuer.test') }));
    for (const event of seeded) writer.append(event);
    expect(await writer.flush()).toBe(true);
    auditor = await mintDevToken({ roles: ['auditor'], subject: 'carol', clientId: 'audit-tests' });
  }, 180_000);
  afterAll(async () => {
    await writer?.close(1_000);
    await store?.close();
    await stack?.stop();
    await db?.drop();
  });

  const since = () => new Date(base - HOUR).toISOString();
  const audit = (token: string, variables: Record<string, unknown>) => postGraphQL<{ accessAudit: Page }>(stack.url, ACCESS_AUDIT, { token, variables });

  it('an auditor reads one subject\'s records, newest first, whole', async () => {
    const result = await audit(auditor, { subject: 'alice', since: since() });
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    const page = result.body.data!.accessAudit;
    expect(page.hasNextPage).toBe(false);
    // Both issuers' alice: the auditor filters by subject; myAccess (below) tells them apart.
    expect(page.records.map((r) => [r.issuer, r.at])).toEqual([
      ['https://other-issuer.test', new Date(base + 11 * 60_000).toISOString()],
      ...[4, 3, 2, 1, 0].map((i) => [DEV_ISSUER, new Date(base + i * 60_000).toISOString()]),
    ]);
    const newest = page.records.find((r) => r.issuer === DEV_ISSUER)!;
    expect(newest).toEqual({
      at: new Date(base + 4 * 60_000).toISOString(),
      writerId: writer.writerId,
      seq: 5,
      issuer: DEV_ISSUER,
      subject: 'alice',
      clientName: 'web',
      clientVersion: '2.1',
      roles: ['sales-manager'],
      operationName: 'Emails',
      documentHash: 'ab'.repeat(32),
      accesses: [{ coordinate: 'Customer.phone', level: 'PII', kind: 'PHONE', treatment: 'clear', product: 'customer', productVersion: '1.0.0' }],
      requestId: `req-${base + 4 * 60_000}`,
      traceId: null,
      outcome: 'ok',
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('filters by coordinate, and pages with cursors to the end', async () => {
    const pages: RecordView[][] = [];
    let after: string | null = null;
    for (;;) {
      const result = await audit(auditor, { coordinate: 'Customer.email', since: since(), first: 2, after });
      expect(result.body.errors).toBeUndefined();
      const page = result.body.data!.accessAudit;
      pages.push(page.records);
      if (!page.hasNextPage) break;
      after = page.endCursor;
    }
    // Alice's three email reads, bob's one and other-issuer alice's one: five, two per page.
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((r) => r.subject)).toEqual(['alice', 'bob', 'alice', 'alice', 'alice']);
    expect(pages.flat().every((r) => r.accesses.some((a) => a.coordinate === 'Customer.email'))).toBe(true);
  });

  it('refuses windows over 366 days, pages over 500 and foreign cursors with BAD_USER_INPUT', async () => {
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ since: new Date(Date.now() - 367 * 86_400_000).toISOString() }, { argument: 'since', maximum: 366 }],
      [{ since: since(), first: 501 }, { argument: 'first', maximum: 500 }],
      [{ since: since(), first: 0 }, { argument: 'first', maximum: 500 }],
      [{ since: since(), after: 'not-a-cursor' }, { argument: 'after' }],
      [{ since: since(), until: since() }, { argument: 'since' }],
    ];
    for (const [variables, extensions] of cases) {
      const result = await audit(auditor, { subject: 'alice', ...variables });
      expect(result.body).toEqual({ data: null, errors: [{ message: expect.any(String), path: ['accessAudit'], extensions: { code: 'BAD_USER_INPUT', service: 'platform', ...extensions } }] });
    }
  });

  it('is refused without audit:read (FORBIDDEN), however much else the caller may read', async () => {
    for (const role of ['admin', 'sales-manager', 'data-product-owner']) {
      const token = await mintDevToken({ roles: [role], subject: 'alice' });
      const result = await audit(token, { subject: 'alice', since: since() });
      expect({ role, data: result.body.data ?? null, codes: codesOf(result) }).toEqual({ role, data: null, codes: ['FORBIDDEN'] });
    }
  });

  it('myAccess: a signed-in caller sees their own records (issuer and subject), nobody else\'s', async () => {
    const alice = await mintDevToken({ roles: ['marketing-analyst'], subject: 'alice' });
    const result = await postGraphQL<{ myAccess: Page }>(stack.url, MY_ACCESS, { token: alice, variables: { since: since() } });
    expect(result.body.errors).toBeUndefined();
    const records = result.body.data!.myAccess.records;
    expect(records.map((r) => [r.issuer, r.subject, r.seq])).toEqual([5, 4, 3, 2, 1].map((seq) => [DEV_ISSUER, 'alice', seq]));
    const mallory = await mintDevToken({ roles: ['admin'], subject: 'mallory' });
    const none = await postGraphQL<{ myAccess: Page }>(stack.url, MY_ACCESS, { token: mallory, variables: { since: since() } });
    expect(none.body).toEqual({ data: { myAccess: { records: [], hasNextPage: false, endCursor: null } } });
    const anonymous = await postGraphQL<{ myAccess: Page }>(stack.url, MY_ACCESS, { variables: { since: since() } });
    expect({ data: anonymous.body.data ?? null, codes: codesOf(anonymous) }).toEqual({ data: null, codes: ['FORBIDDEN'] });
  });

  it('myAccess: how often over the whole window (not only the page), per field and treatment, and the caller\'s budgets as this request left them', async () => {
    const FOOTPRINT = /* GraphQL */ `
      query Footprint($since: DateTime!) {
        myAccess(since: $since, first: 1) {
          records { seq }
          summary { coordinate treatment reads lastAt }
          budgets { scope requests remainingRequests cost remainingCost windowSeconds resetsAt }
        }
      }
    `;
    type Footprint = { myAccess: { records: { seq: number }[]; summary: { coordinate: string; treatment: string; reads: number; lastAt: string }[]; budgets: Record<string, unknown>[] } };
    const alice = await mintDevToken({ roles: ['marketing-analyst'], subject: 'alice' });
    const first = await postGraphQL<Footprint>(stack.url, FOOTPRINT, { token: alice, variables: { since: since() } });
    expect(first.body.errors).toBeUndefined();
    const mine = first.body.data!.myAccess;
    expect(mine.records).toEqual([{ seq: 5 }]);
    // Alice of the development issuer: three email reads, two phone reads; the other issuer's alice is not counted.
    expect(mine.summary).toEqual([
      { coordinate: 'Customer.email', treatment: 'clear', reads: 3, lastAt: new Date(base + 2 * 60_000).toISOString() },
      { coordinate: 'Customer.phone', treatment: 'clear', reads: 2, lastAt: new Date(base + 4 * 60_000).toISOString() },
    ]);
    // The budgets are the RateLimit headers' figures, as this very request left them.
    const policy = /"requests";q=(\d+);w=(\d+), "cost";q=(\d+)/.exec(first.headers.get('ratelimit-policy') ?? '')!;
    const state = /"requests";r=(\d+);t=\d+, "cost";r=(\d+)/.exec(first.headers.get('ratelimit') ?? '')!;
    const [caller] = mine.budgets;
    expect(caller).toEqual({
      scope: 'caller',
      requests: Number(policy[1]),
      remainingRequests: Number(state[1]),
      cost: Number(policy[3]),
      remainingCost: Number(state[2]),
      windowSeconds: Number(policy[2]),
      resetsAt: expect.any(String),
    });
    expect(Date.parse(caller!.resetsAt as string)).toBeGreaterThan(Date.now() - 1_000);
    const again = await postGraphQL<Footprint>(stack.url, FOOTPRINT, { token: alice, variables: { since: since() } });
    expect(again.body.data!.myAccess.budgets[0]!.remainingRequests).toBe(Number(state[1]) - 1);
  });

  it('the CLI prints what the API answers, and exits 1 when refused and 2 on a usage error', async () => {
    const api = (await audit(auditor, { subject: 'bob', since: since() })).body.data!.accessAudit.records;
    const cli = spawnTs('scripts/audit.ts', ['--subject', 'bob', '--since', '1d', '--json', '--gateway', stack.url, '--token', auditor], {});
    expect(await cli.exited).toBe(0);
    const printed = JSON.parse(cli.lines.map((l) => String(l.text ?? JSON.stringify(l))).join('\n')) as RecordView[];
    expect(printed).toEqual(api.map((r) => ({ at: r.at, subject: r.subject, clientName: r.clientName, operationName: r.operationName, outcome: r.outcome, requestId: r.requestId, accesses: r.accesses.map((a) => ({ coordinate: a.coordinate, treatment: a.treatment, product: a.product, productVersion: a.productVersion })) })));
    expect(printed.length).toBe(1);

    const refused = spawnTs('scripts/audit.ts', ['--subject', 'bob', '--since', '1d', '--gateway', stack.url, '--token', await mintDevToken({ roles: ['admin'] })], {});
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toContain('FORBIDDEN');
    const bad = spawnTs('scripts/audit.ts', ['--subject', 'bob'], {});
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('--since is required');
  }, 60_000);

  it('the CLI verifies the chains straight in the database, and names the first broken (writer, seq)', async () => {
    const env = { AUDIT_DATABASE_URL: db.url, AUDIT_SCHEMA: db.schema };
    const ok = spawnTs('scripts/audit.ts', ['verify'], env);
    expect(await ok.exited).toBe(0);
    expect(ok.lines.map((l) => l.text)).toContainEqual(expect.stringMatching(/^audit chains verified: \d+ writers, \d+ records$/));

    const sql = createPostgresAuditSql(db.url);
    try {
      await sql.query(`alter table ${db.schema}.records disable trigger records_append_only`);
      await sql.query(`update ${db.schema}.records set outcome = 'denied' where writer_id = $1 and seq = 3`, [writer.writerId]);
      await sql.query(`alter table ${db.schema}.records enable trigger records_append_only`);
    } finally {
      await sql.close();
    }
    const broken = spawnTs('scripts/audit.ts', ['verify'], env);
    expect(await broken.exited).toBe(1);
    expect(broken.lines.map((l) => l.text)).toContain(`BROKEN writer ${writer.writerId} at seq 3 (hash)`);
  }, 60_000);
});
