import type { DeliveredEvent, EventBus, EventSubscription, OutgoingEvent } from './bus.js';
import { productOfSubject } from './catalog.js';

/** Events the in-process bus keeps per stream for subscribers that resume. @default 10000 */
export const DEFAULT_MEMORY_RETENTION = 10_000;

/**
 * The in-process bus of the embedded defaults (no NATS_URL): one process, one log per product
 * stream, bounded to the last `retention` events (a resume from before them starts at the oldest
 * kept). Same contract as JetStream: stream sequences from 1, duplicates by id stored once.
 */
export function createMemoryBus(options: { retention?: number } = {}): EventBus {
  const retention = options.retention ?? DEFAULT_MEMORY_RETENTION;
  const streams = new Map<string, { next: number; log: DeliveredEvent[]; ids: Map<string, number> }>();
  const listeners = new Map<string, Set<(event: DeliveredEvent) => void>>();
  const streamOf = (subject: string) => {
    const name = productOfSubject(subject) ?? subject;
    let stream = streams.get(name);
    if (!stream) streams.set(name, (stream = { next: 1, log: [], ids: new Map() }));
    return stream;
  };
  return {
    kind: 'memory',
    async publish(event: OutgoingEvent) {
      const stream = streamOf(event.subject);
      const known = stream.ids.get(event.id);
      if (known !== undefined) return { sequence: known, duplicate: true };
      const delivered: DeliveredEvent = { ...event, sequence: stream.next++ };
      stream.log.push(delivered);
      stream.ids.set(event.id, delivered.sequence);
      if (stream.log.length > retention) stream.ids.delete(stream.log.shift()!.id);
      for (const listener of listeners.get(event.subject) ?? []) listener(delivered);
      return { sequence: delivered.sequence, duplicate: false };
    },
    async subscribe(subject, subscribeOptions, onEvent): Promise<EventSubscription> {
      const after = subscribeOptions.afterSequence;
      if (after !== undefined) {
        for (const event of streamOf(subject).log) if (event.subject === subject && event.sequence > after) onEvent(event);
      }
      let set = listeners.get(subject);
      if (!set) listeners.set(subject, (set = new Set()));
      const listener = (event: DeliveredEvent) => onEvent(event);
      set.add(listener);
      return {
        async close() {
          set.delete(listener);
        },
      };
    },
    async close() {
      listeners.clear();
    },
  };
}
