import type { Logger } from './logger.js';

/**
 * On SIGTERM or SIGINT, once: stop (drain, flush, close), then exit 0, or 1 if stopping failed.
 * Every long-running process of this repository ends this way, so a container's stop drains it.
 */
export function stopOnSignals(stop: () => Promise<void>, logger?: Logger): void {
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger?.info({ signal }, 'shutdown requested');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger?.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/**
 * Runs a process's `main` and ends a failed start the same way everywhere: the message on stderr,
 * prefixed with the process's name, exit code 2 for a mistake the operator can fix (`isKnown`:
 * configuration, files), 1 for anything else.
 */
export function runMain(name: string, main: () => Promise<void>, isKnown: (error: unknown) => boolean): void {
  main().catch((error: unknown) => {
    const known = isKnown(error);
    process.stderr.write(`${name}: ${known ? '' : 'failed to start: '}${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(known ? 2 : 1);
  });
}
