import { connect, consumerOpts, headers, nanos, StorageType, type JsMsg, type NatsConnection } from 'nats';
import type { Logger } from '../logger.js';
import type { DeliveredEvent, EventBus, EventSubscription, OutgoingEvent } from './bus.js';
import { EVENT_PRODUCTS, productOfSubject, qualifiedSubject, streamNameOf } from './catalog.js';

/** How long a product's stream keeps events (the furthest back a subscriber can resume). @default 7 days */
export const DEFAULT_STREAM_MAX_AGE_MS = 7 * 24 * 3_600_000;
/** A re-published event (same id) within this window is stored once (the outbox relay's retries). */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;

export interface NatsBusOptions {
  /** NATS_URL, e.g. nats://127.0.0.1:4222. */
  readonly url: string;
  /** EVENTS_NAMESPACE: prefixes stream names and subjects (empty in production). */
  readonly namespace: string;
  readonly logger: Logger;
  /** @default DEFAULT_STREAM_MAX_AGE_MS */
  readonly maxAgeMs?: number;
  /** Connection name shown by the NATS server (monitoring). */
  readonly name?: string;
}

/**
 * The NATS JetStream bus: a stream per product (`DPG_FINANCE` holds `dpg.finance.>`), created when
 * missing; the JSON envelope in the message body, type and schema version in headers as well;
 * the event id as `Nats-Msg-Id` (JetStream's duplicate detection). Each subscription is an ordered
 * consumer of its own: replicas and subscribers never share one, and a resume starts at a sequence.
 */
export async function createNatsBus(options: NatsBusOptions): Promise<EventBus> {
  const { namespace, logger } = options;
  const nc: NatsConnection = await connect({ servers: options.url, name: options.name ?? 'data-product-gateway', maxReconnectAttempts: -1 });
  const jsm = await nc.jetstreamManager();
  for (const product of EVENT_PRODUCTS) {
    const name = streamNameOf(product, namespace);
    const config = {
      name,
      subjects: [qualifiedSubject(`dpg.${product}.>`, namespace)],
      storage: StorageType.File,
      max_age: nanos(options.maxAgeMs ?? DEFAULT_STREAM_MAX_AGE_MS),
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    };
    try {
      await jsm.streams.info(name);
    } catch {
      // Another process may create it at the same moment: the same config is accepted twice.
      await jsm.streams.add(config);
    }
  }
  const js = nc.jetstream();
  const unqualified = (subject: string) => (namespace && subject.startsWith(`${namespace}.`) ? subject.slice(namespace.length + 1) : subject);
  const decode = (message: JsMsg): DeliveredEvent | undefined => {
    try {
      const body = JSON.parse(new TextDecoder().decode(message.data)) as { id?: unknown; type?: unknown; schemaVersion?: unknown; payload?: unknown };
      if (typeof body.id !== 'string' || typeof body.type !== 'string' || typeof body.schemaVersion !== 'number' || typeof body.payload !== 'object' || body.payload === null) return undefined;
      return { subject: unqualified(message.subject), id: body.id, type: body.type, schemaVersion: body.schemaVersion, payload: body.payload as Record<string, unknown>, sequence: message.seq };
    } catch {
      return undefined;
    }
  };
  return {
    kind: 'nats',
    async publish(event: OutgoingEvent) {
      const h = headers();
      h.set('Dpg-Event-Type', event.type);
      h.set('Dpg-Schema-Version', String(event.schemaVersion));
      const body = JSON.stringify({ id: event.id, type: event.type, schemaVersion: event.schemaVersion, payload: event.payload });
      const ack = await js.publish(qualifiedSubject(event.subject, namespace), new TextEncoder().encode(body), { msgID: event.id, headers: h });
      return { sequence: ack.seq, duplicate: ack.duplicate };
    },
    async subscribe(subject, subscribeOptions, onEvent): Promise<EventSubscription> {
      const product = productOfSubject(subject);
      if (!product) throw new Error(`no stream holds ${subject}`);
      const after = subscribeOptions.afterSequence;
      // An ordered push consumer (flow-controlled, recreated by the client at the right sequence
      // after a gap): works on every JetStream server since 2.2, ephemeral, one per subscription.
      const opts = consumerOpts();
      opts.orderedConsumer();
      opts.bindStream(streamNameOf(product, namespace));
      if (after === undefined) opts.deliverNew();
      else opts.startSequence(after + 1);
      const messages = await js.subscribe(qualifiedSubject(subject, namespace), opts);
      const loop = (async () => {
        for await (const message of messages) {
          const event = decode(message);
          if (event) onEvent(event);
          else logger.warn({ subject: message.subject, sequence: message.seq }, 'event skipped: not an event envelope');
        }
      })().catch((error: unknown) => logger.warn({ err: error, subject }, 'event subscription ended'));
      return {
        async close() {
          messages.unsubscribe();
          await loop;
        },
      };
    },
    async close() {
      await nc.drain();
    },
  };
}
