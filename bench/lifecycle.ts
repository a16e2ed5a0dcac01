import { execFileSync } from 'node:child_process';
import { killAllNow, ROOT, stopAll } from './processes.js';

/** The short commit the run measured, `+dirty` when the work tree had changes; null outside git. */
export function gitCommit(): string | null {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return null;
  }
}

/**
 * What a bench run must undo on any exit: every process it started (stopped by pid), and the
 * cleanups it registered (servers in this process, scratch databases, directories). Ctrl-C or
 * SIGTERM aborts the load in progress, stops everything and exits 130.
 */
export interface BenchLifecycle {
  /** Run on any exit, after the processes are stopped. */
  onExit(cleanup: () => Promise<void>): void;
  /** The load in progress, aborted by a signal. */
  activeLoad: AbortController | undefined;
  /** A signal arrived: its handler stops everything and exits. */
  readonly interrupted: boolean;
  stopEverything(): Promise<void>;
}

export function benchLifecycle(progress: (text: string) => void): BenchLifecycle {
  const cleanups: (() => Promise<void>)[] = [];
  let interrupted = false;
  const lifecycle: BenchLifecycle = {
    onExit: (cleanup) => void cleanups.push(cleanup),
    activeLoad: undefined,
    get interrupted() {
      return interrupted;
    },
    async stopEverything() {
      await stopAll();
      await Promise.all(cleanups.splice(0).map((cleanup) => cleanup().catch(() => undefined)));
    },
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: stopping every process this run started`);
    lifecycle.activeLoad?.abort();
    void lifecycle.stopEverything().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', killAllNow);
  return lifecycle;
}

export interface BenchMain {
  /** Prefix of the error line, e.g. `bench` or `bench --public`. */
  readonly label: string;
  readonly progress: (text: string) => void;
  readonly usage: string;
  /** The run; resolves with the exit code. */
  readonly main: (lifecycle: BenchLifecycle) => Promise<number>;
  /** A bad option: its message and the usage, exit code 2. */
  readonly isUsageError: (error: unknown) => boolean;
  /** An expected failure (said in one line, no stack), exit code 1. */
  readonly isAbort: (error: unknown) => boolean;
}

/** Runs a bench and exits with its code, having stopped everything it started whatever happened. */
export function runBenchMain(options: BenchMain): void {
  const lifecycle = benchLifecycle(options.progress);
  options
    .main(lifecycle)
    .then(async (code) => {
      await lifecycle.stopEverything();
      process.exit(code);
    })
    .catch(async (error: unknown) => {
      if (lifecycle.interrupted) return; // the signal handler stops everything and exits
      const usage = options.isUsageError(error);
      const known = usage || options.isAbort(error);
      process.stderr.write(`${options.label}: ${known ? (error as Error).message : `failed: ${(error as Error).stack ?? String(error)}`}\n`);
      if (usage) process.stderr.write(`${options.usage}\n`);
      await lifecycle.stopEverything();
      process.exit(usage ? 2 : 1);
    });
}
