import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whether this machine can start a Redis of the test's own (`redis-server` on the PATH). */
export const HAS_REDIS_SERVER = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A redis-server of the test's own, and a way to wait for what it logs. */
export interface RedisServerProcess {
  readonly child: ChildProcess;
  /**
   * Resolves once the server has logged a line matching `pattern` (already, or later); rejects if
   * it exits first, or once `signal` aborts. What Redis announces only in its log (a cluster
   * node's state turning ok) is waited for here, not polled.
   */
  logged(pattern: RegExp, signal?: AbortSignal): Promise<void>;
}

/** What a test server's log keeps for `logged` (its start and cluster lines are a few KB). */
const MAX_LOG_CHARS = 256 * 1024;

/**
 * Starts `redis-server --port <port> --bind 127.0.0.1 <args>` and resolves once it says it accepts
 * connections (it logs that to stdout once it listens and has loaded its data); rejects if it exits first.
 */
export async function spawnRedisServer(port: number, args: readonly string[]): Promise<RedisServerProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  let log = '';
  const watchers = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    log = (log + chunk).slice(-MAX_LOG_CHARS);
    for (const watcher of watchers) watcher();
  });
  const logged = (pattern: RegExp, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        watchers.delete(check);
        child.off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (pattern.test(log)) done();
      };
      const onExit = (code: number | null) => done(new Error(`redis-server on port ${port} exited (${code}) before logging ${pattern}: ${log.slice(-2000)}`));
      const onAbort = () => done(new Error(`redis-server on port ${port} did not log ${pattern} in time: ${log.slice(-2000)}`));
      if (child.exitCode !== null || child.signalCode !== null) return onExit(child.exitCode);
      if (signal?.aborted) return onAbort();
      watchers.add(check);
      child.once('exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      check();
    });
  await logged(/ready to accept connections/i);
  return { child, logged };
}

/** Kills a redis-server of the test's own (SIGKILL, by pid) and waits for it to be gone. */
export async function killRedisServer(server: RedisServerProcess | undefined): Promise<void> {
  const running = server?.child;
  if (!running || running.exitCode !== null || running.signalCode !== null) return;
  const exited = new Promise((resolve) => running.once('exit', resolve));
  running.kill('SIGKILL');
  await exited;
}

export interface OwnRedis {
  readonly url: string;
  /** Kills the server (SIGKILL, by pid): a crash, not a shutdown. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty (nothing is kept on disk). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A redis-server of the test's own on a spare port, stopped by its pid. `durable`: an append-only
 * file fsynced on every write in a scratch directory, so what Redis acknowledged survives a kill.
 */
export async function startOwnRedis(options: { durable?: boolean } = {}): Promise<OwnRedis> {
  const port = await freePort();
  const dir = options.durable ? mkdtempSync(join(tmpdir(), 'dpg-redis-')) : undefined;
  const persistence = dir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] : ['--appendonly', 'no'];
  let child: RedisServerProcess | undefined;
  const start = async () => {
    child = await spawnRedisServer(port, ['--save', '', ...persistence]);
  };
  const kill = () => killRedisServer(child);
  await start();
  return { url: `redis://127.0.0.1:${port}`, kill, restart: start, stop: kill };
}

/** A Redis for tests: the machine's (REDIS_URL, as in CI) or one of the test's own. Undefined: none here. */
export function sharedRedisUrl(): string | undefined {
  return process.env.REDIS_URL || undefined;
}
