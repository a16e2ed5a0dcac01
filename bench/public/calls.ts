// Subgraph calls per gateway request: each public subgraph counts the requests it receives
// (GET /requests on subgraph-server.ts); the bench reads every count before and after a load run.

/** The count in a subgraph's `GET /requests` answer; throws on anything else, so a wrong count never passes as zero. */
export function parseRequestCount(text: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`not JSON: ${text.slice(0, 100)}`);
  }
  const requests = (parsed as { requests?: unknown } | null)?.requests;
  if (typeof requests !== 'number' || !Number.isInteger(requests) || requests < 0) {
    throw new Error(`expected {"requests": <non-negative integer>}, got ${text.slice(0, 100)}`);
  }
  return requests;
}

export type CallCounts = Readonly<Record<string, number>>;

/** Calls each subgraph received between two readings, and in all. A counter never goes back: a smaller one means a restarted subgraph. */
export function callsBetween(before: CallCounts, after: CallCounts): { total: number; bySubgraph: Record<string, number> } {
  const bySubgraph: Record<string, number> = {};
  let total = 0;
  for (const [name, end] of Object.entries(after)) {
    const start = before[name];
    if (start === undefined) throw new Error(`no earlier count for subgraph ${name}`);
    if (end < start) throw new Error(`subgraph ${name}'s count went back from ${start} to ${end}: it restarted`);
    bySubgraph[name] = end - start;
    total += end - start;
  }
  return { total, bySubgraph };
}

/** Calls per gateway response; NaN when there was no response. */
export function callsPerRequest(calls: number, responses: number): number {
  return responses > 0 ? calls / responses : NaN;
}

/** Reads every subgraph's count (GET <origin>/requests). */
export async function readCallCounts(origins: Readonly<Record<string, string>>): Promise<CallCounts> {
  const entries = await Promise.all(
    Object.entries(origins).map(async ([name, origin]) => {
      const response = await fetch(`${origin}/requests`, { signal: AbortSignal.timeout(5_000) });
      return [name, parseRequestCount(await response.text())] as const;
    }),
  );
  return Object.fromEntries(entries);
}
