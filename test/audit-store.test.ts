import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, chainHash, GENESIS_HASH, hashedFields } from '../gateway/audit/model.js';
import { auditRoles } from '../gateway/audit/schema.js';
import { createEmbeddedAuditSql, createPostgresAuditSql, type AuditSql } from '../gateway/audit/sql.js';
import { createAuditStore, recordOf, type AuditStore } from '../gateway/audit/store.js';
import { verifyAuditChains } from '../gateway/audit/verify.js';
import { createAuditWriter } from '../gateway/audit/writer.js';
import { createLogger } from '../lib/logger.js';
import { accessEvent, createScratchAuditDb } from './helpers/audit.js';

/*
 * The audit store on real PostgreSQL (a scratch database, when DATABASE_URL is set) and on the
 * embedded PGlite: the same SQL, the same guarantees. The writer role can only insert, the trail
 * refuses updates and deletes from anyone, the chain verification finds an edited or removed row
 * at its (writer, seq), and a purge keeps the rest verifiable.
 */
const silent = createLogger('test', 'silent');
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1, 12);

interface Backend {
  readonly name: string;
  open(): Promise<{ sql: AuditSql; schema: string; close(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'embedded PGlite',
    async open() {
      const sql = await createEmbeddedAuditSql(undefined);
      return { sql, schema: 'dpg_audit', close: () => sql.close() };
    },
  },
];
const databaseUrl = process.env.DATABASE_URL;
if (databaseUrl) {
  backends.unshift({
    name: 'PostgreSQL',
    async open() {
      const db = await createScratchAuditDb(databaseUrl);
      const sql = createPostgresAuditSql(db.url);
      return {
        sql,
        schema: db.schema,
        async close() {
          await sql.close();
          await db.drop();
        },
      };
    },
  });
}

/** The error a statement fails with, as the database reports it. */
async function failure(run: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await run();
  } catch (error) {
    const e = error as { code?: string; message: string };
    return { code: e.code ?? '', message: e.message };
  }
  throw new Error('expected the statement to fail');
}

describe.each(backends)('audit store on $name', (backend) => {
  let sql: AuditSql;
  let schema: string;
  let store: AuditStore;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ sql, schema, close } = await backend.open());
    store = createAuditStore(sql, schema);
    // Twice at once, as two gateways starting together do: the advisory lock serializes them.
    await Promise.all([store.init(), createAuditStore(sql, schema).init()]);
    await store.init();
  }, 120_000);
  afterAll(async () => {
    await close?.();
  });

  it('the writer role can only insert: UPDATE, DELETE, TRUNCATE and the purge function are refused', async () => {
    const { writer } = auditRoles(schema);
    await store.insert(chain('w-roles', { seq: 0, hash: GENESIS_HASH }, [accessEvent(T0)]));
    const asWriter = (statement: string) => failure(() => sql.transaction(async (tx) => {
      await tx.query(`set local role ${writer}`);
      await tx.query(statement);
    }));
    for (const statement of [
      `update ${schema}.records set subject = 'mallory'`,
      `delete from ${schema}.records`,
      `truncate ${schema}.records`,
      `select * from ${schema}.purge(now())`,
      `select count(*) from ${schema}.records`,
    ]) {
      const error = await asWriter(statement);
      expect({ statement, code: error.code, permission: /permission denied/.test(error.message) }).toEqual({ statement, code: '42501', permission: true });
    }
  });

  it('nobody updates or deletes a record, not even the owner: the trigger refuses', async () => {
    for (const statement of [`update ${schema}.records set subject = 'mallory'`, `delete from ${schema}.records where writer_id = 'w-roles'`]) {
      const error = await failure(() => sql.query(statement));
      expect({ code: error.code, appendOnly: /append-only/.test(error.message) }).toEqual({ code: '42501', appendOnly: true });
    }
    expect(await sql.query(`select subject from ${schema}.records where writer_id = 'w-roles'`)).toEqual([{ subject: 'alice' }]);
  });

  it('the chain verifies, and an edited row or a removed one is found at its writer and seq', async () => {
    const writer = createAuditWriter({ store, level: 'PII', failMode: 'closed', queueMax: 100, batchMax: 4, flushIntervalMs: 60_000, logger: silent });
    for (let i = 0; i < 10; i++) writer.append(accessEvent(T0 + i * 1_000, { principal: { issuer: 'https://issuer.test', subject: `s${i}`, clientName: 'web', clientVersion: null, roles: ['auditor'] } }));
    expect(await writer.flush()).toBe(true);
    await writer.close(1_000);
    const clean = await verifyAuditChains(sql, schema);
    expect(clean.breaks).toEqual([]);
    expect(clean.records).toBeGreaterThanOrEqual(11);

    // As the superuser, trigger off: what a tamperer with full access does.
    const tamper = async (statement: string) => {
      await sql.query(`alter table ${schema}.records disable trigger records_append_only`);
      try {
        await sql.query(statement, [writer.writerId]);
      } finally {
        await sql.query(`alter table ${schema}.records enable trigger records_append_only`);
      }
    };
    await tamper(`update ${schema}.records set subject = 'someone-else' where writer_id = $1 and seq = 6`);
    expect((await verifyAuditChains(sql, schema)).breaks).toEqual([{ writerId: writer.writerId, seq: 6, problem: 'hash' }]);
    // Rehashing the edited row correctly does not help: the next row's link breaks instead.
    const [edited] = await sql.query(`select * from ${schema}.records where writer_id = $1 and seq = 6`, [writer.writerId]);
    const record = recordOf(edited!);
    const rehashed = chainHash(record.prevHash, hashedFields(record.writerId, record.seq, record.event));
    await tamper(`update ${schema}.records set hash = '${rehashed}' where writer_id = $1 and seq = 6`);
    expect((await verifyAuditChains(sql, schema)).breaks).toEqual([{ writerId: writer.writerId, seq: 7, problem: 'link' }]);
    await tamper(`delete from ${schema}.records where writer_id = $1 and seq = 3`);
    expect((await verifyAuditChains(sql, schema)).breaks).toEqual([{ writerId: writer.writerId, seq: 3, problem: 'missing' }]);
  });

  it('purge deletes whole prefixes of chains, anchors them, and verification stays green', async () => {
    const now = () => T0 + 400 * DAY;
    const writer = createAuditWriter({ store, level: 'PII', failMode: 'closed', queueMax: 100, batchMax: 3, flushIntervalMs: 60_000, logger: silent, now });
    // Five records past a year's retention, three within it.
    for (let i = 0; i < 5; i++) writer.append(accessEvent(T0 + i * DAY));
    for (let i = 0; i < 3; i++) writer.append(accessEvent(now() - i * DAY));
    expect(await writer.flush()).toBe(true);
    await writer.close(1_000);
    const before = await sql.query<{ n: string | number }>(`select count(*) as n from ${schema}.records where writer_id = $1`, [writer.writerId]);
    expect(Number(before[0]!.n)).toBe(8);

    const purged = await store.purge(now() - 365 * DAY);
    expect(purged.rows).toBeGreaterThanOrEqual(5);
    const left = await sql.query<{ seq: string | number }>(`select seq from ${schema}.records where writer_id = $1 order by seq`, [writer.writerId]);
    expect(left.map((r) => Number(r.seq))).toEqual([6, 7, 8]);
    const [anchor] = await sql.query<{ seq: string | number }>(`select seq from ${schema}.anchors where writer_id = $1`, [writer.writerId]);
    expect(Number(anchor!.seq)).toBe(5);
    const result = await verifyAuditChains(sql, schema);
    expect(result.breaks.filter((b) => b.writerId === writer.writerId)).toEqual([]);
    // Purging again finds nothing more of this writer's to delete.
    await store.purge(now() - 365 * DAY);
    expect((await sql.query(`select seq from ${schema}.records where writer_id = $1`, [writer.writerId])).length).toBe(3);
  });

  it('finds records by subject and coordinate, newest first, page by page', async () => {
    const writer = createAuditWriter({ store, level: 'PII', failMode: 'closed', queueMax: 100, flushIntervalMs: 60_000, logger: silent });
    const base = T0 + 10 * DAY;
    for (let i = 0; i < 5; i++) {
      writer.append(accessEvent(base + i * 1_000, {
        principal: { issuer: 'https://issuer.test', subject: 'find-me', clientName: 'web', clientVersion: null, roles: [] },
        accesses: [{ coordinate: i % 2 ? 'Customer.phone' : 'Customer.email', level: 'PII', kind: null, treatment: 'masked', product: 'customer', productVersion: null }],
      }));
    }
    expect(await writer.flush()).toBe(true);
    await writer.close(1_000);
    const window = { since: base, until: base + DAY };
    const first = await store.find({ ...window, subject: 'find-me', first: 2 });
    expect(first.map((r) => r.event.at)).toEqual([base + 4_000, base + 3_000]);
    const last = first.at(-1)!;
    const second = await store.find({ ...window, subject: 'find-me', first: 10, after: { at: last.event.at, writerId: last.writerId, seq: last.seq } });
    expect(second.map((r) => r.event.at)).toEqual([base + 2_000, base + 1_000, base]);
    const phones = await store.find({ ...window, subject: 'find-me', coordinate: 'Customer.phone', first: 10 });
    expect(phones.map((r) => r.event.at)).toEqual([base + 3_000, base + 1_000]);
    expect(await store.find({ ...window, subject: 'nobody', first: 10 })).toEqual([]);
  });
});
