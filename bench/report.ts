import type { Memory } from './processes.js';
import type { UsageCheck } from './usage-check.js';

/** bare @apollo/gateway; ours as configured by default (usage recording on); ours with USAGE_RECORDING=false. */
export type TargetName = 'bare' | 'ours' | 'ours-no-usage';

export interface StartupSample {
  /** Spawn to the "gateway ready" log line, in ms; null when the process logged none (ours at warn). */
  readyLineMs: number | null;
  /** Spawn to the first answer to the lookup with data and no errors, in ms. */
  firstAnswerMs: number;
  /** LOG_LEVEL of this start, where the target reads one. */
  logLevel: string | null;
}

export interface OperationResult {
  operation: string;
  description: string;
  target: TargetName;
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** RSS of the target process after the operation's last round, MiB. */
  rssMb: number | null;
  peakRssMb: number | null;
  responses: number;
  durationS: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  graphqlErrors: number;
  /** requests/s of each measured round, in order. */
  roundRequestsPerS: number[];
  /** CPU time of the gateway process per response, ms (all threads: GC, tsx's loader worker). */
  gatewayCpuMsPerRequest: number;
  /** gatewayCpuMsPerRequest of each measured round, in order. */
  roundGatewayCpuMsPerRequest: number[];
  /** CPU of the gateway process during the measured rounds, % of one core. */
  gatewayCpuPercent: number;
  /** CPU of the subgraphs process (all three products, PGlite) during the rounds, % of one core. */
  subgraphsCpuPercent: number;
  /** CPU of the load generator (this process), % of one core. */
  clientCpuPercent: number;
  /** CPU of the bench's own redis-server (rate limiting; usage flushes), % of one core; null with REDIS_URL (then inside other CPU). */
  redisCpuPercent: number | null;
  /** CPU of everything else on the machine during the rounds, % of one core: noise when high. */
  otherCpuPercent: number;
  /** ours / bare requests/s, on the ours row. */
  ratio?: number;
  /** ours / bare gateway CPU ms per request, on the ours row: the gateway's own cost, whatever the bottleneck. */
  cpuRatio?: number;
  /** Usage recording cost, on the ours row: ours / ours-no-usage requests/s (below 1: recording costs throughput). */
  usageRatio?: number;
  /** Usage recording cost, on the ours row: ours / ours-no-usage gateway CPU ms per request (above 1: recording costs CPU). */
  usageCpuRatio?: number;
}

export interface BenchReport {
  date: string;
  commit: string | null;
  machine: { cpus: number; cpuModel: string; totalMemoryMb: number; node: string; platform: string; loadAverageAtStart: number[] };
  scale: { customers: number; seeded: unknown; lookupId: string };
  settings: {
    mode: 'quick' | 'full';
    connections: number;
    pipelining: number;
    warmupS: number;
    rounds: number;
    roundS: number;
    startupSamples: number;
    oursLogLevel: string;
    extraHeaders: string[];
    /** --tracing: ours and the subgraphs exported OpenTelemetry traces. */
    tracing: boolean;
    /** Where our gateways' audit records went (they run in production mode, which requires a store). */
    audit: string;
    /** ours's token: this role instead of the bench's scopes (--role). */
    role: string | null;
    /** --ours-env: extra environment for ours and ours-no-usage. */
    oursEnv: Record<string, string>;
    targetRatio: number;
    readyBoundMs: number;
    /** What each target runs with beyond the common environment (ours-no-usage: ours + USAGE_RECORDING=false). */
    targets: Record<TargetName, string>;
  };
  startup: Record<TargetName, { samples: StartupSample[]; idleMemory: Memory | undefined }>;
  results: OperationResult[];
  /** Did ours record usage and ours-no-usage not? null when it could not be read (no Redis). */
  usageCheck: UsageCheck | null;
  /** --tracing: what the collector stand-in received; null without --tracing. */
  tracing: { exports: number; bytes: number; gatewayExports: number; productExports: number } | null;
  notes: string[];
}


/** The first `textColumns` columns left-aligned, the numbers after them right-aligned, two spaces apart; an empty header prints as an empty line. */
function table(header: readonly string[], rows: readonly (readonly (string | number)[])[], textColumns: number): string {
  const cells = [header, ...rows].map((row) => row.map((cell) => String(cell)));
  const widths = Array.from({ length: Math.max(...cells.map((row) => row.length)) }, (_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) => row.map((cell, i) => (i >= textColumns ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

/** "other CPU" above this (% of one core) means something else competed for the machine. */
export const BUSY_MACHINE_PERCENT = 15;

const fixed = (n: number | null | undefined, digits: number) => (n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));

/** (max - min) / mean of per-round values, in %; 0 with fewer than two rounds. */
export function spreadPercent(values: readonly number[], mean: number): number {
  return values.length > 1 && mean > 0 ? ((Math.max(...values) - Math.min(...values)) / mean) * 100 : 0;
}

/** "x0.97 (-3%)" */
function change(ratio: number): string {
  const percent = Math.round((ratio - 1) * 100);
  return `x${ratio.toFixed(2)} (${percent > 0 ? '+' : percent < 0 ? '-' : '±'}${Math.abs(percent)}%)`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The human-readable form of a run: settings, the throughput table, then readiness. */
export function formatTables(report: BenchReport): string {
  const { machine, settings, scale } = report;
  const lines: string[] = [];
  lines.push('');
  lines.push(
    `${report.date}  commit ${report.commit ?? '?'}  node ${machine.node}  ${machine.cpus} CPUs (${machine.cpuModel})  ${machine.platform}  load ${machine.loadAverageAtStart.join(' ')}`,
  );
  lines.push(
    `${settings.mode}: ${scale.customers} customers, ${settings.connections} connections, warm-up ${settings.warmupS} s, ` +
      `${settings.rounds} rounds x ${settings.roundS} s per target, order rotating per round; ours at LOG_LEVEL=${settings.oursLogLevel}; ` +
      `ours-no-usage = ours + USAGE_RECORDING=false` +
      `; audit trail: ${settings.audit}` +
      (settings.role ? `; ours's token: role ${settings.role}` : '') +
      (Object.keys(settings.oursEnv).length ? `; ours with ${Object.entries(settings.oursEnv).map(([k, v]) => `${k}=${v}`).join(' ')}` : '') +
      (settings.tracing ? '; TRACING ON: ours and the subgraphs export every span (--tracing)' : ''),
  );
  lines.push('');
  const rows = report.results.map((r) => {
    const spread = spreadPercent(r.roundRequestsPerS, r.requestsPerS);
    return [
      r.operation,
      r.target,
      fixed(r.requestsPerS, 0),
      fixed(r.p50Ms, 2),
      fixed(r.p99Ms, 2),
      fixed(r.rssMb, 0),
      fixed(r.gatewayCpuMsPerRequest, 2),
      `${r.gatewayCpuPercent}%`,
      `${r.subgraphsCpuPercent}%`,
      r.redisCpuPercent === null ? '-' : `${r.redisCpuPercent}%`,
      `${r.otherCpuPercent}%`,
      r.non2xx,
      r.errors,
      r.graphqlErrors,
      `${spread.toFixed(0)}%`,
      r.ratio === undefined ? '' : fixed(r.ratio, 2),
      r.cpuRatio === undefined ? '' : fixed(r.cpuRatio, 2),
      r.usageRatio === undefined ? '' : fixed(r.usageRatio, 2),
      r.usageCpuRatio === undefined ? '' : fixed(r.usageCpuRatio, 2),
    ];
  });
  lines.push(
    table(
      [
        'operation',
        'target',
        'req/s',
        'p50 ms',
        'p99 ms',
        'RSS MB',
        'gw CPU ms/req',
        'gw CPU',
        'subgraphs CPU',
        'redis CPU',
        'other CPU',
        'non-2xx',
        'errors',
        'gql errors',
        'spread',
        'ours/bare',
        'CPU/req ours/bare',
        'usage cost: ours/no-usage',
        'usage cost: CPU/req',
      ],
      rows,
      2,
    ),
  );
  const below = report.results.filter((r) => r.ratio !== undefined && r.ratio < settings.targetRatio).map((r) => r.operation);
  lines.push('');
  lines.push(
    `ours/bare = ours req/s / bare req/s per operation; target >= ${settings.targetRatio.toFixed(2)} on every operation` +
      (below.length ? ` (below it now: ${below.join(', ')})` : ' (met on every operation measured)'),
  );
  lines.push('spread = (max - min) / mean of the per-round req/s of that row: a ratio within it of 1.00 is noise');
  lines.push(
    `gw CPU ms/req = CPU time of the gateway process per response; CPU/req ours/bare is the gateway's own cost ratio ` +
      `even when the subgraphs, not the gateway, are the bottleneck (subgraphs CPU near 100% = one core busy)`,
  );
  lines.push(
    'usage cost = usage recording cost: ours (usage recording on, the default) against ours-no-usage (the same gateway, ' +
      'same Redis and environment, USAGE_RECORDING=false); ours/no-usage = req/s ratio (below 1.00: throughput recording costs), ' +
      'CPU/req = gw CPU ms/req ratio (above 1.00: gateway CPU recording costs per request)',
  );
  const usageLines = report.results.flatMap((ours) => {
    if (ours.target !== 'ours' || ours.usageRatio === undefined || ours.usageCpuRatio === undefined) return [];
    const off = report.results.find((r) => r.operation === ours.operation && r.target === 'ours-no-usage');
    if (!off) return [];
    const rpsNoise = Math.max(spreadPercent(ours.roundRequestsPerS, ours.requestsPerS), spreadPercent(off.roundRequestsPerS, off.requestsPerS));
    const cpuNoise = Math.max(
      spreadPercent(ours.roundGatewayCpuMsPerRequest, ours.gatewayCpuMsPerRequest),
      spreadPercent(off.roundGatewayCpuMsPerRequest, off.gatewayCpuMsPerRequest),
    );
    const verdict = (ratio: number, noise: number) => (Math.abs(ratio - 1) * 100 < noise ? `within the ${noise.toFixed(0)}% spread: noise` : `beyond the ${noise.toFixed(0)}% spread`);
    return [
      [
        ours.operation,
        `req/s ${change(ours.usageRatio)}`,
        verdict(ours.usageRatio, rpsNoise),
        `gw CPU/req ${change(ours.usageCpuRatio)}`,
        verdict(ours.usageCpuRatio, cpuNoise),
        `RSS ${fixed(ours.rssMb, 0)} vs ${fixed(off.rssMb, 0)} MB`,
      ],
    ];
  });
  if (usageLines.length) {
    lines.push('');
    lines.push('usage recording cost (ours against ours-no-usage, per operation; spread = the larger of the two rows\' per-round spreads):');
    lines.push(
      table([], usageLines, 6)
        .split('\n')
        .filter((line) => line.trim())
        .map((line) => `  ${line}`)
        .join('\n'),
    );
  }
  const check = report.usageCheck;
  if (check) {
    lines.push(
      check.ok
        ? `usage check: ours recorded every operation it answered (${check.recorded} counted in Redis for ${check.oursAnswered} answered), ours-no-usage none (${check.noUsageAnswered} answered)`
        : `WARNING: usage check failed: ${check.problem}`,
    );
  } else {
    lines.push('usage check: not made (no Redis to read the recorded counts from)');
  }
  const busy = report.results.filter((r) => r.otherCpuPercent > BUSY_MACHINE_PERCENT);
  if (busy.length) {
    lines.push(
      `WARNING: other processes used more than ${BUSY_MACHINE_PERCENT}% of a core during ${busy.map((r) => `${r.operation}/${r.target}`).join(', ')} ` +
        `(other CPU): this machine was not quiet, treat those numbers as noise and run again`,
    );
  }
  lines.push('');
  const startupRows = Object.entries(report.startup).map(([name, s]) => {
    const ready = s.samples.flatMap((x) => (x.readyLineMs === null ? [] : [x.readyLineMs]));
    const first = s.samples.map((x) => x.firstAnswerMs);
    const range = (v: number[]) => (v.length > 1 ? `${Math.min(...v)}-${Math.max(...v)}` : '');
    return [name, s.samples.length, ready.length ? median(ready) : '-', range(ready), median(first), range(first), fixed(s.idleMemory?.rssMb, 0)];
  });
  lines.push(
    table(['target', 'starts', 'ready line ms', '(min-max)', 'first answer ms', '(min-max)', 'idle RSS MB'], startupRows, 1),
  );
  const ours = report.startup.ours?.samples.map((s) => s.firstAnswerMs) ?? [];
  if (ours.length) {
    lines.push('');
    lines.push(
      `readiness: ms from spawn (ours: node dist/gateway/main.js; bare: node --import tsx) to the "gateway ready" log line and to the first lookup answered with data; ` +
        `ours ${Math.max(...ours) <= settings.readyBoundMs ? 'within' : 'OVER'} the ${settings.readyBoundMs} ms bound on every start measured (worst ${Math.max(...ours)} ms)`,
    );
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}
