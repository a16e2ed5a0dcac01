import { hashedFields, type AuditAccess, type AuditEvent, type AuditOutcome, type ChainedRecord } from './model.js';
import { AUDIT_SCHEMA_PATTERN, auditRoles, ensureAuditSchema } from './schema.js';
import type { AuditSql, Row } from './sql.js';

/** A query of the trail: newest first, keyset-paginated. */
export interface AuditQuery {
  readonly issuer?: string | undefined;
  readonly subject?: string | undefined;
  readonly coordinate?: string | undefined;
  /** Inclusive, ms since the epoch. */
  readonly since: number;
  /** Exclusive, ms since the epoch. */
  readonly until: number;
  readonly first: number;
  /** The position of the last record of the previous page. */
  readonly after?: AuditPosition | undefined;
}

export interface AuditSummaryQuery {
  readonly issuer: string;
  readonly subject: string;
  /** Inclusive, ms since the epoch. */
  readonly since: number;
  /** Exclusive, ms since the epoch. */
  readonly until: number;
  readonly limit: number;
}

export interface AuditSummaryRow {
  readonly coordinate: string;
  readonly treatment: string;
  /** Operations that read (or were refused) the coordinate under this treatment. */
  readonly reads: number;
  /** The latest of them, ms since the epoch. */
  readonly lastAt: number;
}

export interface AuditPosition {
  readonly at: number;
  readonly writerId: string;
  readonly seq: number;
}

/** Where the audit records live. PostgreSQL or PGlite, the same SQL. */
export interface AuditStore {
  readonly kind: 'postgres' | 'embedded';
  readonly schema: string;
  /** Creates what is missing (idempotent, safe when several gateways start together). */
  init(): Promise<void>;
  /** One transaction, as the INSERT-only writer role: all of them or none. */
  insert(records: readonly ChainedRecord[]): Promise<void>;
  /** Records matching, newest first; read as the SELECT-only reader role. */
  find(query: AuditQuery): Promise<ChainedRecord[]>;
  /** One subject's reads in a window, counted per classified coordinate and treatment (at most `limit` rows, by coordinate). */
  summarize(query: AuditSummaryQuery): Promise<AuditSummaryRow[]>;
  /** Deletes whole prefixes of chains older than `before` and anchors them (the purge function). */
  purge(before: number): Promise<{ writers: number; rows: number }>;
  readonly sql: AuditSql;
  close(): Promise<void>;
}

const COLUMNS = [
  'writer_id', 'seq', 'kind', 'at', 'issuer', 'subject', 'client_name', 'client_version', 'roles', 'operation_name',
  'document_hash', 'accesses', 'request_id', 'trace_id', 'outcome', 'gap', 'prev_hash', 'hash',
] as const;

/** The row of a record, in COLUMNS order. */
function rowOf(record: ChainedRecord): unknown[] {
  const { event } = record;
  const at = new Date(event.at).toISOString();
  if (event.kind === 'gap') {
    const gap = hashedFields(record.writerId, record.seq, event).gap;
    return [record.writerId, record.seq, 'gap', at, null, null, null, null, '[]', null, null, '[]', null, null, null, JSON.stringify(gap), record.prevHash, record.hash];
  }
  const p = event.principal;
  return [
    record.writerId, record.seq, 'access', at, p.issuer, p.subject, p.clientName, p.clientVersion, JSON.stringify(p.roles), event.operationName,
    event.documentHash, JSON.stringify(event.accesses), event.requestId, event.traceId, event.outcome, null, record.prevHash, record.hash,
  ];
}

/** A row back as a record (what verification rehashes and the API returns). */
export function recordOf(row: Row): ChainedRecord {
  const at = new Date(row.at as string | Date).getTime();
  const writerId = row.writer_id as string;
  const seq = Number(row.seq);
  let event: AuditEvent;
  if (row.kind === 'gap') {
    const gap = row.gap as { records: number; from: string; to: string };
    event = { kind: 'gap', at, gap: { records: gap.records, from: Date.parse(gap.from), to: Date.parse(gap.to) } };
  } else {
    event = {
      kind: 'access',
      at,
      principal: {
        issuer: (row.issuer as string | null) ?? null,
        subject: (row.subject as string | null) ?? null,
        clientName: (row.client_name as string | null) ?? null,
        clientVersion: (row.client_version as string | null) ?? null,
        roles: row.roles as string[],
      },
      operationName: (row.operation_name as string | null) ?? null,
      documentHash: (row.document_hash as string | null) ?? null,
      accesses: row.accesses as AuditAccess[],
      requestId: row.request_id as string,
      traceId: (row.trace_id as string | null) ?? null,
      outcome: row.outcome as AuditOutcome,
    };
  }
  return { writerId, seq, event, prevHash: row.prev_hash as string, hash: row.hash as string };
}

export function createAuditStore(sql: AuditSql, schema: string): AuditStore {
  // Spliced into every statement: only a name the pattern allows.
  if (!AUDIT_SCHEMA_PATTERN.test(schema)) throw new Error(`invalid audit schema name "${schema}"`);
  const { writer, reader } = auditRoles(schema);
  return {
    kind: sql.kind,
    schema,
    sql,
    init: () => ensureAuditSchema(sql, schema),
    async insert(records) {
      if (records.length === 0) return;
      const params: unknown[] = [];
      const tuples = records.map((record) => {
        const row = rowOf(record);
        const start = params.length;
        params.push(...row);
        return `(${row.map((_, i) => `$${start + i + 1}`).join(', ')})`;
      });
      await sql.transaction(async (tx) => {
        // The role lasts this transaction: the gateway's own login never writes the trail directly.
        await tx.query(`set local role ${writer}`);
        await tx.query(`insert into ${schema}.records (${COLUMNS.join(', ')}) values ${tuples.join(', ')}`, params);
      });
    },
    async find(query) {
      const params: unknown[] = [new Date(query.since).toISOString(), new Date(query.until).toISOString()];
      const where = ['at >= $1', 'at < $2', "kind = 'access'"];
      if (query.issuer !== undefined) {
        params.push(query.issuer);
        where.push(`issuer = $${params.length}`);
      }
      if (query.subject !== undefined) {
        params.push(query.subject);
        where.push(`subject = $${params.length}`);
      }
      if (query.coordinate !== undefined) {
        params.push(JSON.stringify([{ coordinate: query.coordinate }]));
        where.push(`accesses @> $${params.length}::jsonb`);
      }
      if (query.after) {
        params.push(new Date(query.after.at).toISOString(), query.after.writerId, query.after.seq);
        const n = params.length;
        where.push(`(at, writer_id, seq) < ($${n - 2}::timestamptz, $${n - 1}, $${n})`);
      }
      params.push(query.first);
      return sql.transaction(async (tx) => {
        await tx.query(`set local role ${reader}`);
        const rows = await tx.query(
          `select ${COLUMNS.join(', ')} from ${schema}.records where ${where.join(' and ')} order by at desc, writer_id desc, seq desc limit $${params.length}`,
          params,
        );
        return rows.map(recordOf);
      });
    },
    async summarize(query) {
      return sql.transaction(async (tx) => {
        await tx.query(`set local role ${reader}`);
        // records_subject_at bounds the scan to the subject's window; an operation counts once per coordinate and treatment.
        const rows = await tx.query<{ coordinate: string; treatment: string; reads: string | number; last_at: string | Date }>(
          `select a->>'coordinate' as coordinate, a->>'treatment' as treatment, count(distinct (writer_id, seq)) as reads, max(at) as last_at
             from ${schema}.records r, jsonb_array_elements(r.accesses) a
            where r.subject = $1 and r.issuer = $2 and r.at >= $3 and r.at < $4 and r.kind = 'access'
            group by 1, 2 order by 1, 2 limit $5`,
          [query.subject, query.issuer, new Date(query.since).toISOString(), new Date(query.until).toISOString(), query.limit],
        );
        return rows.map((row) => ({ coordinate: row.coordinate, treatment: row.treatment, reads: Number(row.reads), lastAt: new Date(row.last_at).getTime() }));
      });
    },
    async purge(before) {
      const rows = await sql.query<{ purged_rows: string | number }>(`select purged_rows from ${schema}.purge($1)`, [new Date(before).toISOString()]);
      return { writers: rows.length, rows: rows.reduce((sum, row) => sum + Number(row.purged_rows), 0) };
    },
    close: () => sql.close(),
  };
}
