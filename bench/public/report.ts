// The public benchmark's numbers: per round measurements summarized per query and target, the ratios
// of ours to each other target, and the table printed at the end of `npm run bench -- --public`.

/** The five gateways the public benchmark loads. */
export const PUBLIC_TARGETS = ['bare', 'ours', 'hive', 'hive-no-dedup', 'hive-subgraph-dedup'] as const;
export type PublicTarget = (typeof PUBLIC_TARGETS)[number];

/** Whom ours is compared with, in the table's order. */
export const COMPARED_WITH = ['hive', 'hive-no-dedup', 'hive-subgraph-dedup', 'bare'] as const satisfies readonly PublicTarget[];

/** One load run of one target: what the client saw and what the processes spent meanwhile. */
export interface RoundMeasurement {
  /** Every request of a round is answered before it ends (a fixed number per round), so all the work it caused is inside it. */
  responses: number;
  durationS: number;
  non2xx: number;
  errors: number;
  graphqlErrors: number;
  /** ms of CPU of the gateway process (all threads). */
  gatewayCpuMs: number;
  /** ms of CPU of the four subgraph processes together. */
  subgraphsCpuMs: number;
  /** ms of CPU of the bench process (the load generator). */
  clientCpuMs: number;
  /** ms of CPU of everything else on the machine (busy CPU less the above; Redis included when it is not the bench's). */
  otherCpuMs: number;
  /** Requests each subgraph received during the run. */
  calls: Readonly<Record<string, number>>;
}

export interface PublicRow {
  query: string;
  target: PublicTarget;
  /** Median over the measured rounds of responses / seconds. */
  requestsPerS: number;
  roundRequestsPerS: number[];
  /** (max - min) / median of the per-round req/s, in %. */
  spreadPercent: number;
  /** Median over the rounds of gateway CPU ms / response. */
  gatewayCpuMsPerRequest: number;
  roundGatewayCpuMsPerRequest: number[];
  /** Subgraph requests per gateway response, over every measured round. */
  subgraphCallsPerRequest: number;
  callsPerRequestBySubgraph: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  rssMb: number | null;
  peakRssMb: number | null;
  responses: number;
  durationS: number;
  non2xx: number;
  errors: number;
  graphqlErrors: number;
  /** CPU during the measured rounds, in % of one core. */
  gatewayCpuPercent: number;
  subgraphsCpuPercent: number;
  clientCpuPercent: number;
  otherCpuPercent: number;
}

export interface PublicRatio {
  query: string;
  versus: PublicTarget;
  /** ours req/s / theirs (median req/s each): above 1, ours answers more. */
  requestsPerS: number;
  /** ours gateway CPU ms per request / theirs: below 1, ours spends less per request. */
  cpuPerRequest: number;
  /** ours subgraph calls per request / theirs. */
  subgraphCalls: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (n: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** Per-round figures and totals of one target on one query. Latencies and memory are the caller's (they are not per round). */
export function summarizeRounds(
  query: string,
  target: PublicTarget,
  rounds: readonly RoundMeasurement[],
  extra: { p50Ms: number; p99Ms: number; rssMb: number | null; peakRssMb: number | null },
): PublicRow {
  const perRound = rounds.map((r) => r.responses / r.durationS);
  const cpuPerRound = rounds.map((r) => (r.responses > 0 ? r.gatewayCpuMs / r.responses : NaN));
  const rps = median(perRound);
  const sum = (pick: (r: RoundMeasurement) => number) => rounds.reduce((n, r) => n + pick(r), 0);
  const responses = sum((r) => r.responses);
  const durationS = sum((r) => r.durationS);
  const callsBy: Record<string, number> = {};
  for (const r of rounds) for (const [name, n] of Object.entries(r.calls)) callsBy[name] = (callsBy[name] ?? 0) + n;
  const perRequest = (n: number) => (responses > 0 ? round(n / responses, 3) : NaN);
  const percent = (ms: number) => (durationS > 0 ? Math.round((ms / (durationS * 1000)) * 100) : NaN);
  return {
    query,
    target,
    requestsPerS: round(rps, 1),
    roundRequestsPerS: perRound.map((n) => round(n, 1)),
    spreadPercent: perRound.length > 1 && rps > 0 ? round(((Math.max(...perRound) - Math.min(...perRound)) / rps) * 100, 1) : 0,
    gatewayCpuMsPerRequest: round(median(cpuPerRound), 3),
    roundGatewayCpuMsPerRequest: cpuPerRound.map((n) => round(n, 3)),
    subgraphCallsPerRequest: perRequest(Object.values(callsBy).reduce((n, c) => n + c, 0)),
    callsPerRequestBySubgraph: Object.fromEntries(Object.entries(callsBy).map(([name, n]) => [name, perRequest(n)])),
    ...extra,
    responses,
    durationS: round(durationS, 2),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    graphqlErrors: sum((r) => r.graphqlErrors),
    gatewayCpuPercent: percent(sum((r) => r.gatewayCpuMs)),
    subgraphsCpuPercent: percent(sum((r) => r.subgraphsCpuMs)),
    clientCpuPercent: percent(sum((r) => r.clientCpuMs)),
    otherCpuPercent: percent(sum((r) => r.otherCpuMs)),
  };
}

/** ours against each other target, per query, for every query that has both rows. */
export function publicRatios(rows: readonly PublicRow[]): PublicRatio[] {
  const queries = [...new Set(rows.map((r) => r.query))];
  return queries.flatMap((query) => {
    const ours = rows.find((r) => r.query === query && r.target === 'ours');
    if (!ours) return [];
    return COMPARED_WITH.flatMap((versus) => {
      const theirs = rows.find((r) => r.query === query && r.target === versus);
      if (!theirs) return [];
      return [
        {
          query,
          versus,
          requestsPerS: round(ours.requestsPerS / theirs.requestsPerS, 3),
          cpuPerRequest: round(ours.gatewayCpuMsPerRequest / theirs.gatewayCpuMsPerRequest, 3),
          subgraphCalls: round(ours.subgraphCallsPerRequest / theirs.subgraphCallsPerRequest, 3),
        },
      ];
    });
  });
}

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[], textColumns: number): string {
  const cells = [header, ...rows].map((row) => row.map((cell) => String(cell)));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row) => row.map((cell, i) => (i >= textColumns ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

const fixed = (n: number | null, digits: number) => (n === null || Number.isNaN(n) ? '-' : n.toFixed(digits));

/** The rows, then ours's ratios to each other target, as printed by the bench. */
export function formatPublicTable(rows: readonly PublicRow[], ratios: readonly PublicRatio[]): string {
  const main = table(
    ['query', 'target', 'req/s', 'spread', 'gw CPU ms/req', 'subgraph calls/req', 'p50 ms', 'p99 ms', 'RSS MB', 'gw CPU', 'subgraphs CPU', 'client CPU', 'other CPU', 'failed'],
    rows.map((r) => [
      r.query,
      r.target,
      fixed(r.requestsPerS, 1),
      `${r.spreadPercent.toFixed(0)}%`,
      fixed(r.gatewayCpuMsPerRequest, 2),
      fixed(r.subgraphCallsPerRequest, 2),
      fixed(r.p50Ms, 1),
      fixed(r.p99Ms, 1),
      fixed(r.rssMb, 0),
      `${r.gatewayCpuPercent}%`,
      `${r.subgraphsCpuPercent}%`,
      `${r.clientCpuPercent}%`,
      `${r.otherCpuPercent}%`,
      r.non2xx + r.errors + r.graphqlErrors,
    ]),
    2,
  );
  const versus = table(
    ['query', 'ours vs', 'req/s ours/them', 'CPU/req ours/them', 'subgraph calls ours/them'],
    ratios.map((r) => [r.query, r.versus, fixed(r.requestsPerS, 2), fixed(r.cpuPerRequest, 2), fixed(r.subgraphCalls, 2)]),
    2,
  );
  return `${main}\n\n${versus}\n`;
}

/**
 * Whether two answers carry the same data: gateways may order an object's keys differently (the
 * order of the selections, or of the subgraph that answered first), which JSON does not care about.
 */
export function sameData(a: unknown, b: unknown): boolean {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
          .map(([k, v]) => [k, canonical(v)]),
      );
    }
    return value;
  };
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
