// `npm run bench [-- --quick] [--customers N]`: our gateway against a bare @apollo/gateway on the same
// supergraph and the same real subgraphs, and against itself with usage recording off (the usage
// recording cost), each in its own process, loaded one after the other in a rotating order. See README.md.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mergeSorted, quantile, runLoad, type LoadResult } from './load.js';
import { benchAuditStores } from './audit-store.js';
import { BENCH_SCOPES, startBenchAuth } from './auth.js';
import { benchOperations, sendOnce, type BenchOperation } from './operations.js';
import { startOtlpSink, type SinkCounts } from './otlp-sink.js';
import { benchRateLimitsFile, benchRedis } from './rate-limits.js';
import { gitCommit, runBenchMain, type BenchLifecycle } from './lifecycle.js';
import { cpuMsOf, freePorts, machineBusyCpuMs, memoryOf, ROOT, spawnEntry, type BenchProcess, type Memory } from './processes.js';
import { formatTables, type BenchReport, type OperationResult, type StartupSample, type TargetName } from './report.js';
import { countRecorded, judgeUsage, type UsageCheck } from './usage-check.js';
import { roundOrder } from './rounds.js';

export { roundOrder };

/** What `ours / bare` requests/s should be on every operation once every pipeline stage exists. */
export const TARGET_RATIO = 0.9;
/** The issue's readiness bound for our gateway, in ms from process start (measured, not asserted). */
export const READY_BOUND_MS = 2_000;
export const DEFAULT_CUSTOMERS = 2_000;
export const DEFAULT_CONNECTIONS = 10;
/** Our gateway logs one line per request at info: at warn the bench measures the gateway, not pino. */
export const OURS_LOG_LEVEL = 'warn';

interface Mode {
  /** Seconds of load per target and operation before measuring (JIT, plan cache, connection pools). */
  warmupS: number;
  /** Measured rounds per operation; each round loads every target, in an order that rotates per round. */
  rounds: number;
  /** Seconds of load per target per round. */
  roundS: number;
  /** Process starts per target whose readiness is measured (the last one is kept for the load). */
  startupSamples: number;
}

// Three targets: 3 rounds give every target each position once (quick), 6 rounds every order once (full).
export const MODES: Readonly<Record<'quick' | 'full', Mode>> = {
  quick: { warmupS: 1, rounds: 3, roundS: 1, startupSamples: 1 },
  full: { warmupS: 3, rounds: 6, roundS: 5, startupSamples: 3 },
};

const TARGET_NAMES = ['bare', 'ours', 'ours-no-usage'] as const satisfies readonly TargetName[];

/** A fresh value per target. */
function perTarget<T>(make: (name: TargetName) => T): Record<TargetName, T> {
  return Object.fromEntries(TARGET_NAMES.map((name) => [name, make(name)])) as Record<TargetName, T>;
}

interface Target {
  readonly name: TargetName;
  /** A compiled file (dist/) or a TypeScript source (bench's own bare gateway): see nodeArgsFor. */
  readonly entry: string;
  readonly url: string;
  /** The environment of the process that is loaded. */
  readonly env: Record<string, string>;
  /** The environment of the starts that only measure readiness: they need the ready log line. */
  readonly readinessEnv: Record<string, string>;
  /** Whether --startup-samples timed starts run before the loaded one (ours-no-usage: only the loaded start). */
  readonly timedStarts: boolean;
  process?: BenchProcess;
}

const SUBGRAPH_READY_TIMEOUT_MS = 180_000;
const GATEWAY_READY_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 10;
const READY_LINE_GRACE_MS = 200;
/** Usage check: readiness polls a gateway may answer with errors (and so count) before its first good answer. */
const STARTUP_POLL_SLACK = 10;

const USAGE = `Usage: npm run bench -- [options]
  --quick              short rounds: the whole run in about a minute
  --customers N        customers seeded in the embedded database (default ${DEFAULT_CUSTOMERS})
  --connections N      concurrent keep-alive connections per load run (default ${DEFAULT_CONNECTIONS})
  --rounds N           measured rounds per operation (quick ${MODES.quick.rounds}, default ${MODES.full.rounds})
  --duration S         seconds per target per round (quick ${MODES.quick.roundS}, default ${MODES.full.roundS})
  --warmup S           warm-up seconds per target per operation (quick ${MODES.quick.warmupS}, default ${MODES.full.warmupS})
  --startup-samples N  process starts per target for the readiness times (quick ${MODES.quick.startupSamples}, default ${MODES.full.startupSamples})
  --only NAME          run one operation (lookup, lookup-persisted, join or list); repeatable
  --header 'k: v'      extra request header for every target (e.g. authorization); repeatable
  --role NAME          ours's token carries this role of policies/access.yaml instead of the bench's scopes
                       (data-scientist: pseudonymized emails and masked names and phones); bare stays clear
  --ours-env K=V       extra environment for ours and ours-no-usage (e.g. INBOUND_DEDUP=off); repeatable
  --tracing            ours (both) and the subgraphs export OpenTelemetry traces, every request sampled,
                       to a collector stand-in on loopback: ours/bare then includes what tracing costs
  --out FILE           where the JSON goes (default bench/results/latest.json; with --tracing, tracing.json)
  --public             the public federation benchmark instead (its own options: npm run bench -- --public --help)`;

function readArgs(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      customers: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'startup-samples': { type: 'string' },
      only: { type: 'string', multiple: true },
      header: { type: 'string', multiple: true },
      role: { type: 'string' },
      'ours-env': { type: 'string', multiple: true },
      tracing: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  }).values;
}

function parseCli(argv: readonly string[]) {
  const values = (() => {
    try {
      return readArgs(argv);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  })();
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const mode = values.quick ? MODES.quick : MODES.full;
  const int = (flag: string, value: string | undefined, fallback: number, min: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag}: expected an integer >= ${min}, got "${value}"`);
    return n;
  };
  const seconds = (flag: string, value: string | undefined, fallback: number, min: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${flag}: expected a number of seconds >= ${min}, got "${value}"`);
    return n;
  };
  const headers: Record<string, string> = {};
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    if (colon < 1) throw new UsageError(`--header: expected "name: value", got "${header}"`);
    headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
  }
  const oursEnv: Record<string, string> = {};
  for (const entry of values['ours-env'] ?? []) {
    const equals = entry.indexOf('=');
    if (equals < 1 || !/^[A-Z][A-Z0-9_]*$/.test(entry.slice(0, equals))) throw new UsageError(`--ours-env: expected "NAME=value", got "${entry}"`);
    oursEnv[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  if (values.role !== undefined && !/^[a-z][a-z0-9-]*$/.test(values.role)) throw new UsageError(`--role: expected a role name of policies/access.yaml, got "${values.role}"`);
  return {
    quick: values.quick,
    customers: int('customers', values.customers, DEFAULT_CUSTOMERS, 1),
    connections: int('connections', values.connections, DEFAULT_CONNECTIONS, 1),
    rounds: int('rounds', values.rounds, mode.rounds, 1),
    roundS: seconds('duration', values.duration, mode.roundS, 1),
    warmupS: seconds('warmup', values.warmup, mode.warmupS, 0),
    startupSamples: int('startup-samples', values['startup-samples'], mode.startupSamples, 0),
    only: values.only,
    headers,
    role: values.role,
    oursEnv,
    tracing: values.tracing,
    // A traced run is kept apart: latest.json stays the untraced comparison the target is read from.
    out: values.out ?? join(ROOT, values.tracing ? 'bench/results/tracing.json' : 'bench/results/latest.json'),
  };
}

class UsageError extends Error {}


/** A precondition of a meaningful measurement failed: the run stops with this message. */
class BenchAbort extends Error {}

const t0 = performance.now();
/** This run's processes and cleanups (set when the run starts). */
let lifecycle: BenchLifecycle;
const progress = (text: string) => process.stderr.write(`bench [${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<number> {
  const cli = parseCli(process.argv.slice(2));
  const supergraph = join(ROOT, 'schema/supergraph.graphql');
  if (!existsSync(supergraph)) throw new BenchAbort(`${supergraph} is missing: run \`npm run compose\` first`);
  const startedAt = new Date();
  const loadAtStart = os.loadavg().map((n) => Math.round(n * 100) / 100);

  // Ours and the subgraphs are measured as production runs them: compiled, by plain node. Build
  // now, so the numbers are those of the sources checked out (the output goes to stderr).
  progress('compiling (npm run build)');
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });

  // Subgraphs: one process, all three products, an embedded database seeded at the stated scale.
  const [customerPort, financePort, productPort, barePort, oursPort, noUsagePort, issuerPort, redisPort, sinkPort] = (await freePorts(9)) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const redis = await benchRedis(redisPort);
  if (redis) lifecycle.onExit(() => redis.stop());
  progress(redis ? `ours limits through Redis (${redis.source}: ${redis.url})` : 'no Redis here (no REDIS_URL, no redis-server): ours limits in-process');
  // Both of our gateways share the Redis and the key prefix (rate-limit counters no bench request can
  // exhaust; usage counts, which only ours writes: the usage check reads them back at the end).
  const redisKeyPrefix = `bench${process.pid}`;
  const rateLimitsEnv: Record<string, string> = {
    RATE_LIMITS_FILE: benchRateLimitsFile(),
    ...(redis ? { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redisKeyPrefix } : {}),
  };
  // --tracing: ours and the subgraphs export every span (the default sampler samples every request,
  // the protocol is the default http/protobuf) to a stand-in collector; bare has no tracing to turn on.
  const sink = cli.tracing ? await startOtlpSink(sinkPort) : undefined;
  if (sink) {
    lifecycle.onExit(() => sink.stop());
    progress(`tracing on: ours and the subgraphs export to ${sink.url}`);
  }
  const tracingEnv: Record<string, string> = sink ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } : {};
  const auth = await startBenchAuth(issuerPort, cli.role);
  lifecycle.onExit(() => auth.stop());
  const auditStores = await benchAuditStores();
  lifecycle.onExit(() => auditStores.stop());
  progress(`audit trail: ${auditStores.description}`);
  // The bench's token first, so that a --header authorization replaces it.
  const headers: Record<string, string> = { authorization: auth.authorization, ...cli.headers };
  progress(`starting the subgraphs with ${cli.customers} customers`);
  const subgraphs = spawnEntry('subgraphs', 'dist/subgraphs/main.js', [], {
    HOST: '127.0.0.1',
    CUSTOMER_PORT: String(customerPort),
    FINANCE_PORT: String(financePort),
    PRODUCT_PORT: String(productPort),
    SEED_CUSTOMERS: String(cli.customers),
    // The subgraphs log no line per request; info keeps the "listening" lines this waits for.
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
    ...auth.subgraphsEnv,
    ...tracingEnv,
  });
  const subgraphUrls: Record<string, string> = {};
  let seeded: unknown;
  for (const port of [customerPort, financePort, productPort]) {
    const { line } = await subgraphs.waitForLine(
      (l) => l.msg === 'subgraph listening' && typeof l.url === 'string' && new URL(l.url).port === String(port),
      SUBGRAPH_READY_TIMEOUT_MS,
    );
    subgraphUrls[String(line.product)] = String(line.url);
  }
  const seededLine = await subgraphs.waitForLine((l) => l.msg === 'embedded database seeded', 1_000).catch(() => undefined);
  if (seededLine) seeded = { counts: seededLine.line.counts, ms: seededLine.line.ms };
  progress(`subgraphs ready (${Object.entries(subgraphUrls).map(([n, u]) => `${n} ${u}`).join(', ')})`);

  // Seeded ids are C + 6 digits from C000001 (see the Customer type); the middle one, nothing special.
  const customerId = `C${String(Math.max(1, Math.ceil(cli.customers / 2))).padStart(6, '0')}`;
  const operations = benchOperations(customerId, cli.customers).filter((op) => !cli.only || cli.only.includes(op.name));
  if (operations.length === 0) throw new UsageError(`--only: expected lookup, lookup-persisted, join or list`);
  const lookup = benchOperations(customerId, cli.customers)[0]!;

  const overrides = Object.entries(subgraphUrls).map(([name, url]) => `${name}=${url}`).join(',');
  const oursEnv = (name: TargetName, port: number, usageRecording: boolean): Record<string, string> => ({
    PORT: String(port),
    HOST: '127.0.0.1',
    SUPERGRAPH: supergraph,
    SUBGRAPH_URLS: overrides,
    LOG_LEVEL: OURS_LOG_LEVEL,
    NODE_ENV: 'production',
    // Several gateways run side by side here: each picks a free port for its admin listener.
    ADMIN_PORT: '0',
    ...auth.gatewayEnv,
    ...auditStores.envFor(name),
    ...rateLimitsEnv,
    // The default, stated so that ours keeps measuring recording on should the default change.
    USAGE_RECORDING: String(usageRecording),
    ...tracingEnv,
    ...cli.oursEnv,
  });
  const targets: Record<TargetName, Target> = {
    bare: {
      name: 'bare',
      entry: 'bench/bare-gateway.ts',
      url: `http://127.0.0.1:${barePort}/`,
      env: { PORT: String(barePort), SUPERGRAPH: supergraph, SUBGRAPH_URLS: overrides, NODE_ENV: 'production', ...auth.bareEnv },
      readinessEnv: {},
      timedStarts: true,
    },
    ours: {
      name: 'ours',
      entry: 'dist/gateway/main.js',
      url: `http://127.0.0.1:${oursPort}/graphql`,
      env: oursEnv('ours', oursPort, true),
      // "gateway ready" is an info line: invisible at the level the load runs at.
      readinessEnv: { LOG_LEVEL: 'info' },
      timedStarts: true,
    },
    // ours with usage recording off, everything else alike: ours / ours-no-usage is what recording costs.
    'ours-no-usage': {
      name: 'ours-no-usage',
      entry: 'dist/gateway/main.js',
      url: `http://127.0.0.1:${noUsagePort}/graphql`,
      env: oursEnv('ours-no-usage', noUsagePort, false),
      readinessEnv: { LOG_LEVEL: 'info' },
      // Readiness is ours's; this one is started once, to be loaded.
      timedStarts: false,
    },
  };
  /** Operations each target answered the bench (every load, check and first answer): for the usage check. */
  const answered = perTarget(() => 0);
  /** Load runs (warm-ups included) per target: each may leave up to --connections requests in flight. */
  const loadRuns = perTarget(() => 0);

  // Readiness: spawn to the ready line and to the first good answer, over a few starts of each
  // target; then the start that is loaded (its first answer counts as one more sample).
  const startup = perTarget((): StartupSample[] => []);
  for (const target of Object.values(targets)) {
    const timed = target.timedStarts ? cli.startupSamples : 0;
    for (let i = 0; i <= timed; i++) {
      const loaded = i === timed;
      const { proc, sample } = await startTarget(target, loaded ? target.env : { ...target.env, ...target.readinessEnv }, lookup, headers);
      startup[target.name].push(sample);
      answered[target.name] += 1;
      progress(
        `${target.name}${loaded ? ' (the start under load)' : ''}: ready line ${sample.readyLineMs ?? '-'} ms, first answer ${sample.firstAnswerMs} ms after spawn (pid ${proc.pid})`,
      );
      if (loaded) target.process = proc;
      else await proc.stop();
    }
  }

  // Nothing is measured unless every operation answers with data and no errors on both targets.
  for (const op of operations) {
    for (const target of Object.values(targets)) {
      if (op.register) {
        const registered = await sendOnce(target.url, op.register, headers, op.hasRows);
        if (!registered.ok) throw new BenchAbort(`${target.name} does not register ${op.name}, nothing measured: ${registered.problem}`);
        answered[target.name] += 1;
      }
      const answer = await sendOnce(target.url, op.body, headers, op.hasRows);
      if (!answer.ok) throw new BenchAbort(`${target.name} does not answer ${op.name} correctly, nothing measured: ${answer.problem}`);
      answered[target.name] += 1;
    }
  }
  const idleMemory: Partial<Record<TargetName, Memory>> = {};
  for (const target of Object.values(targets)) {
    const memory = await memoryOf(target.process!.pid);
    if (memory) idleMemory[target.name] = memory;
  }

  const client = { headers, connections: cli.connections };
  const interrupt = new AbortController();
  lifecycle.activeLoad = interrupt;
  const results: OperationResult[] = [];
  const redisPid = redis?.pid;
  const counted = async (target: Target, op: BenchOperation, durationS: number) => {
    const measured = await load(target, subgraphs, redisPid, op, client, durationS, interrupt.signal);
    answered[target.name] += measured.result.responses;
    loadRuns[target.name] += 1;
    return measured;
  };
  for (const op of operations) {
    if (cli.warmupS > 0) {
      for (const target of Object.values(targets)) await counted(target, op, cli.warmupS);
    }
    const runs = perTarget((): Measured[] => []);
    const memory: Partial<Record<TargetName, Memory>> = {};
    for (let round = 0; round < cli.rounds; round++) {
      // bare, ours, ours-no-usage / ours, ours-no-usage, bare / ...: see roundOrder.
      for (const name of roundOrder(TARGET_NAMES, round)) {
        const measured = await counted(targets[name], op, cli.roundS);
        runs[name].push(measured);
        const { result, gatewayCpuMs } = measured;
        progress(
          `${op.name} round ${round + 1}/${cli.rounds} ${name}: ${result.requestsPerS.toFixed(0)} req/s, ` +
            `gateway ${(gatewayCpuMs / result.responses).toFixed(2)} CPU ms/req`,
        );
      }
    }
    for (const name of TARGET_NAMES) {
      const m = await memoryOf(targets[name].process!.pid);
      if (m) memory[name] = m;
    }
    results.push(...summarize(op, runs, memory));
  }
  lifecycle.activeLoad = undefined;

  // Every gateway flushes the usage it recorded when it stops: stop them (by pid), then count in Redis.
  await Promise.all(Object.values(targets).map((target) => target.process!.stop()));
  let usageCheck: UsageCheck | null = null;
  if (redis) {
    const rootCoordinates = new Set(benchOperations(customerId, cli.customers).map((op) => op.rootCoordinate));
    const counts = {
      oursAnswered: answered.ours,
      slack: loadRuns.ours * cli.connections + startup.ours.length * STARTUP_POLL_SLACK,
      noUsageAnswered: answered['ours-no-usage'],
    };
    usageCheck = await countRecorded(redis.url, redisKeyPrefix, rootCoordinates).then(
      (recorded) => judgeUsage({ recorded, ...counts }),
      (error: unknown) => ({ recorded: null, ...counts, ok: false, problem: `could not read the usage counts from Redis: ${(error as Error).message}` }),
    );
    progress(usageCheck.ok ? `usage check: ${usageCheck.recorded} operations counted in Redis, ${answered.ours} answered by ours` : `usage check failed: ${usageCheck.problem}`);
  }

  // Stopped gateways have flushed their spans; the subgraphs export theirs every few seconds meanwhile.
  let tracing: SinkCounts | null = null;
  if (sink) {
    tracing = sink.counts();
    progress(`tracing: ${tracing.exports} exports (${(tracing.bytes / 2 ** 20).toFixed(1)} MiB): ${tracing.gatewayExports} from the gateways, ${tracing.productExports} from the subgraphs`);
  }

  const report: BenchReport = {
    date: startedAt.toISOString(),
    commit: gitCommit(),
    machine: {
      cpus: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      totalMemoryMb: Math.round(os.totalmem() / 2 ** 20),
      node: process.version,
      platform: `${process.platform} ${os.release()} ${process.arch}`,
      loadAverageAtStart: loadAtStart,
    },
    scale: { customers: cli.customers, seeded, lookupId: customerId },
    settings: {
      mode: cli.quick ? 'quick' : 'full',
      connections: cli.connections,
      pipelining: 1,
      warmupS: cli.warmupS,
      rounds: cli.rounds,
      roundS: cli.roundS,
      startupSamples: cli.startupSamples,
      oursLogLevel: OURS_LOG_LEVEL,
      extraHeaders: Object.keys(cli.headers),
      role: cli.role ?? null,
      oursEnv: cli.oursEnv,
      tracing: cli.tracing,
      audit: auditStores.description,
      targetRatio: TARGET_RATIO,
      readyBoundMs: READY_BOUND_MS,
      targets: {
        bare: `${targets.bare.entry} (@apollo/gateway, no pipeline)`,
        ours: `${targets.ours.entry}, USAGE_RECORDING=true (the default)`,
        'ours-no-usage': `${targets['ours-no-usage'].entry}, the same environment as ours and USAGE_RECORDING=false`,
      },
    },
    startup: Object.fromEntries(
      TARGET_NAMES.map((name) => [name, { samples: startup[name], idleMemory: idleMemory[name] }]),
    ) as BenchReport['startup'],
    results,
    usageCheck,
    tracing,
    notes: [
      ...(sink
        ? [
            'TRACING ON (--tracing): ours, ours-no-usage and the subgraphs export OpenTelemetry traces over OTLP/HTTP protobuf to a stand-in collector in the bench process, every request sampled; ' +
              'the subgraphs trace only calls that carry a trace context (ours\'s, not bare\'s). ours/bare is then the pipeline and tracing together.',
          ]
        : []),
      'ours, ours-no-usage and the subgraphs run the compiled build (dist/, npm run build at the start of the run) with node --enable-source-maps, as the production image runs them; ' +
        'bare is the bench\'s own TypeScript (bench/bare-gateway.ts) run through tsx, which turns source maps on too. A loader costs at start only: bare\'s readiness includes compiling its sources.',
      `ours runs with LOG_LEVEL=${OURS_LOG_LEVEL}: at info it writes one JSON log line per request, which would measure the logger.`,
      redis
        ? `ours runs with rate limiting on, against Redis (${redis.source}): one Lua round trip per request; budgets raised out of reach so nothing is refused (policies/rate-limits.yaml otherwise as shipped).`
        : 'ours runs with rate limiting on, in-process (no Redis on this machine).',
      redis
        ? `ours records per-field usage (USAGE_RECORDING=true), aggregated in process and flushed to the same Redis every second (USAGE_FLUSH_MS default); ` +
          `ours-no-usage is the same gateway with the same environment and USAGE_RECORDING=false. ours / ours-no-usage is the usage recording cost. ` +
          `The flush after the last second of a round falls outside the round's CPU window (aggregated counts: small).`
        : 'ours records per-field usage in process (no Redis); ours-no-usage is the same gateway with USAGE_RECORDING=false. ours / ours-no-usage is the usage recording cost.',
      'Every gateway and the subgraphs run with NODE_ENV=production: every request carries a bearer token from a throwaway issuer served by the bench (EdDSA, scopes ' +
        BENCH_SCOPES.join(' ') +
        '); ours (either) verifies it and forwards an identity token of its own to the subgraphs, bare forwards one identity token it re-signs every 20 s.',
      'The bench client, the subgraphs and the measured gateway share this machine; only one gateway is loaded at a time.',
      'Latencies are per response as the client saw them (loopback), over every measured round.',
    ],
  };

  process.stdout.write(formatTables(report));
  await mkdir(join(cli.out, '..'), { recursive: true });
  await writeFile(cli.out, `${JSON.stringify(report, null, 2)}\n`);
  progress(`wrote ${cli.out} (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s in all)`);

  const failed = results.reduce((n, r) => n + r.non2xx + r.errors + r.graphqlErrors, 0);
  if (failed > 0) {
    progress(`${failed} requests failed under load (non-2xx, connection errors or GraphQL errors): the numbers above are not comparable`);
    return 1;
  }
  if (usageCheck && !usageCheck.ok) {
    progress('the usage check failed: the usage recording cost above compares the wrong things');
    return 1;
  }
  if (tracing && (tracing.gatewayExports === 0 || tracing.productExports === 0)) {
    progress('--tracing: the collector stand-in received no spans from the gateways or from the subgraphs: tracing was not measured');
    return 1;
  }
  return 0;
}

/**
 * Spawns a gateway and measures its readiness: the first good answer to the lookup (polled from the
 * moment of spawn) and, when the process logs it, the ready line.
 */
async function startTarget(target: Target, env: Record<string, string>, lookup: BenchOperation, headers: Readonly<Record<string, string>>) {
  const proc = spawnEntry(target.name, target.entry, [], env);
  const ready = proc.waitForLine((l) => l.msg === 'gateway ready', GATEWAY_READY_TIMEOUT_MS);
  ready.catch(() => undefined);
  let exited = false;
  proc.child.once('exit', () => (exited = true));
  const deadline = proc.spawnedAt + GATEWAY_READY_TIMEOUT_MS;
  let firstAnswerAt: number | undefined;
  let last = '';
  while (firstAnswerAt === undefined) {
    if (exited) break;
    if (performance.now() > deadline) {
      throw new BenchAbort(`${target.name} gave no good answer within ${GATEWAY_READY_TIMEOUT_MS} ms of its start (last: ${last})`);
    }
    const answer = await sendOnce(target.url, lookup.body, headers, lookup.hasRows, 1_000);
    if (answer.ok) firstAnswerAt = performance.now();
    else {
      last = answer.problem ?? '';
      await sleep(POLL_INTERVAL_MS);
    }
  }
  if (firstAnswerAt === undefined) throw new BenchAbort(`${target.name} exited before answering${proc.stderr() ? `: ${proc.stderr().trim().slice(-2_000)}` : ''}`);
  // The line is written before the port answers; a moment's grace covers reading the pipe.
  const readyLine = await Promise.race([ready.catch(() => undefined), sleep(READY_LINE_GRACE_MS).then(() => undefined)]);
  const sample: StartupSample = {
    readyLineMs: readyLine ? Math.round(readyLine.at - proc.spawnedAt) : null,
    firstAnswerMs: Math.round(firstAnswerAt - proc.spawnedAt),
    logLevel: env.LOG_LEVEL ?? null,
  };
  return { proc, sample };
}

/** One load run and the CPU time each process spent during it. */
interface Measured {
  result: LoadResult;
  /** ms of CPU the loaded gateway process used (all threads); NaN without /proc. */
  gatewayCpuMs: number;
  /** ms of CPU the subgraphs process used. */
  subgraphsCpuMs: number;
  /** ms of CPU this process (the load generator) used. */
  clientCpuMs: number;
  /** ms of CPU the bench's own redis-server used; NaN when it is not the bench's (REDIS_URL) or there is none. */
  redisCpuMs: number;
  /** ms of CPU every other process on the machine used (busy CPU less the ones above). */
  otherCpuMs: number;
}

async function load(
  target: Target,
  subgraphs: BenchProcess,
  redisPid: number | undefined,
  op: BenchOperation,
  client: { headers: Readonly<Record<string, string>>; connections: number },
  durationS: number,
  signal: AbortSignal,
): Promise<Measured> {
  const proc = target.process!;
  const cpu = async () =>
    [(await cpuMsOf(proc.pid)) ?? NaN, (await cpuMsOf(subgraphs.pid)) ?? NaN, redisPid === undefined ? NaN : ((await cpuMsOf(redisPid)) ?? NaN)] as const;
  const machineBefore = (await machineBusyCpuMs()) ?? NaN;
  const [gatewayBefore, subgraphsBefore, redisBefore] = await cpu();
  const clientBefore = process.cpuUsage();
  const result = await runLoad({ url: target.url, body: op.body, headers: client.headers, connections: client.connections, durationS, signal });
  const clientCpu = process.cpuUsage(clientBefore);
  const [gatewayAfter, subgraphsAfter, redisAfter] = await cpu();
  const machine = ((await machineBusyCpuMs()) ?? NaN) - machineBefore;
  if (signal.aborted) throw new BenchAbort('interrupted');
  for (const p of [proc, subgraphs]) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new BenchAbort(`${p.name} exited during the ${op.name} load on ${target.name}${p.stderr() ? `: ${p.stderr().trim().slice(-2_000)}` : ''}`);
    }
  }
  const gatewayCpuMs = gatewayAfter - gatewayBefore;
  const subgraphsCpuMs = subgraphsAfter - subgraphsBefore;
  const clientCpuMs = (clientCpu.user + clientCpu.system) / 1000;
  const redisCpuMs = redisAfter - redisBefore;
  const ours = gatewayCpuMs + subgraphsCpuMs + clientCpuMs + (Number.isNaN(redisCpuMs) ? 0 : redisCpuMs);
  return { result, gatewayCpuMs, subgraphsCpuMs, clientCpuMs, redisCpuMs, otherCpuMs: Math.max(0, machine - ours) };
}

function summarize(op: BenchOperation, runs: Record<TargetName, Measured[]>, memory: Partial<Record<TargetName, Memory>>): OperationResult[] {
  const rows = TARGET_NAMES.map((name): OperationResult => {
    const list = runs[name].map((m) => m.result);
    const latencies = mergeSorted(list.map((r) => r.latenciesMs));
    const responses = list.reduce((n, r) => n + r.responses, 0);
    const durationS = list.reduce((n, r) => n + r.durationS, 0);
    const sum = (key: 'non2xx' | 'errors' | 'timeouts' | 'graphqlErrors') => list.reduce((n, r) => n + r[key], 0);
    const cpu = (key: 'gatewayCpuMs' | 'subgraphsCpuMs' | 'clientCpuMs' | 'redisCpuMs' | 'otherCpuMs') => runs[name].reduce((n, m) => n + m[key], 0);
    const percentOfOneCore = (ms: number) => Math.round((ms / (durationS * 1000)) * 100);
    return {
      operation: op.name,
      description: op.description,
      target: name,
      requestsPerS: round2(responses / durationS),
      p50Ms: round2(quantile(latencies, 0.5)),
      p99Ms: round2(quantile(latencies, 0.99)),
      rssMb: memory[name]?.rssMb ?? null,
      peakRssMb: memory[name]?.peakRssMb ?? null,
      responses,
      durationS: round2(durationS),
      non2xx: sum('non2xx'),
      errors: sum('errors'),
      timeouts: sum('timeouts'),
      graphqlErrors: sum('graphqlErrors'),
      roundRequestsPerS: list.map((r) => round2(r.requestsPerS)),
      gatewayCpuMsPerRequest: round3(cpu('gatewayCpuMs') / responses),
      roundGatewayCpuMsPerRequest: runs[name].map((m) => round3(m.gatewayCpuMs / m.result.responses)),
      gatewayCpuPercent: percentOfOneCore(cpu('gatewayCpuMs')),
      subgraphsCpuPercent: percentOfOneCore(cpu('subgraphsCpuMs')),
      clientCpuPercent: percentOfOneCore(cpu('clientCpuMs')),
      redisCpuPercent: Number.isNaN(cpu('redisCpuMs')) ? null : percentOfOneCore(cpu('redisCpuMs')),
      otherCpuPercent: percentOfOneCore(cpu('otherCpuMs')),
    };
  });
  const [bare, ours, noUsage] = rows as [OperationResult, OperationResult, OperationResult];
  ours.ratio = round3(ours.requestsPerS / bare.requestsPerS);
  ours.cpuRatio = round3(ours.gatewayCpuMsPerRequest / bare.gatewayCpuMsPerRequest);
  // The usage recording cost: the same gateway, recording on against off.
  ours.usageRatio = round3(ours.requestsPerS / noUsage.requestsPerS);
  ours.usageCpuRatio = round3(ours.gatewayCpuMsPerRequest / noUsage.gatewayCpuMsPerRequest);
  return rows;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}


// `--public` is a different benchmark with its own options (bench/public/run.ts); without it, this one.
if (process.argv.slice(2).includes('--public')) {
  const { runPublicBench } = await import('./public/run.js');
  runPublicBench();
} else {
  runBenchMain({
    label: 'bench',
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
