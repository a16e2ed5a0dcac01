import type { Logger } from '../../lib/logger.js';
import type { AuditStore } from './store.js';

export interface PurgeJob {
  /** Purges records past retention now; resolves with how many rows went (undefined when it failed, logged). */
  runNow(): Promise<{ writers: number; rows: number } | undefined>;
  stop(): void;
}

/** Deletes records older than the retention, every `intervalMs` (0: only when asked). */
export function createPurgeJob(options: {
  store: Pick<AuditStore, 'purge'>;
  retentionMs: number;
  intervalMs: number;
  logger: Logger;
  now: () => number;
  onPurged?: (rows: number) => void;
}): PurgeJob {
  let running: Promise<{ writers: number; rows: number } | undefined> | undefined;
  const runNow = () => {
    // One purge at a time: a slow one is not joined by the next tick.
    running ??= (async () => {
      try {
        const result = await options.store.purge(options.now() - options.retentionMs);
        if (result.rows > 0) options.logger.info(result, 'audit records past retention purged');
        options.onPurged?.(result.rows);
        return result;
      } catch (error) {
        options.logger.error({ err: error }, 'audit purge failed; next interval retries');
        return undefined;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = options.intervalMs > 0 ? setInterval(() => void runNow(), options.intervalMs) : undefined;
  timer?.unref();
  return { runNow, stop: () => clearInterval(timer) };
}
