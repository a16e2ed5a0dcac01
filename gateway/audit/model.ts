import { createHash } from 'node:crypto';
import type { ClassificationLevel, PersonalDataKind, Treatment } from '../../lib/classification/model.js';

/** How an audited operation ended (usage's `forbidden` and `rejected` are `denied` here: the read was refused). */
export const AUDIT_OUTCOMES = ['ok', 'partial', 'denied', 'error', 'rate_limited'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** One classified field an audited operation read or was refused. */
export interface AuditAccess {
  readonly coordinate: string;
  readonly level: ClassificationLevel;
  readonly kind: PersonalDataKind | null;
  readonly treatment: Treatment;
  /** The data product (subgraph) serving it; null when the catalogue does not know it. */
  readonly product: string | null;
  /** The product's descriptor version when the record was made; null when never published. */
  readonly productVersion: string | null;
}

/** Who asked, as the token said. */
export interface AuditPrincipal {
  readonly issuer: string | null;
  readonly subject: string | null;
  readonly clientName: string | null;
  readonly clientVersion: string | null;
  readonly roles: readonly string[];
}

/** What the stage hands the writer: one audited operation. */
export interface AccessEvent {
  readonly kind: 'access';
  /** ms since the epoch. */
  readonly at: number;
  readonly principal: AuditPrincipal;
  readonly operationName: string | null;
  /** sha256 of the document, hex. */
  readonly documentHash: string | null;
  readonly accesses: readonly AuditAccess[];
  readonly requestId: string;
  readonly traceId: string | null;
  readonly outcome: AuditOutcome;
}

/** Records the writer could not keep (fail-open, or a full queue), written into the chain once the store is back. */
export interface GapEvent {
  readonly kind: 'gap';
  readonly at: number;
  readonly gap: { readonly records: number; readonly from: number; readonly to: number };
}

export type AuditEvent = AccessEvent | GapEvent;

/** An event placed in its writer's chain: what is stored, one row. */
export interface ChainedRecord {
  readonly writerId: string;
  /** 1, 2, 3... per writer, without gaps. */
  readonly seq: number;
  readonly event: AuditEvent;
  readonly prevHash: string;
  readonly hash: string;
}

/** The prev_hash of a writer's first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every depth: one text for one value, whatever order it was built in. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The hashed fields of a record, exactly as its row's columns hold them (instants as ISO strings),
 * so verification rebuilds them from the row alone. writer and seq are in: a row cannot be moved.
 */
export function hashedFields(writerId: string, seq: number, event: AuditEvent): Record<string, unknown> {
  const base = { writerId, seq, kind: event.kind, at: new Date(event.at).toISOString() };
  if (event.kind === 'gap') return { ...base, gap: { records: event.gap.records, from: new Date(event.gap.from).toISOString(), to: new Date(event.gap.to).toISOString() } };
  return {
    ...base,
    issuer: event.principal.issuer,
    subject: event.principal.subject,
    clientName: event.principal.clientName,
    clientVersion: event.principal.clientVersion,
    roles: event.principal.roles,
    operationName: event.operationName,
    documentHash: event.documentHash,
    accesses: event.accesses,
    requestId: event.requestId,
    traceId: event.traceId,
    outcome: event.outcome,
  };
}

/** sha256(prev_hash + canonical JSON of the fields), hex. */
export function chainHash(prevHash: string, fields: Record<string, unknown>): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(fields)).digest('hex');
}

/** Places events after (seq, hash) in a writer's chain. */
export function chain(writerId: string, after: { seq: number; hash: string }, events: readonly AuditEvent[]): ChainedRecord[] {
  const out: ChainedRecord[] = [];
  let { seq, hash } = after;
  for (const event of events) {
    seq += 1;
    const prevHash = hash;
    hash = chainHash(prevHash, hashedFields(writerId, seq, event));
    out.push({ writerId, seq, event, prevHash, hash });
  }
  return out;
}
