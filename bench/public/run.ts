// `npm run bench -- --public [--quick]`: the public federation benchmark of
// graphql-hive/graphql-gateways-benchmark in this project. Its supergraph and test query (checked in
// here), Node subgraphs serving its data (four processes), and five gateways loaded one at a time in
// rotating order: bare @apollo/gateway, ours with every feature on, and Hive Gateway three ways
// (as the public benchmark runs it, with no deduplication, with subgraph-call deduplication only).
// Each gateway is pinned to one core (taskset), the bench and the subgraphs to the others.
// See bench/README.md ("The public benchmark").
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchAuditStores } from '../audit-store.js';
import { startBenchAuth } from '../auth.js';
import { mergeSorted, quantile, runLoad } from '../load.js';
import { gitCommit, runBenchMain, type BenchLifecycle } from '../lifecycle.js';
import { cpuMsOf, freePorts, hasTaskset, machineBusyCpuMs, memoryOf, ROOT, spawnEntry, type BenchProcess, type SpawnOptions } from '../processes.js';
import { benchRateLimitsFile, benchRedis } from '../rate-limits.js';
import { BUSY_MACHINE_PERCENT } from '../report.js';
import { roundAmount, roundOrder } from '../rounds.js';
import { callsBetween, readCallCounts } from './calls.js';
import { publicOperations, type PublicOperation } from './operations.js';
import { formatPublicTable, PUBLIC_TARGETS, publicRatios, sameData, summarizeRounds, type PublicRow, type PublicTarget, type RoundMeasurement } from './report.js';
import { PUBLIC_SUBGRAPHS } from './subgraphs.js';
import { writePublicSupergraph } from './supergraph.js';

/** Where the checked-in supergraph and test query come from. */
export const PUBLIC_SOURCE = {
  repository: 'https://github.com/graphql-hive/graphql-gateways-benchmark',
  commit: 'e583a1ff4ae2e0e5380b9caabd8a00d400947a8b',
  supergraph: 'gateways/hive-gateway/supergraph.graphql',
  testQuery: 'k6.js',
  hiveConfig: 'gateways/hive-gateway/gateway.config.ts',
} as const;

/** The public benchmark's load: k6 with 50 virtual users; the issue's runs on this machine use 20 connections. */
export const PUBLIC_CONNECTIONS = 20;

interface Mode {
  /** Seconds of load per target and query before measuring; its rate sizes the rounds. */
  warmupS: number;
  rounds: number;
  /** About how long one round of one target lasts: it sends what the target answered in this many seconds of warm-up. */
  roundS: number;
}

// Five targets: quick's 5 rounds put each in every position once; full's 10 once in each direction.
export const PUBLIC_MODES: Readonly<Record<'quick' | 'full', Mode>> = {
  quick: { warmupS: 2, rounds: 5, roundS: 2 },
  full: { warmupS: 3, rounds: 10, roundS: 5 },
};

const PEERS = join(ROOT, 'bench/peers');
const HIVE_PACKAGE = join(PEERS, 'node_modules/@graphql-hive/gateway/package.json');
const HIVE_CONFIGS: Readonly<Record<'hive' | 'hive-no-dedup' | 'hive-subgraph-dedup', string>> = {
  hive: join(PEERS, 'hive/public.mjs'),
  'hive-no-dedup': join(PEERS, 'hive/no-dedup.mjs'),
  'hive-subgraph-dedup': join(PEERS, 'hive/subgraph-dedup.mjs'),
};
const TARGET_DESCRIPTIONS: Readonly<Record<PublicTarget, string>> = {
  bare: 'bench/bare-gateway.ts: @apollo/gateway on @apollo/server standalone, nothing else',
  ours: 'dist/gateway/main.js, NODE_ENV=production: bearer token verified on every request, rate limiting on (Redis, budgets out of reach), usage recording on',
  hive: '@graphql-hive/gateway as the public benchmark runs it (bench/peers/hive/public.mjs: inbound in-flight deduplication on; subgraph-call deduplication, Hive\'s default, on), --jit',
  'hive-no-dedup': '@graphql-hive/gateway, every deduplication off (bench/peers/hive/no-dedup.mjs), --jit',
  'hive-subgraph-dedup': '@graphql-hive/gateway, subgraph-call deduplication only (bench/peers/hive/subgraph-dedup.mjs), --jit',
};

const SUBGRAPH_READY_TIMEOUT_MS = 60_000;
const GATEWAY_READY_TIMEOUT_MS = 90_000;

const USAGE = `Usage: npm run bench -- --public [options]
  --quick              short rounds (${PUBLIC_MODES.quick.rounds} x ${PUBLIC_MODES.quick.roundS} s per target and query)
  --connections N      concurrent keep-alive connections (default ${PUBLIC_CONNECTIONS})
  --rounds N           measured rounds per query (quick ${PUBLIC_MODES.quick.rounds}, default ${PUBLIC_MODES.full.rounds})
  --duration S         seconds per target per round (quick ${PUBLIC_MODES.quick.roundS}, default ${PUBLIC_MODES.full.roundS})
  --warmup S           warm-up seconds per target per query (quick ${PUBLIC_MODES.quick.warmupS}, default ${PUBLIC_MODES.full.warmupS})
  --only big|small     one query; repeatable
  --out FILE           where the JSON goes (default bench/results/public.json)`;

class UsageError extends Error {}
class BenchAbort extends Error {}

function parseCli(argv: readonly string[]) {
  let values;
  try {
    values = parseArgs({
      args: argv.filter((a) => a !== '--public'),
      strict: true,
      options: {
        quick: { type: 'boolean', default: false },
        connections: { type: 'string' },
        rounds: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        only: { type: 'string', multiple: true },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const mode = values.quick ? PUBLIC_MODES.quick : PUBLIC_MODES.full;
  const number = (flag: string, value: string | undefined, fallback: number, min: number, integer: boolean) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw new UsageError(`--${flag}: expected ${integer ? 'an integer' : 'a number'} >= ${min}, got "${value}"`);
    return n;
  };
  for (const name of values.only ?? []) if (name !== 'big' && name !== 'small') throw new UsageError(`--only: expected big or small, got "${name}"`);
  return {
    quick: values.quick,
    connections: number('connections', values.connections, PUBLIC_CONNECTIONS, 1, true),
    rounds: number('rounds', values.rounds, mode.rounds, 1, true),
    roundS: number('duration', values.duration, mode.roundS, 1, false),
    // At least a second: the warm-up's rate sizes the rounds.
    warmupS: number('warmup', values.warmup, mode.warmupS, 1, false),
    only: values.only,
    out: values.out ?? join(ROOT, 'bench/results/public.json'),
  };
}

const t0 = performance.now();
/** This run's processes and cleanups (set when the run starts). */
let lifecycle: BenchLifecycle;
const progress = (text: string) => process.stderr.write(`bench --public [${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Installs the peers from their own lock file on first use, so the app's `npm ci` never carries them. */
function ensurePeers(): string {
  if (!existsSync(HIVE_PACKAGE)) {
    progress('installing the peer gateways (npm ci --prefix bench/peers, about 500 MB, once)');
    execFileSync('npm', ['ci', '--prefix', PEERS, '--no-audit', '--no-fund'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  }
  const pkg = JSON.parse(readFileSync(HIVE_PACKAGE, 'utf8')) as { version: string; bin: Record<string, string> };
  return pkg.version;
}

/**
 * Which CPUs the gateway and everything else (this process, the subgraphs) run on: the gateway alone
 * on the last core, as the public benchmark's test.sh pins its gateway apart from its load generator.
 * Null where taskset is missing or there is one core: nothing is pinned then.
 */
function pinning(): { gateway: string; others: string } | null {
  const cpus = os.availableParallelism();
  if (cpus < 2 || !hasTaskset()) return null;
  return { gateway: String(cpus - 1), others: cpus === 2 ? '0' : `0-${cpus - 2}` };
}

interface Answer {
  ok: boolean;
  data?: Record<string, unknown>;
  problem?: string;
}

/** One request; ok when HTTP 200, data, no errors and the expected rows. Never throws. */
async function ask(url: string, op: PublicOperation, headers: Readonly<Record<string, string>>): Promise<Answer> {
  try {
    const response = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: op.body, signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    let parsed: { data?: Record<string, unknown> | null; errors?: unknown[] } | undefined;
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    if (response.status !== 200 || !parsed?.data || parsed.errors?.length) return { ok: false, problem: `HTTP ${response.status}: ${text.slice(0, 600)}` };
    if (!op.hasRows(parsed.data)) return { ok: false, problem: `not the benchmark's answer: ${text.slice(0, 600)}` };
    return { ok: true, data: parsed.data };
  } catch (error) {
    return { ok: false, problem: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

interface Target {
  readonly name: PublicTarget;
  readonly url: string;
  readonly entry: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly options: SpawnOptions;
  process?: BenchProcess;
}

async function start(target: Target, probe: PublicOperation, headers: Readonly<Record<string, string>>): Promise<BenchProcess> {
  const proc = spawnEntry(target.name, target.entry, target.args, target.env, target.options);
  const deadline = performance.now() + GATEWAY_READY_TIMEOUT_MS;
  let last = '';
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new BenchAbort(`${target.name} exited before answering: ${proc.stderr().trim().slice(-2_000)}`);
    if (performance.now() > deadline) throw new BenchAbort(`${target.name} gave no good answer within ${GATEWAY_READY_TIMEOUT_MS} ms (last: ${last})`);
    const answer = await ask(target.url, probe, headers);
    if (answer.ok) return proc;
    last = answer.problem ?? '';
    await sleep(50);
  }
}

async function main(): Promise<number> {
  const cli = parseCli(process.argv.slice(2));
  const startedAt = new Date();
  const loadAtStart = os.loadavg().map((n) => Math.round(n * 100) / 100);
  const hiveVersion = ensurePeers();
  const pins = pinning();
  if (pins) {
    // This process (the load generator) and what it spawns unpinned (the subgraphs) stay off the gateway's core.
    execFileSync('taskset', ['-a', '-p', '-c', pins.others, String(process.pid)], { stdio: 'ignore' });
    progress(`gateways pinned to CPU ${pins.gateway}; the bench and the subgraphs to CPU ${pins.others}`);
  } else {
    progress('nothing pinned (one CPU, or no taskset): gateways share every core with the bench and the subgraphs');
  }

  progress('compiling (npm run build): ours runs as production runs it');
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });

  const ports = await freePorts(PUBLIC_SUBGRAPHS.length + PUBLIC_TARGETS.length + 2);
  const [issuerPort, redisPort] = ports.splice(0, 2) as [number, number];
  const subgraphUrls: Record<string, string> = {};
  const subgraphOrigins: Record<string, string> = {};
  const subgraphs: BenchProcess[] = [];
  for (const name of PUBLIC_SUBGRAPHS) {
    const proc = spawnEntry(`subgraph ${name}`, 'bench/public/subgraph-server.ts', [], { SUBGRAPH: name, PORT: String(ports.shift()), NODE_ENV: 'production' });
    subgraphs.push(proc);
    const { line } = await proc.waitForLine((l) => l.msg === 'subgraph listening', SUBGRAPH_READY_TIMEOUT_MS);
    subgraphUrls[name] = String(line.url);
    subgraphOrigins[name] = new URL(String(line.url)).origin;
  }
  progress(`subgraphs ready: ${Object.entries(subgraphUrls).map(([n, u]) => `${n} ${u}`).join(', ')}`);
  const supergraph = writePublicSupergraph(subgraphUrls);

  const redis = await benchRedis(redisPort);
  if (redis) lifecycle.onExit(() => redis.stop());
  const auth = await startBenchAuth(issuerPort);
  lifecycle.onExit(() => auth.stop());
  const auditStores = await benchAuditStores();
  lifecycle.onExit(() => auditStores.stop());
  // Every target gets the same request, token included (bare and Hive ignore it; Hive's inbound
  // deduplication keys on headers, and all of them are the same here as in the public benchmark).
  const headers: Record<string, string> = { authorization: auth.authorization };

  const gatewayPin: SpawnOptions = pins ? { cpus: pins.gateway } : {};
  const hiveBin = join(PEERS, 'node_modules/@graphql-hive/gateway/dist/bin.js');
  const hive = (name: 'hive' | 'hive-no-dedup' | 'hive-subgraph-dedup', port: number): Target => ({
    name,
    url: `http://127.0.0.1:${port}/graphql`,
    entry: hiveBin,
    // As the public benchmark starts it (its package.json): `hive-gateway supergraph <file> --jit`.
    args: ['supergraph', supergraph, '--jit', '--config-path', HIVE_CONFIGS[name], '--host', '127.0.0.1', '--port', String(port)],
    env: { NODE_ENV: 'production' },
    // A peer's package runs as plain node (no source maps, no loader).
    options: { ...gatewayPin, nodeArgs: [] },
  });
  const [barePort, oursPort, hivePort, noDedupPort, subgraphDedupPort] = ports as [number, number, number, number, number];
  const targets: Record<PublicTarget, Target> = {
    bare: {
      name: 'bare',
      url: `http://127.0.0.1:${barePort}/`,
      entry: 'bench/bare-gateway.ts',
      args: [],
      env: { PORT: String(barePort), SUPERGRAPH: supergraph, NODE_ENV: 'production' },
      options: gatewayPin,
    },
    ours: {
      name: 'ours',
      url: `http://127.0.0.1:${oursPort}/graphql`,
      entry: 'dist/gateway/main.js',
      args: [],
      env: {
        PORT: String(oursPort),
        HOST: '127.0.0.1',
        SUPERGRAPH: supergraph,
        NODE_ENV: 'production',
        // One JSON line per request at info would measure the logger (see bench/README.md).
        LOG_LEVEL: 'warn',
        ADMIN_PORT: '0',
        ...auth.gatewayEnv,
        ...auditStores.envFor('ours'),
        RATE_LIMITS_FILE: benchRateLimitsFile(),
        ...(redis ? { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `benchpublic${process.pid}` } : {}),
        USAGE_RECORDING: 'true',
      },
      options: gatewayPin,
    },
    hive: hive('hive', hivePort),
    'hive-no-dedup': hive('hive-no-dedup', noDedupPort),
    'hive-subgraph-dedup': hive('hive-subgraph-dedup', subgraphDedupPort),
  };

  const operations = publicOperations().filter((op) => !cli.only || cli.only.includes(op.name));
  const small = publicOperations().find((op) => op.name === 'small')!;
  for (const target of Object.values(targets)) {
    progress(`starting ${target.name}`);
    target.process = await start(target, small, headers);
    progress(`${target.name} answers (pid ${target.process.pid})`);
  }

  // Nothing is measured unless every target gives the benchmark's answer, the same data as bare's.
  for (const op of operations) {
    const reference = await ask(targets.bare.url, op, headers);
    if (!reference.ok) throw new BenchAbort(`bare does not answer ${op.name} correctly: ${reference.problem}`);
    for (const target of Object.values(targets)) {
      const answer = await ask(target.url, op, headers);
      if (!answer.ok) throw new BenchAbort(`${target.name} does not answer ${op.name} correctly, nothing measured: ${answer.problem}`);
      if (!sameData(answer.data, reference.data)) throw new BenchAbort(`${target.name}'s answer to ${op.name} differs from bare's: nothing measured`);
    }
  }
  const idleMemory: Partial<Record<PublicTarget, number>> = {};
  for (const target of Object.values(targets)) idleMemory[target.name] = (await memoryOf(target.process!.pid))?.rssMb;

  const interrupt = new AbortController();
  lifecycle.activeLoad = interrupt;
  const rows: PublicRow[] = [];
  for (const op of operations) {
    // The warm-up also sizes each target's rounds: as many requests as it answered in roundS seconds.
    const amounts = {} as Record<PublicTarget, number>;
    for (const target of Object.values(targets)) {
      progress(`${op.name}: warming up ${target.name}`);
      const { measurement } = await measure(target, subgraphs, subgraphOrigins, op, headers, cli.connections, { durationS: cli.warmupS }, interrupt.signal);
      amounts[target.name] = roundAmount(measurement.responses / measurement.durationS, cli.roundS, cli.connections);
    }
    // A timed warm-up stops with requests in flight, which the gateway finishes anyway: let them end
    // before the first round counts calls.
    await quietCallCounts(subgraphOrigins);
    progress(`${op.name}: requests per round ${PUBLIC_TARGETS.map((name) => `${name} ${amounts[name]}`).join(', ')}`);
    const rounds = Object.fromEntries(PUBLIC_TARGETS.map((name) => [name, [] as RoundMeasurement[]])) as Record<PublicTarget, RoundMeasurement[]>;
    const latencies = Object.fromEntries(PUBLIC_TARGETS.map((name) => [name, [] as Float64Array[]])) as Record<PublicTarget, Float64Array[]>;
    for (let round = 0; round < cli.rounds; round++) {
      for (const name of roundOrder(PUBLIC_TARGETS, round)) {
        const { measurement, latenciesMs } = await measure(targets[name], subgraphs, subgraphOrigins, op, headers, cli.connections, { amount: amounts[name] }, interrupt.signal);
        rounds[name].push(measurement);
        latencies[name].push(latenciesMs);
        const calls = Object.values(measurement.calls).reduce((n, c) => n + c, 0);
        progress(
          `${op.name} round ${round + 1}/${cli.rounds} ${name}: ${(measurement.responses / measurement.durationS).toFixed(1)} req/s, ` +
            `${(measurement.gatewayCpuMs / measurement.responses).toFixed(2)} gw CPU ms/req, ${(calls / measurement.responses).toFixed(2)} subgraph calls/req`,
        );
      }
    }
    for (const name of PUBLIC_TARGETS) {
      const sorted = mergeSorted(latencies[name]);
      const memory = await memoryOf(targets[name].process!.pid);
      rows.push(
        summarizeRounds(op.name, name, rounds[name], {
          p50Ms: Math.round(quantile(sorted, 0.5) * 100) / 100,
          p99Ms: Math.round(quantile(sorted, 0.99) * 100) / 100,
          rssMb: memory?.rssMb ?? null,
          peakRssMb: memory?.peakRssMb ?? null,
        }),
      );
    }
  }
  lifecycle.activeLoad = undefined;
  const ratios = publicRatios(rows);

  const report = {
    date: startedAt.toISOString(),
    commit: gitCommit(),
    command: `npm run bench -- --public${cli.quick ? ' --quick' : ''}`,
    machine: {
      // os.cpus(), not availableParallelism(): this process is pinned by now.
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      totalMemoryMb: Math.round(os.totalmem() / 2 ** 20),
      node: process.version,
      platform: `${process.platform} ${os.release()} ${process.arch}`,
      loadAverageAtStart: loadAtStart,
    },
    source: PUBLIC_SOURCE,
    settings: {
      mode: cli.quick ? 'quick' : 'full',
      connections: cli.connections,
      pipelining: 1,
      warmupS: cli.warmupS,
      rounds: cli.rounds,
      roundS: cli.roundS,
      pinning: pins,
      hiveGatewayVersion: hiveVersion,
      redis: redis ? redis.source : null,
      audit: auditStores.description,
      targets: TARGET_DESCRIPTIONS,
      queries: Object.fromEntries(operations.map((op) => [op.name, op.description])),
    },
    idleRssMb: idleMemory,
    results: rows,
    ratios,
    notes: [
      'req/s and gw CPU ms/req are medians over the measured rounds; spread = (max - min) / median of the per-round req/s.',
      'Each measured round sends a fixed number of requests (what the target answered in roundS seconds of its warm-up, at least 5 per connection) and ends when every one is answered: req/s = answers / seconds of the round, and all the CPU and subgraph calls of those requests fall inside it.',
      'subgraph calls/req = requests the four subgraphs received during the measured rounds / answers.',
      'Every request carries the same bearer token (from a throwaway issuer served by the bench); only ours verifies it. The public supergraph has no access directives, so ours authorizes everything.',
      'ours runs with LOG_LEVEL=warn, rate limiting against Redis with budgets no request reaches, and usage recording on (flushed to the same Redis every second).',
      'The subgraphs are Node processes (bench/public/subgraph-server.ts) serving the public benchmark\'s data; the benchmark\'s own are Rust.',
    ],
  };

  process.stdout.write(`\n${report.date}  commit ${report.commit ?? '?'}  node ${process.version}  ${report.machine.cpus} CPUs (${report.machine.cpuModel})  Hive Gateway ${hiveVersion}\n`);
  process.stdout.write(
    `${report.settings.mode}: ${cli.connections} connections, warm-up ${cli.warmupS} s, ${cli.rounds} rounds x ${cli.roundS} s per target, order rotating per round; ` +
      `${pins ? `gateway on CPU ${pins.gateway}, bench and subgraphs on CPU ${pins.others}` : 'nothing pinned'}\n\n`,
  );
  process.stdout.write(formatPublicTable(rows, ratios));
  const busy = rows.filter((r) => r.otherCpuPercent > BUSY_MACHINE_PERCENT);
  if (busy.length) {
    process.stdout.write(
      `\nWARNING: other processes used more than ${BUSY_MACHINE_PERCENT}% of a core during ${busy.map((r) => `${r.query}/${r.target}`).join(', ')} ` +
        `(other CPU): this machine was not quiet, treat those numbers as noise and run again\n`,
    );
  }
  await mkdir(join(cli.out, '..'), { recursive: true });
  await writeFile(cli.out, `${JSON.stringify(report, null, 2)}\n`);
  progress(`wrote ${cli.out} (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s in all)`);

  const failed = rows.reduce((n, r) => n + r.non2xx + r.errors + r.graphqlErrors, 0);
  if (failed > 0) {
    progress(`${failed} requests failed under load (non-2xx, connection errors or GraphQL errors): the numbers above are not comparable`);
    return 1;
  }
  return 0;
}

/**
 * One load run on one target, with the CPU every process spent and the calls every subgraph received
 * meanwhile: for a duration (the warm-up), or a fixed number of requests (a measured round), which
 * ends only when every request is answered, so that no work of one target's round (a request left in
 * flight by a timed stop) lands in the next one's.
 */
async function measure(
  target: Target,
  subgraphs: readonly BenchProcess[],
  origins: Readonly<Record<string, string>>,
  op: PublicOperation,
  headers: Readonly<Record<string, string>>,
  connections: number,
  load: { durationS: number; amount?: undefined } | { amount: number; durationS?: undefined },
  signal: AbortSignal,
): Promise<{ measurement: RoundMeasurement; latenciesMs: Float64Array }> {
  const proc = target.process!;
  const cpuOf = async (pid: number) => (await cpuMsOf(pid)) ?? NaN;
  const subgraphsCpu = async () => (await Promise.all(subgraphs.map((s) => cpuOf(s.pid)))).reduce((n, ms) => n + ms, 0);
  const callsBefore = await readCallCounts(origins);
  const machineBefore = (await machineBusyCpuMs()) ?? NaN;
  const gatewayBefore = await cpuOf(proc.pid);
  const subgraphsBefore = await subgraphsCpu();
  const clientBefore = process.cpuUsage();
  const result = await runLoad({ url: target.url, body: op.body, headers, connections, durationS: load.durationS ?? 0, amount: load.amount, signal });
  const client = process.cpuUsage(clientBefore);
  const callsAfter = await readCallCounts(origins);
  const gatewayCpuMs = (await cpuOf(proc.pid)) - gatewayBefore;
  const subgraphsCpuMs = (await subgraphsCpu()) - subgraphsBefore;
  const machineMs = ((await machineBusyCpuMs()) ?? NaN) - machineBefore;
  if (signal.aborted) throw new BenchAbort('interrupted');
  for (const p of [proc, ...subgraphs]) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) throw new BenchAbort(`${p.name} exited during the ${op.name} load on ${target.name}: ${p.stderr().trim().slice(-2_000)}`);
  }
  const clientCpuMs = (client.user + client.system) / 1000;
  return {
    measurement: {
      responses: result.responses,
      durationS: result.durationS,
      non2xx: result.non2xx,
      errors: result.errors,
      graphqlErrors: result.graphqlErrors,
      gatewayCpuMs,
      subgraphsCpuMs,
      clientCpuMs,
      otherCpuMs: Math.max(0, machineMs - gatewayCpuMs - subgraphsCpuMs - clientCpuMs),
      calls: callsBetween(callsBefore, callsAfter).bySubgraph,
    },
    latenciesMs: result.latenciesMs,
  };
}

/** No subgraph call for this long means the last gateway loaded has finished what was left in flight. */
const QUIET_MS = 200;
const QUIET_LIMIT_MS = 15_000;

/** Resolves once the subgraphs' counts stop moving (or after QUIET_LIMIT_MS). */
async function quietCallCounts(origins: Readonly<Record<string, string>>): Promise<void> {
  const deadline = performance.now() + QUIET_LIMIT_MS;
  let last = await readCallCounts(origins);
  while (performance.now() < deadline) {
    await sleep(QUIET_MS);
    const now = await readCallCounts(origins);
    if (Object.keys(now).every((name) => now[name] === last[name])) return;
    last = now;
  }
}


/** Runs the public benchmark and exits with its code (0, 1 when requests failed or a check did not pass, 2 on a bad option). */
export function runPublicBench(): void {
  runBenchMain({
    label: 'bench --public',
    progress,
    usage: USAGE,
    main: (run) => {
      lifecycle = run;
      return main();
    },
    isUsageError: (error) => error instanceof UsageError,
    isAbort: (error) => error instanceof BenchAbort,
  });
}
