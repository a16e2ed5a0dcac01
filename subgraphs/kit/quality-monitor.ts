import type { Logger } from '../../lib/logger.js';
import type { Db } from './db.js';
import type { DataProductDescriptor } from './descriptor.js';
import { checkQuality, type QualityReport } from './quality.js';

export const DEFAULT_QUALITY_INTERVAL_MS = 300_000;

export interface QualityMonitor {
  /** The latest report (runs the first check if none finished yet). */
  latest(): Promise<QualityReport>;
  /** Runs the rules now (tests, or an owner who just loaded data); resolves with the new report. */
  checkNow(): Promise<QualityReport>;
  stop(): void;
}

/** Checks a product's quality rules at start and on a schedule; failing rules are logged, not hidden. */
export function startQualityMonitor(options: {
  db: Db;
  descriptor: DataProductDescriptor;
  storage: Readonly<Record<string, { readonly table: string; readonly column: string }>>;
  intervalMs?: number | undefined;
  logger: Logger;
}): QualityMonitor {
  const log = options.logger.child({ product: options.descriptor.metadata.name });
  let current: Promise<QualityReport> | undefined;
  const run = () => {
    const next = checkQuality(options.db, options.descriptor, options.storage).then((report) => {
      const failing = report.rules.filter((r) => !r.passed);
      if (failing.length) log.warn({ failing: failing.map((r) => ({ rule: r.name, failingRows: r.failingRows, totalRows: r.totalRows })) }, 'data quality rules failing');
      else log.info({ rules: report.rules.length }, 'data quality rules pass');
      return report;
    });
    // Keep serving the last good report if a check fails (and say so in the log).
    next.catch((error: unknown) => log.error({ err: error }, 'data quality check failed'));
    const previous = current;
    current = previous ? next.catch(() => previous) : next;
    return next;
  };
  void run().catch(() => undefined);
  const timer = setInterval(() => void run().catch(() => undefined), options.intervalMs ?? DEFAULT_QUALITY_INTERVAL_MS);
  timer.unref();
  return {
    latest: () => current ?? run(),
    checkNow: run,
    stop: () => clearInterval(timer),
  };
}
