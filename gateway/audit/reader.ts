import { gqlError } from '../../lib/errors.js';
import type { AuditPage, AuditReader, AuditRecordView } from '../../subgraphs/platform/index.js';
import type { ChainedRecord } from './model.js';
import type { AuditPosition, AuditStore } from './store.js';

/** A cursor is the last record's position (at, writer, seq), opaque to clients. */
export function cursorOf(record: ChainedRecord): string {
  return Buffer.from(JSON.stringify([record.event.at, record.writerId, record.seq])).toString('base64url');
}

function positionOf(cursor: string): AuditPosition {
  try {
    const [at, writerId, seq] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'number' && typeof writerId === 'string' && typeof seq === 'number' && Number.isSafeInteger(at) && Number.isSafeInteger(seq)) return { at, writerId, seq };
  } catch {
    // Not JSON: the same answer as any other bad cursor, below.
  }
  throw gqlError('BAD_USER_INPUT', 'after is not a cursor this API returned', { argument: 'after' });
}

function viewOf(record: ChainedRecord): AuditRecordView | undefined {
  const { event } = record;
  if (event.kind !== 'access') return undefined;
  return {
    at: new Date(event.at),
    writerId: record.writerId,
    seq: record.seq,
    issuer: event.principal.issuer,
    subject: event.principal.subject,
    clientName: event.principal.clientName,
    clientVersion: event.principal.clientVersion,
    roles: [...event.principal.roles],
    operationName: event.operationName,
    documentHash: event.documentHash,
    accesses: event.accesses.map((a) => ({ ...a })),
    requestId: event.requestId,
    traceId: event.traceId,
    outcome: event.outcome,
    hash: record.hash,
  };
}

/** The platform API's view of the store: pages of access records, newest first. */
export function createAuditReader(store: Pick<AuditStore, 'find' | 'summarize'>, now: () => number): AuditReader {
  return {
    now,
    async read(query): Promise<AuditPage> {
      const after = query.after ? positionOf(query.after) : undefined;
      // One more than asked: whether there is a next page, without counting.
      const found = await store.find({ issuer: query.issuer, subject: query.subject, coordinate: query.coordinate, since: query.since.getTime(), until: query.until.getTime(), first: query.first + 1, after });
      const page = found.slice(0, query.first);
      return {
        records: page.flatMap((record) => viewOf(record) ?? []),
        hasNextPage: found.length > query.first,
        endCursor: page.length ? cursorOf(page.at(-1)!) : null,
      };
    },
    async summarize(query) {
      const rows = await store.summarize({ issuer: query.issuer, subject: query.subject, since: query.since.getTime(), until: query.until.getTime(), limit: query.limit });
      return rows.map((row) => ({ coordinate: row.coordinate, treatment: row.treatment, reads: row.reads, lastAt: new Date(row.lastAt) }));
    },
  };
}
