import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { Redis } from 'ioredis';
import { ROOT } from './processes.js';

/** Budgets so large no bench request is refused: the limiter's cost is measured, not its refusals. */
const UNREFUSED = { requests: 1_000_000_000, cost: 1_000_000_000_000 };

/**
 * policies/rate-limits.yaml as shipped (tiers, operation limits), every budget raised out of
 * reach, written to a scratch file for ours.
 */
export function benchRateLimitsFile(): string {
  const policy = parse(readFileSync(join(ROOT, 'policies/rate-limits.yaml'), 'utf8')) as Record<string, unknown> & { tiers?: Record<string, unknown>; clients?: Record<string, unknown> };
  policy.anonymous = UNREFUSED;
  policy.default = UNREFUSED;
  for (const tiers of [policy.tiers, policy.clients]) for (const name of Object.keys(tiers ?? {})) tiers![name] = UNREFUSED;
  const file = join(mkdtempSync(join(tmpdir(), 'dpg-bench-')), 'rate-limits.yaml');
  writeFileSync(file, stringify(policy));
  return file;
}

export interface BenchRedis {
  readonly url: string;
  /** Where it came from, for the report. */
  readonly source: 'REDIS_URL' | 'own redis-server';
  /** The redis-server's pid when the bench started it (its CPU is then measured); undefined for REDIS_URL. */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** REDIS_URL when set, else a redis-server of the bench's own on `port`; undefined when neither exists. */
export async function benchRedis(port: number): Promise<BenchRedis | undefined> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, source: 'REDIS_URL', pid: undefined, stop: async () => undefined };
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) return undefined;
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  // Last resort on a synchronous exit, like killAllNow for the bench's other processes: this pid only.
  process.once('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  for (let attempt = 0; ; attempt++) {
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      break;
    } catch {
      client.disconnect();
      if (attempt > 100) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    source: 'own redis-server',
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
