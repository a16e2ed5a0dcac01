import type { FormattedExecutionResult } from 'graphql';
import type { DeliveredEvent, EventBus, EventSubscription } from '../../lib/events/bus.js';
import { normalizeError, type ErrorCode } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Principal } from '../../lib/principal.js';
import type { Engine, ExecutionScope } from '../engine.js';
import { EVENT_ID_VARIABLE, prepareSubscription, type SubscriptionRequest } from './operation.js';

/** Longest timer Node keeps (about 24.8 days); a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Why a subscription ended from the server's side, as the transports report it. */
export interface SubscriptionEnd {
  readonly code: ErrorCode;
  readonly message: string;
  /** graphql-ws close code for the connection (4401 token expired, 4008 slow consumer). */
  readonly closeCode: number;
}

export const TOKEN_EXPIRED: SubscriptionEnd = { code: 'UNAUTHENTICATED', message: 'The token expired: subscribe again with a fresh token (resume after the last event id to miss nothing)', closeCode: 4401 };
export const SLOW_CONSUMER: SubscriptionEnd = { code: 'SLOW_CONSUMER', message: 'Events arrived faster than this connection read them: resubscribe and resume after the last event id', closeCode: 4008 };
export const SHUTTING_DOWN: SubscriptionEnd = { code: 'SERVICE_UNAVAILABLE', message: 'The gateway is shutting down: resubscribe (another replica will serve you) and resume after the last event id', closeCode: 1001 };

/** One item a transport writes: an event's result with its id (the stream sequence), or the end. */
export type FeedItem = { readonly kind: 'event'; readonly id: string; readonly result: FormattedExecutionResult } | { readonly kind: 'end'; readonly end: SubscriptionEnd };

/** A subscriber's side: pull the next item when the connection can take it; close when the client goes. */
export interface Feed {
  /** Resolves with the next item; `undefined` once closed. Pull one at a time. */
  next(): Promise<FeedItem | undefined>;
  /** The client went away (or the transport completed it): releases the slot and the bus consumer. */
  close(): Promise<void>;
}

export interface OpenRequest {
  readonly scope: ExecutionScope;
  /** When the caller's token expires (ms since the epoch); undefined: never (anonymous). */
  readonly expiresAt: number | undefined;
  readonly request: SubscriptionRequest;
  /** Resume: deliver the events after this sequence first. */
  readonly afterSequence?: number | undefined;
}

export type Opened = { readonly ok: true; readonly feed: Feed } | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly extensions?: Readonly<Record<string, string | number>> };

export interface SubscriptionHubOptions {
  readonly bus: EventBus;
  /** The engine serving now (it changes with hot reloads). */
  readonly engine: () => Engine;
  readonly maxPerPrincipal: number;
  readonly maxTotal: number;
  /** Events a subscriber may have waiting; when full, its bus subscription pauses (and resumes from the last buffered event once drained). */
  readonly bufferEvents: number;
  /** How long a subscriber may leave a full buffer untaken before it is cut (SLOW_CONSUMER), ms. */
  readonly stallMs: number;
  readonly maxTokens: number;
  readonly logger: Logger;
  readonly now: () => number;
}

export interface SubscriptionHub {
  open(request: OpenRequest): Promise<Opened>;
  /** Ends every subscription whose token has expired by now() (the timers do it too; tests call this after moving the clock). */
  expireNow(): number;
  /** Cuts every subscriber whose buffer has been full and untaken for stallMs by now() (a timer does it too); resolves with how many. */
  cutStalledNow(): number;
  /** Open subscriptions (all callers). */
  size(): number;
  /** Resolves once at least `count` subscriptions are open and reading the bus (tests subscribe, wait for this, then publish). */
  whenOpen(count: number): Promise<void>;
  /** Resolves once at most `count` subscriptions are open (tests close one, wait for this, then count on its slot). */
  whenAtMost(count: number): Promise<void>;
  /** Ends every subscription (shutdown). */
  closeAll(): Promise<void>;
}

/** Who a subscription counts against: the token's subject at its issuer, or the peer address of an anonymous caller. */
export function principalKey(principal: Principal, clientAddress: string): string {
  return principal.kind === 'authenticated' ? `${principal.issuer} ${principal.subject}` : `anonymous ${clientAddress}`;
}

/**
 * Subscriptions, governed like queries: a slot per open subscription (per caller and in all), a
 * bounded buffer per subscriber between the bus and its connection (the bus's loop only queues,
 * never waits: a slow subscriber is cut, nobody else is slowed), each event resolved when its
 * subscriber can take it through the normal pipeline with the subscriber's identity, and the end
 * of the subscription at its token's expiry.
 */
export function createSubscriptionHub(options: SubscriptionHubOptions): SubscriptionHub {
  const { bus, logger, now } = options;
  const perPrincipal = new Map<string, number>();
  const open = new Set<{ end(reason: SubscriptionEnd): void; stalled(): boolean; expiresAt: number | undefined }>();
  const cutStalledNow = () => {
    let cut = 0;
    for (const subscription of [...open]) {
      if (subscription.stalled()) {
        subscription.end(SLOW_CONSUMER);
        cut += 1;
      }
    }
    return cut;
  };
  const stallTimer = setInterval(cutStalledNow, Math.max(1_000, Math.floor(options.stallMs / 2)));
  stallTimer.unref();
  let listening = 0;
  const waiters: { done: () => boolean; resolve: () => void }[] = [];
  const waitFor = (done: () => boolean) => (done() ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ done, resolve })));
  const notify = () => {
    for (const waiter of waiters.filter((w) => w.done())) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };

  return {
    size: () => open.size,
    whenOpen: (count) => waitFor(() => listening >= count),
    whenAtMost: (count) => waitFor(() => open.size <= count),
    expireNow() {
      let ended = 0;
      for (const subscription of [...open]) {
        if (subscription.expiresAt !== undefined && subscription.expiresAt <= now()) {
          subscription.end(TOKEN_EXPIRED);
          ended += 1;
        }
      }
      return ended;
    },
    cutStalledNow,
    async closeAll() {
      clearInterval(stallTimer);
      for (const subscription of [...open]) subscription.end(SHUTTING_DOWN);
    },
    async open(request) {
      const { scope } = request;
      if (request.expiresAt !== undefined && request.expiresAt <= now()) return { ok: false, code: 'UNAUTHENTICATED', message: 'The token expired' };
      const engine = options.engine();
      const schema = engine.apiSchema();
      if (!schema) return { ok: false, code: 'SERVICE_UNAVAILABLE', message: 'The gateway is starting' };
      const prepared = prepareSubscription(schema, request.request, options.maxTokens);
      if (!prepared.ok) return prepared;
      try {
        engine.admit(scope, [request.request]);
      } catch (error) {
        // Trusted-only clients: the subscription's document must be in their manifests, as any operation's.
        return { ok: false, ...normalizeError(error) };
      }
      const key = principalKey(scope.principal, scope.clientAddress);
      const held = perPrincipal.get(key) ?? 0;
      if (held >= options.maxPerPrincipal) {
        return { ok: false, code: 'RATE_LIMITED', message: `At most ${options.maxPerPrincipal} open subscriptions per caller`, extensions: { limit: 'subscriptions', maximum: options.maxPerPrincipal } };
      }
      if (open.size >= options.maxTotal) return { ok: false, code: 'SERVICE_UNAVAILABLE', message: 'This gateway holds as many subscriptions as it may: retry on another replica' };
      const { subscription } = prepared;

      // The subscriber's state: waiting events, the one pull in progress, and how it ended.
      const buffer: DeliveredEvent[] = [];
      let ended: SubscriptionEnd | undefined;
      let finished = false;
      let wake: (() => void) | undefined;
      let expiry: NodeJS.Timeout | undefined;
      let busSubscription: EventSubscription | undefined;
      // Paused (buffer full): no bus subscription; it resumes after `after` once the buffer drained.
      let paused: { readonly after: number } | undefined;
      // Each bus subscription's events count only while it is the current one.
      let generation = 0;
      let taking = false;
      let lastTakenAt = now();
      perPrincipal.set(key, held + 1);
      const release = async () => {
        if (finished) return;
        finished = true;
        if (open.delete(entry) && listened) listening -= 1;
        notify();
        clearTimeout(expiry);
        generation += 1;
        const count = (perPrincipal.get(key) ?? 1) - 1;
        if (count > 0) perPrincipal.set(key, count);
        else perPrincipal.delete(key);
        await busSubscription?.close().catch((error: unknown) => logger.warn({ err: error }, 'closing an event subscription failed'));
      };
      const entry = {
        expiresAt: request.expiresAt,
        // Slow: its buffer is full and its connection has not asked for the next event for stallMs.
        stalled: () => paused !== undefined && !taking && now() - lastTakenAt >= options.stallMs,
        end(reason: SubscriptionEnd) {
          if (ended) return;
          ended = reason;
          buffer.length = 0;
          void release();
          wake?.();
        },
      };
      open.add(entry);
      const armExpiry = () => {
        if (request.expiresAt === undefined) return;
        const wait = request.expiresAt - now();
        if (wait <= 0) return entry.end(TOKEN_EXPIRED);
        expiry = setTimeout(armExpiry, Math.min(wait, MAX_TIMER_MS));
        expiry.unref();
      };
      armExpiry();
      const onEvent = (event: DeliveredEvent) => {
        if (ended) return;
        const parsed = subscription.source.parse(event.payload);
        if (!parsed) {
          logger.warn({ subject: event.subject, sequence: event.sequence }, 'event skipped: its payload does not match its schema');
          return;
        }
        for (const [name, value] of Object.entries(subscription.filters)) if (parsed.filters[name] !== value) return;
        if (buffer.length >= options.bufferEvents) {
          // The bus never waits: this subscriber stops reading it, and reads again from its last
          // buffered event once its connection took them (catch-up after a resume works the same way).
          paused = { after: buffer[buffer.length - 1]!.sequence };
          generation += 1;
          const current = busSubscription;
          busSubscription = undefined;
          void current?.close().catch((error: unknown) => logger.warn({ err: error }, 'pausing an event subscription failed'));
          if (entry.stalled()) {
            logger.info({ requestId: scope.requestId, field: subscription.field, buffered: buffer.length }, 'slow subscriber disconnected');
            entry.end(SLOW_CONSUMER);
          }
          return;
        }
        buffer.push(event);
        wake?.();
      };
      let listened = false;
      const listen = async (afterSequence: number | undefined) => {
        const mine = ++generation;
        const next = await bus.subscribe(subscription.source.subject, { afterSequence }, (event) => {
          if (mine === generation && !paused) onEvent(event);
        });
        // Paused (or ended) while it was opening (an in-process replay fills the buffer at once).
        if (mine !== generation || finished) await next.close();
        else busSubscription = next;
      };
      try {
        await listen(request.afterSequence);
      } catch (error) {
        await release();
        logger.error({ err: error }, 'subscribing to the event bus failed');
        return { ok: false, code: 'SERVICE_UNAVAILABLE', message: 'The event stream cannot be read now: retry' };
      }
      if (!finished) {
        listened = true;
        listening += 1;
        notify();
      }

      let endDelivered = false;
      const feed: Feed = {
        async next() {
          taking = true;
          lastTakenAt = now();
          try {
            return await take();
          } finally {
            taking = false;
            lastTakenAt = now();
          }
        },
        async close() {
          endDelivered = true;
          if (!ended) ended = { code: 'BAD_REQUEST', message: 'closed by the client', closeCode: 1000 };
          await release();
          wake?.();
        },
      };
      async function take(): Promise<FeedItem | undefined> {
        for (;;) {
          if (ended) {
            if (endDelivered) return undefined;
            endDelivered = true;
            return { kind: 'end', end: ended };
          }
          if (finished) return undefined;
          const event = buffer.shift();
          if (event) {
            const source = subscription.source.parse(event.payload)!;
            const result = await options.engine().resolve(scope, {
              query: subscription.query,
              operationName: subscription.operationName,
              variables: { ...subscription.variables, [EVENT_ID_VARIABLE]: source.id },
            });
            return { kind: 'event', id: String(event.sequence), result };
          }
          if (paused) {
            // Drained: read the bus again from the last event buffered.
            const { after } = paused;
            paused = undefined;
            try {
              await listen(after);
            } catch (error) {
              logger.warn({ err: error }, 'resuming an event subscription failed');
              entry.end({ code: 'SERVICE_UNAVAILABLE', message: 'The event stream cannot be read now: resubscribe and resume after the last event id', closeCode: 1013 });
            }
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      }
      return { ok: true, feed };
    },
  };
}
