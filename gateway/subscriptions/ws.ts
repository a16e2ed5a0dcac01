import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, parse, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { HttpError } from '../../lib/http.js';
import type { Logger } from '../../lib/logger.js';
import type { Principal } from '../../lib/principal.js';
import { requestIdOf } from '../../lib/http.js';
import type { ExecutionScope } from '../engine.js';
import { expiryOf, sequenceOf } from './credentials.js';
import type { Feed, SubscriptionHub } from './hub.js';

/** Largest graphql-ws message accepted (a subscribe message's query and variables). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** How long a connection may stay open without connection_init (graphql-ws closes it with 4408). */
const CONNECTION_INIT_WAIT_MS = 10_000;

export interface WebSocketEndpointOptions {
  readonly hub: SubscriptionHub;
  readonly authenticate: (authorization: string | undefined) => Promise<Principal>;
  /** The served API schema (graphql-ws needs one for its execution arguments). */
  readonly schema: () => GraphQLSchema | undefined;
  readonly ready: () => boolean;
  readonly maxMessageBytes: number;
  readonly logger: Logger;
}

interface ConnectionState {
  scope: ExecutionScope;
  expiresAt: number | undefined;
  readonly feeds: Map<string, Feed>;
}

/**
 * GraphQL over WebSocket (the graphql-ws protocol, subprotocol `graphql-transport-ws`) on the
 * same /graphql path, by HTTP upgrade. The token comes in connection_init's payload
 * (`{ "authorization": "Bearer ..." }`) or the upgrade request's Authorization header; each
 * subscription is opened through the hub (limits, resume via the `resumeAfter` extension), and
 * its events are written one at a time, each only once the previous one left the socket.
 */
export function createWebSocketEndpoint(options: WebSocketEndpointOptions) {
  const { hub, logger } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes });
  const states = new WeakMap<object, ConnectionState>();
  const fail = (code: string, message: string, extensions: Record<string, unknown> = {}) => [new GraphQLError(message, { extensions: { ...extensions, code } })];

  const dispose = useServer<Record<string, unknown> | undefined, { state?: ConnectionState }>(
    {
      connectionInitWaitTimeout: CONNECTION_INIT_WAIT_MS,
      onConnect: async (ctx) => {
        const { socket, request } = ctx.extra;
        const given = ctx.connectionParams?.authorization;
        const authorization = typeof given === 'string' ? given : request.headers.authorization;
        let principal: Principal;
        try {
          principal = await options.authenticate(authorization);
        } catch (error) {
          const message = error instanceof HttpError ? error.message : 'Authentication failed';
          socket.close(error instanceof HttpError && error.code === 'SERVICE_UNAVAILABLE' ? 1013 : 4401, message.slice(0, 120));
          return false;
        }
        const requestId = requestIdOf(request);
        const state: ConnectionState = {
          scope: {
            requestId,
            startedAt: performance.now(),
            principal,
            clientAddress: request.socket.remoteAddress ?? 'unknown',
            header: (name) => {
              const value = request.headers[name];
              return Array.isArray(value) ? value.join(', ') : value;
            },
          },
          expiresAt: expiryOf(authorization),
          feeds: new Map(),
        };
        states.set(ctx, state);
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const state = states.get(ctx);
        const schema = options.schema();
        if (!state || !schema) return fail('SERVICE_UNAVAILABLE', 'The gateway is not ready');
        const after = sequenceOf(payload.extensions?.resumeAfter);
        if (after === 'invalid') return fail('BAD_USER_INPUT', 'extensions.resumeAfter must be the id of an event (a positive integer)');
        const opened = await hub.open({
          scope: state.scope,
          expiresAt: state.expiresAt,
          request: { query: payload.query, variables: payload.variables, operationName: payload.operationName },
          afterSequence: after,
        });
        if (!opened.ok) return fail(opened.code, opened.message, opened.extensions);
        state.feeds.set(id, opened.feed);
        return { schema, document: parse(payload.query), operationName: payload.operationName, variableValues: payload.variables, contextValue: { feed: opened.feed, socket: ctx.extra.socket } };
      },
      subscribe: (args) => deliver(args.contextValue as { feed: Feed; socket: WebSocket }),
      // Results come formatted by the pipeline (masked errors as plain objects): sent as they are.
      onNext: (_ctx, _id, _payload, _args, result) => result,
      onComplete: async (ctx, id) => {
        const state = states.get(ctx);
        await state?.feeds.get(id)?.close();
        state?.feeds.delete(id);
      },
      onClose: async (ctx) => {
        const state = states.get(ctx);
        if (state) await Promise.all([...state.feeds.values()].map((feed) => feed.close()));
      },
    },
    wss,
  );

  /**
   * The subscription's results as an async iterator whose return() ends the feed at once: an
   * async generator's return() would wait for the pending next() (the next event), so a client
   * that completes or goes away would hold its slot until then.
   */
  function deliver({ feed, socket }: { feed: Feed; socket: WebSocket }): AsyncIterableIterator<ExecutionResult> & { return(): Promise<IteratorResult<ExecutionResult>> } {
    let done = false;
    let closing: { code: number; reason: string } | undefined;
    const finish = async (): Promise<IteratorResult<ExecutionResult>> => {
      done = true;
      await feed.close();
      return { done: true, value: undefined };
    };
    const iterator = {
      [Symbol.asyncIterator]: () => iterator,
      async next(): Promise<IteratorResult<ExecutionResult>> {
        if (closing) {
          // The last result has been written (graphql-ws asks for the next one only then): close now.
          socket.close(closing.code, closing.reason);
          return finish();
        }
        if (done) return { done: true, value: undefined };
        const item = await feed.next();
        if (!item) return finish();
        if (item.kind === 'event') {
          // Each result names its event: the id to resume after.
          return { done: false, value: { ...(item.result as ExecutionResult), extensions: { ...item.result.extensions, eventId: item.id } } };
        }
        // The server ends it: the error as the last result, then the whole connection closes with
        // a code saying why (a token expiry or a slow consumer concerns every subscription on it).
        closing = { code: item.end.closeCode, reason: `${item.end.code}: ${item.end.message}`.slice(0, 120) };
        return { done: false, value: { errors: [{ message: item.end.message, extensions: { code: item.end.code } }] } as unknown as ExecutionResult };
      },
      return: finish,
    };
    return iterator;
  }

  return {
    /** Handles an HTTP upgrade on the gateway's listener; anything but /graphql is refused. */
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/graphql' || !options.ready()) {
        socket.end(`HTTP/1.1 ${path !== '/graphql' ? '404 Not Found' : '503 Service Unavailable'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    connections: () => wss.clients.size,
    async close() {
      for (const client of wss.clients) client.close(1001, 'The gateway is shutting down');
      await dispose.dispose();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      logger.debug('websocket endpoint closed');
    },
  };
}
