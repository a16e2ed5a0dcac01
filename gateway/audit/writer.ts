import { serialRounds } from '../../lib/serial-rounds.js';
import { randomUUID } from 'node:crypto';
import type { AuditGate, ClassificationLevel } from '../../lib/classification/model.js';
import type { Logger } from '../../lib/logger.js';
import { chain, GENESIS_HASH, type AccessEvent, type AuditEvent, type ChainedRecord } from './model.js';
import type { AuditStore } from './store.js';

export interface AuditWriterOptions {
  store: Pick<AuditStore, 'insert'>;
  /** Audited at or above this level (the gate tells authorization). */
  level: ClassificationLevel;
  failMode: 'closed' | 'open';
  /** Records waiting for the store, at most; more are not kept (a gap). */
  queueMax: number;
  /** Records per INSERT, at most; a full batch is flushed at once. @default 100 */
  batchMax?: number;
  /** Between flushes, in ms. */
  flushIntervalMs: number;
  logger: Logger;
  now?: () => number;
  /** Called after each write attempt, for metrics. */
  onWrite?: (result: { ok: boolean; records: number; queued: number }) => void;
  /** Called for each record that could not be kept. */
  onGap?: (records: number) => void;
}

/** Writes the trail. The gate authorization asks before it serves an audited field. */
export interface AuditWriter extends AuditGate {
  /** This process's chain. */
  readonly writerId: string;
  /** Queues a record; never waits. A record that cannot be queued is counted in a gap. */
  append(event: AccessEvent): void;
  /** Writes what is queued now (in-flight batch first); resolves true when the store has everything. */
  flush(): Promise<boolean>;
  /** Records queued or in flight. */
  pending(): number;
  /** Stops the timer and flushes until everything is written or `deadlineMs` (real time) passes. */
  close(deadlineMs: number): Promise<void>;
}

export const DEFAULT_AUDIT_BATCH_MAX = 100;
/** On close, between attempts to write to a store that failed. */
const CLOSE_RETRY_MS = 200;

/**
 * A bounded queue in front of the store, batched like usage. Order and the chain survive failures:
 * a batch is chained (seq, hashes) when it is formed and retried as it was until the store takes
 * it, and the next batch is formed only then. Records that could not be kept (queue full) are
 * counted, logged, and written as one gap record at the head of the next batch formed, i.e. as
 * soon as the store takes writes again: the chain itself says what is missing.
 */
export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  const now = options.now ?? Date.now;
  const batchMax = options.batchMax ?? DEFAULT_AUDIT_BATCH_MAX;
  const writerId = randomUUID();
  let tail = { seq: 0, hash: GENESIS_HASH };
  let queue: AccessEvent[] = [];
  let inFlight: ChainedRecord[] | undefined;
  let gap: { records: number; from: number; to: number } | undefined;
  let lastWriteFailed = false;

  const attempt = async (): Promise<boolean> => {
    if (!inFlight) {
      if (queue.length === 0 && !gap) return true;
      const events: AuditEvent[] = [];
      if (gap) events.push({ kind: 'gap', at: now(), gap });
      const taken = queue.slice(0, batchMax - events.length);
      events.push(...taken);
      inFlight = chain(writerId, tail, events);
      tail = { seq: inFlight.at(-1)!.seq, hash: inFlight.at(-1)!.hash };
      queue = queue.slice(taken.length);
      gap = undefined;
    }
    const batch = inFlight;
    try {
      await options.store.insert(batch);
      inFlight = undefined;
      lastWriteFailed = false;
      options.onWrite?.({ ok: true, records: batch.length, queued: queue.length });
      return true;
    } catch (error) {
      if (!lastWriteFailed) options.logger.error({ err: error, writerId, seq: batch[0]!.seq, records: batch.length }, 'audit write failed; will retry');
      lastWriteFailed = true;
      options.onWrite?.({ ok: false, records: batch.length, queued: queue.length });
      return false;
    }
  };

  // Each round writes batches until the queue is empty or a write fails (lib/serial-rounds.ts).
  const flush = serialRounds(async () => {
    for (;;) {
      if (!(await attempt())) return false;
      if (!inFlight && queue.length === 0 && !gap) return true;
    }
  });

  const timer = setInterval(() => void flush(), options.flushIntervalMs);
  timer.unref();

  const lose = (event: AccessEvent) => {
    if (!gap) {
      gap = { records: 0, from: event.at, to: event.at };
      options.logger.error({ writerId, queued: queue.length, failMode: options.failMode }, 'audit queue full: records are not kept (a gap record will say how many)');
    }
    gap = { records: gap.records + 1, from: Math.min(gap.from, event.at), to: Math.max(gap.to, event.at) };
    options.onGap?.(1);
  };

  return {
    writerId,
    level: options.level,
    failMode: options.failMode,
    accepting: () => !lastWriteFailed && queue.length < options.queueMax,
    append(event) {
      if (queue.length >= options.queueMax) return lose(event);
      queue.push(event);
      if (queue.length >= batchMax && !lastWriteFailed) void flush();
    },
    flush,
    pending: () => queue.length + (inFlight?.length ?? 0),
    async close(deadlineMs) {
      clearInterval(timer);
      // Bounded by real time, not the injected clock (a test may freeze it), and by a store that never answers.
      const until = performance.now() + deadlineMs;
      const timeLeft = () => until - performance.now();
      for (;;) {
        let giveUp: NodeJS.Timeout | undefined;
        const flushed = await Promise.race([flush(), new Promise<boolean>((resolve) => (giveUp = setTimeout(() => resolve(false), Math.max(0, timeLeft()))))]);
        clearTimeout(giveUp);
        if (flushed) return;
        if (timeLeft() <= 0) {
          options.logger.error({ writerId, pending: queue.length + (inFlight?.length ?? 0), gap }, 'audit records not written before shutdown');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(CLOSE_RETRY_MS, timeLeft())));
      }
    },
  };
}
