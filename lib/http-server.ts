import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorBody } from './errors.js';
import { HttpError, requestIdOf, sendHttpError, sendJson } from './http.js';
import type { Logger } from './logger.js';

/** A request (headers and body) must arrive within this; else Node answers 408 and closes the connection. */
export const REQUEST_TIMEOUT_MS = 60_000;
/** The headers alone must arrive within this (slow-header clients). */
export const HEADERS_TIMEOUT_MS = 20_000;

/** What the listener knows of every request before routing it. */
export interface RequestScope {
  /** The caller's x-request-id when well-formed, else a fresh one; echoed in the response. */
  readonly requestId: string;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
}

export interface HttpListener {
  /** The GraphQL endpoint's URL as a client would use it (`http://host:port/graphql`). */
  readonly url: string;
  readonly port: number;
  readonly inFlight: () => number;
  /** Stops accepting connections, waits for in-flight requests (at most `graceMs`), then closes the rest. */
  drain(graceMs: number): Promise<void>;
}

/**
 * The HTTP server of the gateway and of every data product: a request id on every response,
 * errors that escape a route answered in the GraphQL error shape (never a stack), in-flight
 * requests counted for a graceful drain, bounded time for headers and bodies.
 */
export async function listenHttp(options: {
  host: string;
  port: number;
  logger: Logger;
  route: (req: IncomingMessage, res: ServerResponse, scope: RequestScope) => Promise<void> | void;
  /** While true, responses ask clients to close their connections. */
  draining: () => boolean;
  /** HTTP upgrades (WebSocket); without it, an upgrade request gets no answer but a closed socket. */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}): Promise<HttpListener> {
  const { logger } = options;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const server = createServer((req, res) => {
    inFlight += 1;
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    if (options.draining()) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    });
    const scope = { requestId, startedAt: performance.now() };
    // A route may fail synchronously (no such path) or asynchronously: both are answered below.
    Promise.resolve()
      .then(() => options.route(req, res, scope))
      .catch((error: unknown) => {
        if (error instanceof HttpError) return sendHttpError(res, error);
        if (req.destroyed || (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
          // The client went away mid-request: nothing to answer, nothing wrong with the gateway.
          logger.debug({ requestId }, 'client disconnected');
          return;
        }
        logger.error({ err: error, requestId }, 'request failed');
        sendJson(res, 500, errorBody('INTERNAL_SERVER_ERROR', 'Internal server error'));
      });
  });
  if (options.upgrade) server.on('upgrade', options.upgrade);
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  return {
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}/graphql`,
    port,
    inFlight: () => inFlight,
    async drain(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref()),
        ]);
      }
      server.closeAllConnections();
      await closed;
    },
  };
}
