import { TRANSACTION_CREATED } from '../../lib/events/catalog.js';

/**
 * What each subscription field of the supergraph listens to and how an event becomes data: the
 * event's subject, the entity query field that resolves it (through the normal federated query
 * path, so every field comes from the product that owns it), the id argument it takes, and the
 * arguments that filter events by their payload.
 */
export interface SubscriptionSource {
  readonly subject: string;
  /** The Query field that reads the event's entity by id. */
  readonly entityField: string;
  readonly idArgument: string;
  readonly idType: string;
  /** The payload's schema: a payload it refuses is skipped (logged), never delivered. */
  readonly parse: (payload: unknown) => { readonly id: string; readonly filters: Readonly<Record<string, string>> } | undefined;
}

export const SUBSCRIPTION_SOURCES: Readonly<Record<string, SubscriptionSource>> = {
  transactionCreated: {
    subject: TRANSACTION_CREATED.subject,
    entityField: 'transaction',
    idArgument: 'id',
    idType: 'ID!',
    parse(payload) {
      const result = TRANSACTION_CREATED.payload.safeParse(payload);
      return result.success ? { id: result.data.transactionId, filters: { customerId: result.data.customerId } } : undefined;
    },
  },
};
