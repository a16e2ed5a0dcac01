import type { Logger } from '../../lib/logger.js';
import type { AuditReader } from '../../subgraphs/platform/index.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import { createPurgeJob } from './purge.js';
import { createAuditReader } from './reader.js';
import type { AuditSql } from './sql.js';
import { createAuditStore, type AuditStore } from './store.js';
import { createAuditWriter, type AuditWriter } from './writer.js';

export interface AuditTrail {
  /** Appends records and is the gate authorization asks (AuditGate). */
  readonly writer: AuditWriter;
  readonly reader: AuditReader;
  /** Writes what is queued now; resolves true when the store has everything. */
  flush(): Promise<boolean>;
  /** Purges records past retention now (the job also runs every AUDIT_PURGE_INTERVAL_MS). */
  purgeNow(): Promise<{ writers: number; rows: number } | undefined>;
  /** Stops the purge job, writes what is queued (bounded by `deadlineMs` of real time), closes the store. */
  close(deadlineMs: number): Promise<void>;
}

/** Loaded on first use: a gateway that never audits anything never loads pg or PGlite (about 100 ms of start). */
export async function openAuditSql(store: GatewayConfig['audit']['store']): Promise<AuditSql> {
  const { createEmbeddedAuditSql, createPostgresAuditSql } = await import('./sql.js');
  return store.kind === 'postgres' ? createPostgresAuditSql(store.url) : createEmbeddedAuditSql(store.dataDir);
}

/**
 * A store opened and initialised on first use, and again after a failed attempt: the gateway
 * starts without waiting for the audit database (an embedded one takes seconds and hundreds of MB,
 * paid only once something is audited), and a database that was down at start is picked up when
 * it is back. Until then writes fail, so the gate says "not accepting".
 */
function lazyStore(kind: AuditStore['kind'], open: () => Promise<AuditSql>, schema: string): AuditStore & { opened(): boolean } {
  let ready: Promise<AuditStore> | undefined;
  let opened: AuditStore | undefined;
  const get = () => {
    ready ??= (async () => {
      const sql = await open();
      const store = createAuditStore(sql, schema);
      try {
        await store.init();
      } catch (error) {
        await sql.close().catch(() => undefined);
        throw error;
      }
      opened = store;
      return store;
    })().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
  return {
    kind,
    schema,
    get sql() {
      if (!opened) throw new Error('audit store not open');
      return opened.sql;
    },
    init: async () => void (await get()),
    insert: async (records) => (await get()).insert(records),
    find: async (query) => (await get()).find(query),
    summarize: async (query) => (await get()).summarize(query),
    purge: async (before) => (await get()).purge(before),
    opened: () => opened !== undefined,
    close: async () => {
      const store = await ready?.catch(() => undefined);
      await store?.close();
    },
  };
}

/** The audit trail as configured: store (PostgreSQL or embedded), writer, reader, purge job. */
export function createAuditTrail(config: Pick<GatewayConfig, 'audit'>, logger: Logger, metrics: GatewayMetrics, now: () => number = Date.now): AuditTrail {
  const settings = config.audit;
  const store = lazyStore(settings.store.kind === 'postgres' ? 'postgres' : 'embedded', () => openAuditSql(settings.store), settings.schema);
  const writer = createAuditWriter({
    store,
    level: settings.level,
    failMode: settings.failMode,
    queueMax: settings.queueMax,
    flushIntervalMs: settings.flushIntervalMs,
    logger,
    now,
    onWrite: ({ ok, records, queued }) => {
      if (ok) metrics.auditRecords.inc(records);
      else metrics.auditWriteFailures.inc();
      metrics.auditQueueDepth.set(queued);
    },
    onGap: (records) => metrics.auditGapRecords.inc(records),
  });
  // An in-memory store never opened holds nothing to purge: not worth opening for that.
  const inMemory = settings.store.kind === 'embedded' && settings.store.dataDir === undefined;
  const purge = createPurgeJob({
    store: { purge: (before) => (inMemory && !store.opened() ? Promise.resolve({ writers: 0, rows: 0 }) : store.purge(before)) },
    retentionMs: settings.retentionMs,
    intervalMs: settings.purgeIntervalMs,
    logger,
    now,
    onPurged: (rows) => metrics.auditPurgedRecords.inc(rows),
  });
  return {
    writer,
    reader: createAuditReader(store, now),
    flush: () => writer.flush(),
    purgeNow: () => purge.runNow(),
    async close(deadlineMs) {
      purge.stop();
      await writer.close(deadlineMs);
      await store.close();
    },
  };
}
