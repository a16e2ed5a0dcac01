/**
 * The event bus every data product publishes to and the gateway subscribes from: one interface,
 * two implementations (NATS JetStream with NATS_URL, an in-process bus on embedded defaults).
 */

/** An event as published: its subject names the product, the event and its schema version. */
export interface OutgoingEvent {
  readonly subject: string;
  /** Unique per event (the outbox row's id): a re-published event is recognised and stored once. */
  readonly id: string;
  /** The event's name, e.g. TransactionCreated. */
  readonly type: string;
  /** The payload's schema version (the subject's `.vN`). */
  readonly schemaVersion: number;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** An event as delivered: what was published plus its position in the product's stream. */
export interface DeliveredEvent extends OutgoingEvent {
  /** The event's sequence in its stream (JetStream's stream sequence): a subscriber resumes after it. */
  readonly sequence: number;
}

export interface SubscribeOptions {
  /** Deliver the events after this sequence first (a resume), then new ones; absent: only new events. */
  readonly afterSequence?: number;
}

export interface EventSubscription {
  /** Stops delivery; the handler is not called again. */
  close(): Promise<void>;
}

export interface EventBus {
  readonly kind: 'nats' | 'memory';
  /** Stores the event in its product's stream; resolves with its sequence once the bus holds it. */
  publish(event: OutgoingEvent): Promise<{ readonly sequence: number; readonly duplicate: boolean }>;
  /**
   * Calls `onEvent` for each event on `subject`, in stream order. `onEvent` must not block: it is
   * called from the bus's own loop (a subscriber queues, it never waits there).
   */
  subscribe(subject: string, options: SubscribeOptions, onEvent: (event: DeliveredEvent) => void): Promise<EventSubscription>;
  close(): Promise<void>;
}
