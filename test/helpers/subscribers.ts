import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** A subscriber's view: results in order, and how it ended. `until(n)` resolves once n results arrived. */
export interface Received {
  readonly results: Record<string, unknown>[];
  readonly ids: string[];
  until(count: number): Promise<void>;
  /** Resolves when the subscription or connection ended: the close code and reason (ws), or 'complete' (SSE). */
  readonly ended: Promise<{ code?: number; reason?: string; event?: string }>;
  close(): Promise<void>;
}

function tracker() {
  const results: Record<string, unknown>[] = [];
  const ids: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  return {
    results,
    ids,
    push(result: Record<string, unknown>, id: string | undefined) {
      results.push(result);
      if (id !== undefined) ids.push(id);
      for (const waiter of waiters.filter((w) => results.length >= w.count)) waiter.resolve();
    },
    until: (count: number) => (results.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve }))),
  };
}

/**
 * A graphql-ws subscriber. Resolves once the server acknowledged the subscription's connection
 * (connection_ack); events published after `ready` resolves reach it.
 */
export async function wsSubscribe(gatewayUrl: string, options: { token?: string; query: string; variables?: Record<string, unknown>; resumeAfter?: string; viaHeader?: boolean }): Promise<Received & { client: Client; socket: () => WebSocket | undefined }> {
  const t = tracker();
  let socket: WebSocket | undefined;
  let settle: (value: { code?: number; reason?: string }) => void = () => undefined;
  const ended = new Promise<{ code?: number; reason?: string }>((resolve) => (settle = resolve));
  let acknowledged: () => void = () => undefined;
  const ack = new Promise<void>((resolve) => (acknowledged = resolve));
  const authorization = options.token ? `Bearer ${options.token}` : undefined;
  let closedEarly = false;
  class AuthorizedSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, options.viaHeader && authorization ? { headers: { authorization } } : {});
      socket = this;
    }
  }
  const client = createClient({
    url: gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: AuthorizedSocket,
    lazy: false,
    retryAttempts: 0,
    // The closes tests provoke are read from the closed event; the client would print them too.
    onNonLazyError: () => undefined,
    connectionParams: options.viaHeader || !authorization ? {} : { authorization },
    on: {
      connected: () => acknowledged(),
      closed: (event) => {
        closedEarly = true;
        const e = event as { code?: number; reason?: string };
        settle({ code: e.code, reason: e.reason });
        acknowledged();
      },
    },
  });
  await ack;
  // Refused at connection_init: nothing to subscribe on (the client would reconnect to try).
  if (!closedEarly) client.subscribe(
    { query: options.query, variables: options.variables, extensions: options.resumeAfter ? { resumeAfter: options.resumeAfter } : undefined },
    {
      next: (value) => t.push(value as Record<string, unknown>, (value.extensions as { eventId?: string } | undefined)?.eventId),
      error: (error) => t.push({ error: Array.isArray(error) ? error : String(error) }, undefined),
      complete: () => undefined,
    },
  );
  return {
    ...t,
    ended,
    client,
    socket: () => socket,
    async close() {
      await client.dispose();
    },
  };
}

/** An SSE subscriber (graphql-sse distinct connections): POST with Accept: text/event-stream. */
export async function sseSubscribe(gatewayUrl: string, options: { token?: string; query: string; variables?: Record<string, unknown>; lastEventId?: string }): Promise<Received & { status: number; body?: unknown }> {
  const t = tracker();
  const controller = new AbortController();
  const response = await fetch(gatewayUrl, {
    method: 'POST',
    headers: {
      accept: 'text/event-stream',
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}),
    },
    body: JSON.stringify({ query: options.query, variables: options.variables }),
    signal: controller.signal,
  });
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const body = (await response.json()) as unknown;
    return { ...t, status: response.status, body, ended: Promise.resolve({ event: 'refused' }), close: async () => undefined };
  }
  const ended = (async () => {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let pending = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return { event: 'eof' };
        pending += value;
        let split: number;
        while ((split = pending.indexOf('\n\n')) !== -1) {
          const frame = pending.slice(0, split);
          pending = pending.slice(split + 2);
          const fields = Object.fromEntries(frame.split('\n').filter((l) => l && !l.startsWith(':')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trimStart()]));
          if (fields.event === 'complete') return { event: 'complete' };
          if (fields.event === 'next') t.push(JSON.parse(fields.data!) as Record<string, unknown>, fields.id);
        }
      }
    } catch {
      return { event: 'aborted' };
    }
  })();
  return {
    ...t,
    status: response.status,
    ended,
    async close() {
      controller.abort();
      await ended;
    },
  };
}
