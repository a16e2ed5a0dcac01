import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { HeaderMap, type GraphQLResponse } from '@apollo/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditTrail, type AuditTrail } from '../gateway/audit/create.js';
import type { AccessEvent } from '../gateway/audit/model.js';
import { createPostgresAuditSql } from '../gateway/audit/sql.js';
import { verifyAuditChains } from '../gateway/audit/verify.js';
import { loadConfig } from '../gateway/config.js';
import { newOperationState, type GatewayContext, type OperationState } from '../gateway/context.js';
import { createMetrics, type GatewayMetrics } from '../gateway/metrics.js';
import { auditStage } from '../gateway/pipeline/audit.js';
import type { Responding } from '../gateway/pipeline/stage.js';
import type { ClassifiedAccess } from '../lib/classification/model.js';
import { createLogger } from '../lib/logger.js';
import type { Principal } from '../lib/principal.js';
import { accessEvent, createScratchAuditDb } from './helpers/audit.js';

const silent = createLogger('test', 'silent');
const T0 = Date.UTC(2026, 10, 30, 12);

/**
 * A TCP proxy in front of PostgreSQL that the test cuts (every connection dropped, new ones
 * refused at once) and restores: the audit database going down mid-run, without touching the
 * shared server.
 */
async function startCuttableProxy(target: { host: string; port: number }): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  let down = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    cut() {
      down = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

const databaseUrl = process.env.DATABASE_URL;

describe.skipIf(!databaseUrl)('audit writer with the audit database going down mid-run', () => {
  let db: Awaited<ReturnType<typeof createScratchAuditDb>>;
  let proxy: Awaited<ReturnType<typeof startCuttableProxy>>;
  let proxiedUrl: string;

  beforeAll(async () => {
    db = await createScratchAuditDb(databaseUrl!);
    const url = new URL(db.url);
    proxy = await startCuttableProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    proxiedUrl = url.toString();
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await db?.drop();
  });

  function trailWith(failMode: 'closed' | 'open', queueMax: number): { trail: AuditTrail; metrics: GatewayMetrics } {
    const config = loadConfig({ AUDIT_DATABASE_URL: proxiedUrl, AUDIT_SCHEMA: db.schema, AUDIT_FAIL_MODE: failMode, AUDIT_QUEUE_MAX: String(queueMax), AUDIT_FLUSH_MS: '60000', AUDIT_PURGE_INTERVAL_MS: '0' });
    const metrics = createMetrics();
    return { trail: createAuditTrail(config, silent, metrics, () => T0), metrics };
  }
  const subject = (subject: string): AccessEvent => accessEvent(T0, { principal: { issuer: 'https://issuer.test', subject, clientName: 'web', clientVersion: null, roles: [] } });

  /** This writer's rows, in chain order, as (kind, subject or gap size). */
  async function rowsOf(writerId: string): Promise<string[]> {
    const sql = createPostgresAuditSql(db.url);
    try {
      const rows = await sql.query<{ kind: string; subject: string | null; gap: { records: number } | null }>(`select kind, subject, gap from ${db.schema}.records where writer_id = $1 order by seq`, [writerId]);
      return rows.map((r) => (r.kind === 'gap' ? `gap:${r.gap!.records}` : r.subject!));
    } finally {
      await sql.close();
    }
  }
  async function verify() {
    const sql = createPostgresAuditSql(db.url);
    try {
      return await verifyAuditChains(sql, db.schema);
    } finally {
      await sql.close();
    }
  }

  it('closed: while the store is down the gate is not accepting; what was queued is written, in order, when it is back', async () => {
    const { trail } = trailWith('closed', 100);
    const { writer } = trail;
    expect(writer.failMode).toBe('closed');
    writer.append(subject('a'));
    expect(await trail.flush()).toBe(true);
    expect(writer.accepting()).toBe(true);

    proxy.cut();
    writer.append(subject('b'));
    expect(await trail.flush()).toBe(false);
    expect(writer.accepting()).toBe(false);
    writer.append(subject('c'));
    expect(await trail.flush()).toBe(false);
    expect(writer.accepting()).toBe(false);

    proxy.restore();
    expect(await trail.flush()).toBe(true);
    expect(writer.accepting()).toBe(true);
    expect(await rowsOf(writer.writerId)).toEqual(['a', 'b', 'c']);
    expect((await verify()).breaks).toEqual([]);
    await trail.close(1_000);
  }, 60_000);

  it('open: records beyond the queue are counted, and a gap record saying how many is written into the chain when the store is back', async () => {
    const { trail, metrics } = trailWith('open', 3);
    const { writer } = trail;
    writer.append(subject('a'));
    expect(await trail.flush()).toBe(true);

    proxy.cut();
    writer.append(subject('b'));
    expect(await trail.flush()).toBe(false); // b is the batch in flight, retried as it is
    for (const s of ['c', 'd', 'e']) writer.append(subject(s)); // the queue is full
    expect(writer.accepting()).toBe(false);
    for (const s of ['f', 'g']) writer.append(subject(s)); // not kept: counted
    expect((await metrics.auditGapRecords.get()).values[0]?.value).toBe(2);
    expect(writer.pending()).toBe(4);

    proxy.restore();
    expect(await trail.flush()).toBe(true);
    expect(writer.accepting()).toBe(true);
    // Nothing silently lost: five records kept and a gap of two, in the order they came.
    expect(await rowsOf(writer.writerId)).toEqual(['a', 'b', 'gap:2', 'c', 'd', 'e']);
    expect((await verify()).breaks).toEqual([]);
    expect((await metrics.auditRecords.get()).values[0]?.value).toBe(6);
    await trail.close(1_000);
  }, 60_000);

  it('shutdown ends within its deadline while the store is down, and says what it could not write', async () => {
    const { trail } = trailWith('closed', 10);
    proxy.cut();
    trail.writer.append(subject('z'));
    await trail.close(300);
    expect(trail.writer.pending()).toBe(1);
    proxy.restore();
  }, 60_000);
});

describe('audit stage', () => {
  const principal: Principal = { kind: 'authenticated', issuer: 'https://issuer.test', subject: 'alice', clientId: 'cli', roles: new Set(['sales-manager', 'admin']), scopes: new Set() };
  const email: ClassifiedAccess = { coordinate: 'Customer.email', classification: { level: 'PII', kind: 'EMAIL' }, treatment: 'clear' };
  const phone: ClassifiedAccess = { coordinate: 'Customer.phone', classification: { level: 'SENSITIVE_PII', kind: 'PHONE' }, treatment: 'denied' };
  const country: ClassifiedAccess = { coordinate: 'Customer.country', classification: { level: 'INTERNAL', kind: undefined }, treatment: 'clear' };
  const query = 'query Emails { customers { email phone country } }';

  function responding(classified: readonly ClassifiedAccess[], body: { data?: Record<string, unknown> | null; errors?: { message: string }[] }, state: Partial<OperationState> = {}): Responding {
    const operation: OperationState = { ...newOperationState(), classified, ...state };
    const headers = new HeaderMap([['apollographql-client-name', 'Web'], ['apollographql-client-version', '2.1']]);
    const response = { http: { status: 200, headers: new HeaderMap() }, body: { kind: 'single', singleResult: body } } as unknown as GraphQLResponse;
    return {
      // The client as the request's context carries it (from these headers, computed once at admission).
      context: { requestId: 'req-1', principal, operation, client: { id: undefined, name: 'web', version: '2.1', policy: 'open' } } as unknown as GatewayContext,
      state: operation,
      request: { query, http: { method: 'POST', headers, search: '', body: {} } },
      response,
      errors: undefined,
      operationName: 'Emails',
    };
  }
  function run(r: Responding): AccessEvent[] {
    const sink: AccessEvent[] = [];
    const stage = auditStage({ sink: { append: (e) => sink.push(e) }, level: 'PII', productOf: (c) => (c.startsWith('Customer.') ? 'customer' : undefined), versionOf: (p) => (p === 'customer' ? '1.4.0' : undefined), now: () => T0 });
    void stage.responding!(r);
    return sink;
  }

  it('one record per operation with the fields at or above the level, their treatment, product and version', () => {
    expect(run(responding([email, phone, country], { data: { customers: [] }, errors: [{ message: 'forbidden' }] }, { forbiddenErrors: 1 }))).toEqual([
      {
        kind: 'access',
        at: T0,
        principal: { issuer: 'https://issuer.test', subject: 'alice', clientName: 'web', clientVersion: '2.1', roles: ['admin', 'sales-manager'] },
        operationName: 'Emails',
        documentHash: createHash('sha256').update(query).digest('hex'),
        accesses: [
          { coordinate: 'Customer.email', level: 'PII', kind: 'EMAIL', treatment: 'clear', product: 'customer', productVersion: '1.4.0' },
          { coordinate: 'Customer.phone', level: 'SENSITIVE_PII', kind: 'PHONE', treatment: 'denied', product: 'customer', productVersion: '1.4.0' },
        ],
        requestId: 'req-1',
        traceId: null,
        outcome: 'partial',
      },
    ]);
  });

  it('nothing at or above the level: no record', () => {
    expect(run(responding([country], { data: {} }))).toEqual([]);
    expect(run(responding([], { data: {} }))).toEqual([]);
  });

  it.each([
    ['ok', [email], { data: { customers: [] } }, {}],
    ['denied', [phone], { data: { customers: [] }, errors: [{ message: 'forbidden' }] }, { forbiddenErrors: 1 }],
    ['error', [email], { data: null, errors: [{ message: 'boom' }] }, {}],
    ['partial', [email], { data: { customers: null }, errors: [{ message: 'boom' }] }, {}],
    ['rate_limited', [email], { errors: [{ message: 'slow down' }] }, { refusal: 'rate_limited' as const }],
    ['denied', [email], { errors: [{ message: 'too big' }] }, { refusal: 'rejected' as const }],
  ])('outcome %s', (outcome, classified, body, state) => {
    expect(run(responding(classified, body, state)).map((e) => e.outcome)).toEqual([outcome]);
  });
});
