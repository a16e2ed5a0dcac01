import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  body: string;
  headers: Readonly<Record<string, string>>;
  connections: number;
  /** Seconds. */
  durationS: number;
  /**
   * Instead of a duration: exactly this many requests (spread over the connections), the run ending
   * when every one is answered, so that all the work it caused falls inside it (durationS ignored).
   */
  amount?: number;
  /** Stops the load early (Ctrl-C). */
  signal?: AbortSignal;
}

export interface LoadResult {
  /** Seconds, as autocannon measured the run. */
  durationS: number;
  /** Responses received, whatever their status. */
  responses: number;
  requestsPerS: number;
  /** Responses with a status other than 2xx. */
  non2xx: number;
  /** Connection errors and timeouts (autocannon's `errors`, which include `timeouts`). */
  errors: number;
  timeouts: number;
  /** 2xx responses carrying GraphQL `errors` (autocannon's `mismatches`, from verifyBody). */
  graphqlErrors: number;
  /** Every response's latency in ms, unrounded (autocannon's own histogram keeps whole ms). */
  latenciesMs: Float64Array;
}

/** Per request, in seconds: generous, so that a slow target shows as latency rather than errors. */
export const REQUEST_TIMEOUT_S = 10;

/** Loads one target with one operation for a bounded time over keep-alive loopback connections. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(16_384);
    let count = 0;
    const instance = autocannon(
      {
        url: options.url,
        method: 'POST',
        headers: { ...options.headers, 'content-type': 'application/json' },
        body: options.body,
        connections: options.connections,
        pipelining: 1,
        ...(options.amount === undefined ? { duration: options.durationS } : { amount: options.amount }),
        timeout: REQUEST_TIMEOUT_S,
        // A substring test, not JSON.parse: the client shares the machine's CPUs with the targets.
        verifyBody: (body) => !body.includes('"errors"'),
      },
      (error, result) => {
        options.signal?.removeEventListener('abort', stop);
        if (error) return reject(error);
        resolve({
          durationS: result.duration,
          responses: count,
          requestsPerS: count / result.duration,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          graphqlErrors: result.mismatches,
          latenciesMs: latencies.subarray(0, count),
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = responseTimeMs;
    });
    const stop = () => instance.stop();
    options.signal?.addEventListener('abort', stop, { once: true });
  });
}

/** The q-quantile (0..1) of samples sorted ascending, nearest rank. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Concatenates and sorts the latencies of several runs. */
export function mergeSorted(runs: readonly Float64Array[]): Float64Array {
  const merged = new Float64Array(runs.reduce((n, r) => n + r.length, 0));
  let offset = 0;
  for (const run of runs) {
    merged.set(run, offset);
    offset += run.length;
  }
  return merged.sort();
}
