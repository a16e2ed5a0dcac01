import { chainHash, GENESIS_HASH, hashedFields } from './model.js';
import { recordOf } from './store.js';
import type { SqlQueryable } from './sql.js';

/** Where a chain first breaks, and why. */
export interface ChainBreak {
  readonly writerId: string;
  readonly seq: number;
  /** missing: no row with this seq; link: prev_hash is not the previous hash; hash: the row's fields do not hash to its hash. */
  readonly problem: 'missing' | 'link' | 'hash';
}

export interface VerifyResult {
  readonly writers: number;
  readonly records: number;
  /** Every broken chain's first break, one per writer; empty when everything verifies. */
  readonly breaks: readonly ChainBreak[];
}

/** Rows read per round trip: verification walks any size of trail in bounded memory. */
const PAGE = 1_000;

/**
 * Walks every writer's chain from its anchor (where a purge ended it) or its genesis: seqs without
 * gaps, each prev_hash the previous hash, each hash the hash of its row's fields. Run with the
 * database's own connection (not through the gateway), by `npm run audit -- verify`.
 */
export async function verifyAuditChains(sql: SqlQueryable, schema: string): Promise<VerifyResult> {
  const anchors = new Map(
    (await sql.query<{ writer_id: string; seq: string | number; hash: string }>(`select writer_id, seq, hash from ${schema}.anchors`)).map((a) => [a.writer_id, { seq: Number(a.seq), hash: a.hash }]),
  );
  const writers = (await sql.query<{ writer_id: string }>(`select distinct writer_id from ${schema}.records order by writer_id`)).map((r) => r.writer_id);
  const breaks: ChainBreak[] = [];
  let records = 0;
  for (const writerId of writers) {
    const anchor = anchors.get(writerId);
    let expected = (anchor?.seq ?? 0) + 1;
    let prev = anchor?.hash ?? GENESIS_HASH;
    let broken: ChainBreak | undefined;
    while (!broken) {
      const rows = await sql.query(`select * from ${schema}.records where writer_id = $1 and seq >= $2 order by seq limit ${PAGE}`, [writerId, expected]);
      if (rows.length === 0) break;
      for (const row of rows) {
        const record = recordOf(row);
        records += 1;
        if (record.seq !== expected) broken = { writerId, seq: expected, problem: 'missing' };
        else if (record.prevHash !== prev) broken = { writerId, seq: record.seq, problem: 'link' };
        else if (chainHash(record.prevHash, hashedFields(writerId, record.seq, record.event)) !== record.hash) broken = { writerId, seq: record.seq, problem: 'hash' };
        if (broken) break;
        expected += 1;
        prev = record.hash;
      }
    }
    // Rows before the anchor, left behind by an edit of the anchor or an insert: also a break.
    if (!broken && anchor) {
      const [early] = await sql.query<{ seq: string | number }>(`select min(seq) as seq from ${schema}.records where writer_id = $1 and seq <= $2`, [writerId, anchor.seq]);
      if (early?.seq !== null && early?.seq !== undefined) broken = { writerId, seq: Number(early.seq), problem: 'link' };
    }
    if (broken) breaks.push(broken);
  }
  return { writers: writers.length, records, breaks };
}
