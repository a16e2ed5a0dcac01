import type { Logger } from '../logger.js';
import type { EventBus } from './bus.js';
import { createMemoryBus } from './memory.js';
import { createNatsBus } from './nats.js';

export interface EventsConfig {
  /** NATS_URL: JetStream when set, the in-process bus otherwise. */
  readonly natsUrl: string | undefined;
  /** EVENTS_NAMESPACE: prefix of stream names and subjects (tests, shared servers). */
  readonly namespace: string;
}

/** The bus the configuration asks for: NATS JetStream with NATS_URL, else an in-process bus. */
export function createEventBus(config: EventsConfig, logger: Logger, name?: string): Promise<EventBus> {
  return config.natsUrl ? createNatsBus({ url: config.natsUrl, namespace: config.namespace, logger, name }) : Promise.resolve(createMemoryBus());
}
