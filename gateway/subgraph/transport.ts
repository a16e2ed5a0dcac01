import { EventEmitter } from 'node:events';
import { Pool } from 'undici';

/** What one subgraph call came to: an HTTP answer (any status), or why there was none. Never thrown. */
export type TransportAnswer =
  | {
      readonly kind: 'answered';
      readonly status: number;
      readonly contentType: string | undefined;
      readonly cacheControl: string | undefined;
      /** The whole body, read within the deadline and the size limit. */
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

/**
 * Subgraph calls over undici's Pool and `request`: keep-alive connections to the subgraph's origin
 * and a plain Node stream per body, where the global fetch builds a web stream, a Request, a
 * Response, an AbortSignal and a DOMException per call (the largest share of the gateway's own
 * CPU per subgraph call in the profiles of issue 14).
 *
 * The deadline is one timer per call that aborts it through an EventEmitter (undici accepts one
 * as `signal`; an AbortSignal costs a transferable object per call). It covers the headers and the
 * body, as AbortSignal.timeout did with fetch. undici's headers and body timeouts are idle timeouts
 * and only back it up. The body size limit is undici's `maxResponseSize`, checked as bytes arrive,
 * so a hostile subgraph cannot make the gateway buffer more than the limit.
 */
export function createSubgraphTransport(options: SubgraphTransportOptions): SubgraphTransport {
  const url = new URL(options.url);
  const path = `${url.pathname}${url.search}`;
  const pool = new Pool(url.origin, {
    maxResponseSize: options.maxResponseBytes,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
  return {
    async post(headers, body) {
      const deadline = new EventEmitter();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        deadline.emit('abort');
      }, options.timeoutMs);
      try {
        const response = await pool.request({ method: 'POST', path, headers, body, signal: deadline });
        const text = await response.body.text();
        return {
          kind: 'answered',
          status: response.statusCode,
          contentType: single(response.headers['content-type']),
          cacheControl: single(response.headers['cache-control']),
          body: text,
        };
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (timedOut || (typeof code === 'string' && TIMEOUT_CODES.has(code))) return TIMED_OUT;
        if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return TOO_LARGE;
        return UNAVAILABLE;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => pool.close(),
  };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
