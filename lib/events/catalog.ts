import { z } from 'zod';

/**
 * The events the data products publish: subject (product, event in kebab case, schema version),
 * the name of the event and the zod schema its payload must satisfy. A new version of an event is
 * a new subject (`.v2`); the old one keeps being published until its consumers moved.
 */
export const TRANSACTION_CREATED = {
  subject: 'dpg.finance.transaction-created.v1',
  type: 'TransactionCreated',
  product: 'finance',
  schemaVersion: 1,
  payload: z.object({
    transactionId: z.string().regex(/^T\d{7}$/),
    customerId: z.string().regex(/^C\d{6}$/),
    amount: z.number().nonnegative(),
    currency: z.string().regex(/^[A-Z]{3}$/),
    occurredAt: z.iso.datetime(),
  }).strict(),
} as const;

export const SEGMENT_CHANGED = {
  subject: 'dpg.customer.segment-changed.v1',
  type: 'SegmentChanged',
  product: 'customer',
  schemaVersion: 1,
  payload: z.object({
    customerId: z.string().regex(/^C\d{6}$/),
    segments: z.array(z.string().min(1).max(64)).max(32),
    previous: z.array(z.string().min(1).max(64)).max(32),
    occurredAt: z.iso.datetime(),
  }).strict(),
} as const;

export type TransactionCreated = z.infer<typeof TRANSACTION_CREATED.payload>;
export type SegmentChanged = z.infer<typeof SEGMENT_CHANGED.payload>;

export const EVENT_DEFINITIONS = [TRANSACTION_CREATED, SEGMENT_CHANGED] as const;
export type EventDefinition = (typeof EVENT_DEFINITIONS)[number];

/** The products that publish events, each with its own stream. */
export const EVENT_PRODUCTS = ['finance', 'customer'] as const;
export type EventProduct = (typeof EVENT_PRODUCTS)[number];

export function definitionOf(subject: string): EventDefinition | undefined {
  return EVENT_DEFINITIONS.find((d) => d.subject === subject);
}

/**
 * Where a product's events live. `namespace` (EVENTS_NAMESPACE, empty in production) prefixes
 * stream names and subjects so test runs and environments sharing one NATS server never meet.
 */
export function streamNameOf(product: EventProduct, namespace: string): string {
  return `${namespace ? `${namespace}_` : ''}DPG_${product.toUpperCase()}`;
}

export function qualifiedSubject(subject: string, namespace: string): string {
  return namespace ? `${namespace}.${subject}` : subject;
}

export function productOfSubject(subject: string): EventProduct | undefined {
  const product = /^dpg\.([a-z]+)\./.exec(subject)?.[1];
  return EVENT_PRODUCTS.find((p) => p === product);
}
