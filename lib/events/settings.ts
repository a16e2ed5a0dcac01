import { z } from 'zod';

/** NATS_URL: one or more comma-separated nats:// (or tls://) server URLs. */
export const NATS_URL_SCHEMA = z
  .string()
  .regex(/^(?:(?:nats|tls):\/\/[^\s,]+)(?:,(?:nats|tls):\/\/[^\s,]+)*$/, 'expected nats://host:port (comma-separated for several servers)');

/** EVENTS_NAMESPACE: letters, digits and underscores (a stream-name and subject-token prefix); empty in production. */
export const EVENTS_NAMESPACE_SCHEMA = z.string().regex(/^[A-Za-z0-9_]{0,32}$/, 'letters, digits and underscores, at most 32').default('');
