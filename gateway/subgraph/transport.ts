import { Pool } from 'undici';

/** What one subgraph call came to: an HTTP answer (any status), or why there was none. Never thrown. */
export type TransportAnswer =
  | {
      readonly kind: 'answered';
      readonly status: number;
      readonly cacheControl: string | undefined;
      /** The whole body (UTF-8), read within the deadline and the size limit. */
      readonly body: string;
    }
  | { readonly kind: 'failed'; readonly failure: TransportFailure };

/** timeout: no whole answer before the deadline; too_large: the body passed the limit; unavailable: no connection, or it broke. */
export type TransportFailure = 'timeout' | 'too_large' | 'unavailable';

export interface SubgraphTransportOptions {
  /** The subgraph's URL: its origin gets one keep-alive pool, its path and query are posted to. */
  readonly url: string;
  /** Deadline of one call in milliseconds, from sending to the last byte of the body. */
  readonly timeoutMs: number;
  /** Largest response body accepted, in bytes; past it the connection is dropped. */
  readonly maxResponseBytes: number;
}

export interface SubgraphTransport {
  /** POSTs `body`; resolves with the answer or the failure, never rejects. */
  post(headers: Record<string, string>, body: string): Promise<TransportAnswer>;
  /** Lets calls in flight finish, then closes every connection. */
  close(): Promise<void>;
}

const TIMED_OUT: TransportAnswer = Object.freeze({ kind: 'failed', failure: 'timeout' });
const TOO_LARGE: TransportAnswer = Object.freeze({ kind: 'failed', failure: 'too_large' });
const UNAVAILABLE: TransportAnswer = Object.freeze({ kind: 'failed', failure: 'unavailable' });

/** undici's own timeouts (idle ones) and ours end the same way for the caller. */
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** The reason a call is aborted at its deadline (one object: it never reaches a caller). */
const DEADLINE = new Error('subgraph call deadline');
/** `cache-control`, the one response header read: @apollo/gateway's cache policy follows it. */
const CACHE_CONTROL = 'cache-control';

/**
 * Subgraph calls over undici's Pool, through its low-level `dispatch` handler: keep-alive
 * connections to the subgraph's origin, the body collected as Buffers and decoded once. The global
 * fetch builds a web stream, a Request, a Response, an AbortSignal and a DOMException per call (the
 * largest share of the gateway's own CPU per subgraph call in the profiles of issue 14);
 * `request()` would still build a Readable for the body and an object of every response header.
 *
 * The deadline is one timer per call that calls the handler's abort function: it covers the
 * headers and the body, as AbortSignal.timeout did with fetch. undici's headers and body timeouts
 * are idle timeouts and only back it up. The size limit is undici's `maxResponseSize`, checked as
 * bytes arrive, so a hostile subgraph cannot make the gateway buffer more than the limit.
 */
export function createSubgraphTransport(options: SubgraphTransportOptions): SubgraphTransport {
  const url = new URL(options.url);
  const path = `${url.pathname}${url.search}`;
  const pool = new Pool(url.origin, {
    maxResponseSize: options.maxResponseBytes,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connect: { timeout: options.timeoutMs },
  });
  return {
    post: (headers, body) =>
      new Promise<TransportAnswer>((resolve) => {
        let abort: ((reason?: Error) => void) | undefined;
        let timedOut = false;
        let status = 0;
        let cacheControl: string | undefined;
        const chunks: Buffer[] = [];
        let settled = false;
        const settle = (answer: TransportAnswer) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(answer);
        };
        // The caller has its answer at the deadline, even while a connection is still being made.
        const timer = setTimeout(() => {
          timedOut = true;
          abort?.(DEADLINE);
          settle(TIMED_OUT);
        }, options.timeoutMs);
        try {
          pool.dispatch(
            { method: 'POST', path, headers, body },
            {
              onConnect(abortCall) {
                abort = abortCall;
                if (timedOut) abortCall(DEADLINE);
              },
              onHeaders(statusCode, raw) {
                // 1xx informational answers come first, then the final one: the last status holds.
                status = statusCode;
                for (let i = 0; i < raw.length; i += 2) {
                  const name = raw[i]!;
                  if (name.length === CACHE_CONTROL.length && name.toString('latin1').toLowerCase() === CACHE_CONTROL) cacheControl = raw[i + 1]!.toString('latin1');
                }
                return true;
              },
              onData(chunk) {
                chunks.push(chunk);
                return true;
              },
              onComplete() {
                settle({ kind: 'answered', status, cacheControl, body: Buffer.concat(chunks).toString('utf8') });
              },
              onError(error) {
                settle(failureOf(error, timedOut));
              },
            },
          );
        } catch (error) {
          settle(failureOf(error as Error, timedOut));
        }
      }),
    close: () => pool.close(),
  };
}

function failureOf(error: Error, timedOut: boolean): TransportAnswer {
  const code = (error as { code?: unknown }).code;
  if (timedOut || error === DEADLINE || (typeof code === 'string' && TIMEOUT_CODES.has(code))) return TIMED_OUT;
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return TOO_LARGE;
  return UNAVAILABLE;
}
