import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repository root: every entry point is spawned from here. */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** How long a process gets to exit after SIGTERM before it is killed. */
export const STOP_GRACE_MS = 5_000;

export type LogLine = Record<string, unknown>;

export interface BenchProcess {
  readonly name: string;
  readonly pid: number;
  /** `performance.now()` just before the process was spawned. */
  readonly spawnedAt: number;
  readonly child: ChildProcess;
  stderr(): string;
  /**
   * Resolves with the first JSON log line matching and the `performance.now()` at which it was
   * read; rejects if the process exits first or nothing matches within `timeoutMs`.
   */
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs: number): Promise<{ line: LogLine; at: number }>;
  /** SIGTERM, then SIGKILL after STOP_GRACE_MS; resolves once the process has exited. */
  stop(): Promise<void>;
}

/** Every process this run started, so that any exit path (error, Ctrl-C) can end them by pid. */
const started = new Set<BenchProcess>();

/**
 * How node runs an entry point of this repository. A compiled file (`dist/....js`) runs as the
 * production image runs it: plain node with source maps on (the image's NODE_OPTIONS). A TypeScript
 * file runs through tsx, which turns source maps on as well; its loader costs at start only.
 */
export function nodeArgsFor(entry: string): string[] {
  if (entry.endsWith('.js')) return ['--enable-source-maps', entry];
  if (entry.endsWith('.ts')) return ['--import', 'tsx', entry];
  throw new Error(`not an entry point: ${entry}`);
}

export interface SpawnOptions {
  /** CPUs to pin the process to (`taskset -c` syntax, e.g. "1"); needs taskset (see hasTaskset). */
  readonly cpus?: string;
  /** Node's own arguments before the entry, instead of nodeArgsFor's (a peer's package runs as plain node). */
  readonly nodeArgs?: readonly string[];
}

/** Whether `taskset` (util-linux) is here to pin processes to CPUs. */
export function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs an entry point of this repository (see nodeArgsFor) as its own Node process, with only the
 * environment given: nothing from the caller's shell leaks in (no DATABASE_URL, no APOLLO_*, no
 * NODE_OPTIONS), and Apollo's telemetry is always off. With `cpus`, through `taskset -c`, which
 * execs node in place: the pid is node's.
 */
export function spawnEntry(
  name: string,
  entry: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  options: SpawnOptions = {},
): BenchProcess {
  const base: Record<string, string> = { APOLLO_TELEMETRY_DISABLED: 'true' };
  for (const key of ['PATH', 'HOME', 'TMPDIR'] as const) {
    const value = process.env[key];
    if (value) base[key] = value;
  }
  const spawnedAt = performance.now();
  const nodeArgs = [...(options.nodeArgs ? [...options.nodeArgs, entry] : nodeArgsFor(entry)), ...args];
  const [command, commandArgs] = options.cpus === undefined ? [process.execPath, nodeArgs] : ['taskset', ['-c', options.cpus, process.execPath, ...nodeArgs]];
  const child = spawn(command, commandArgs, {
    cwd: ROOT,
    env: { ...base, ...env, APOLLO_TELEMETRY_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not spawn ${entry}`);
  const pid = child.pid;

  const lines: { line: LogLine; at: number }[] = [];
  const waiters = new Set<{ predicate: (line: LogLine) => boolean; resolve: (seen: { line: LogLine; at: number }) => void }>();
  let buffered = '';
  let errText = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const at = performance.now();
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { text };
      }
      // Keep what a failure message may need, not a whole run of logs.
      if (lines.length < 1_000) lines.push({ line, at });
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.delete(waiter);
          waiter.resolve({ line, at });
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (errText.length < 20_000) errText += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const isRunning = () => child.exitCode === null && child.signalCode === null;

  let stopping: Promise<void> | undefined;
  const proc: BenchProcess = {
    name,
    pid,
    spawnedAt,
    child,
    stderr: () => errText,
    waitForLine(predicate, timeoutMs) {
      const seen = lines.find((l) => predicate(l.line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (value: { line: LogLine; at: number }) => {
            clearTimeout(timer);
            resolve(value);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${name} (pid ${pid}): no expected log line within ${timeoutMs} ms${tail(errText)}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(() => {
          if (!waiters.delete(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`${name} (pid ${pid}) exited (${child.exitCode ?? child.signalCode}) before it was ready${tail(errText)}`));
        });
      });
    },
    stop() {
      stopping ??= (async () => {
        if (isRunning()) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => {
            if (isRunning()) child.kill('SIGKILL');
          }, STOP_GRACE_MS);
          await exited;
          clearTimeout(killer);
        }
        started.delete(proc);
      })();
      return stopping;
    },
  };
  started.add(proc);
  return proc;
}

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed ? `; stderr:\n${trimmed.slice(-2_000)}` : '';
}

/** Stops every process this run started (each by its own pid), in parallel. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((p) => p.stop()));
}

/** Last resort on a synchronous exit: SIGKILL whatever is still running. */
export function killAllNow(): void {
  for (const p of started) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }
}

/**
 * `count` distinct free loopback ports: each is bound on port 0 and all are held until every one is
 * known, so the same port cannot be handed out twice (another program may still take one before use).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

export interface Memory {
  /** Resident set size now, in MiB. */
  rssMb: number;
  /** Peak resident set size since the process started, in MiB. */
  peakRssMb: number;
}

/** VmRSS and VmHWM from /proc/<pid>/status (Linux); undefined where /proc is not available. */
export async function memoryOf(pid: number): Promise<Memory | undefined> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: round1(kib('VmRSS') / 1024), peakRssMb: round1(kib('VmHWM') / 1024) };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Clock ticks per second of /proc/<pid>/stat's times (almost always 100). */
const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU time the process has used so far (user + system, all its threads), in ms, from
 * /proc/<pid>/stat; resolution 1000 / CLK_TCK ms. Undefined where /proc is not available.
 */
export async function cpuMsOf(pid: number): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLK_TCK;
}

/**
 * Busy CPU time of the whole machine so far (every core: all but idle and iowait), in ms, from
 * /proc/stat. Subtracting what the bench's own processes used shows how busy the rest of the machine
 * was: load from elsewhere makes the numbers noise. Undefined where /proc is not available.
 */
export async function machineBusyCpuMs(): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await readFile('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const fields = (stat.split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest times are already inside user and nice)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return ((user + nice + system + irq + softirq + steal) * 1000) / CLK_TCK;
}
