import type { KeyObject } from 'node:crypto';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { developmentOnNetwork, isLoopback } from '../lib/loopback.js';
import { readEnvironment } from '../lib/env-config.js';
import { LOG_LEVELS } from '../lib/logger.js';
import { ed25519PemKey } from '../lib/pem-key.js';
import { DEFAULT_POLICIES_FILE } from '../lib/policies.js';
import { TRACING_ENV, TRACING_SECRET_KEYS, tracingConfigOf, type TracingConfig } from '../lib/tracing/settings.js';
import { PRODUCT_NAMES, type ProductName } from './kit/data-product.js';
import { DEFAULT_CUSTOMERS, MAX_CUSTOMERS } from './seed/generate.js';
import { DEFAULT_QUALITY_INTERVAL_MS } from './kit/quality-monitor.js';
import { DEFAULT_OUTBOX_POLL_MS } from './kit/outbox.js';
import { EVENTS_NAMESPACE_SCHEMA, NATS_URL_SCHEMA } from '../lib/events/settings.js';
import type { EventsConfig } from '../lib/events/create.js';

/** Where each data product listens by default; compose writes these into the supergraph's routing URLs. */
export const DEFAULT_PORTS: Readonly<Record<ProductName, number>> = { customer: 4001, finance: 4002, product: 4003 };

const port = z.coerce.number().int().min(0).max(65_535);
const postgresUrl = z.string().url().regex(/^postgres(?:ql)?:\/\//, 'a postgres:// or postgresql:// URL');
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');


const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  DATABASE_URL: z.string().url().optional(),
  // Each product's own connection, as its own role (README "Production"); each falls back on DATABASE_URL.
  CUSTOMER_DATABASE_URL: postgresUrl.optional(),
  FINANCE_DATABASE_URL: postgresUrl.optional(),
  PRODUCT_DATABASE_URL: postgresUrl.optional(),
  MIGRATE_ON_START: bool.default(true),
  HOST: z.string().min(1).default('127.0.0.1'),
  CUSTOMER_PORT: port.default(DEFAULT_PORTS.customer),
  FINANCE_PORT: port.default(DEFAULT_PORTS.finance),
  PRODUCT_PORT: port.default(DEFAULT_PORTS.product),
  SEED_CUSTOMERS: z.coerce.number().int().min(1).max(MAX_CUSTOMERS).default(DEFAULT_CUSTOMERS),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  POLICIES_FILE: z.string().min(1).default(DEFAULT_POLICIES_FILE),
  QUALITY_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(DEFAULT_QUALITY_INTERVAL_MS),
  INTERNAL_VERIFY_KEY: ed25519PemKey('public').optional(),
  NATS_URL: NATS_URL_SCHEMA.optional(),
  EVENTS_NAMESPACE: EVENTS_NAMESPACE_SCHEMA,
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(DEFAULT_OUTBOX_POLL_MS),
  ...TRACING_ENV,
});

/** Every environment variable the subgraphs read (the README documents each). */
export const SUBGRAPH_CONFIG_KEYS = Object.keys(envSchema.shape) as readonly string[];

export interface SubgraphsConfig {
  /** Absent (and no product's own URL): one embedded PGlite database for all products in this process, seeded at start. */
  readonly databaseUrl: string | undefined;
  /** Each product's own database URL (its own role), before databaseUrl. */
  readonly databaseUrls: Readonly<Record<ProductName, string | undefined>>;
  /** Apply each product's pending migrations at start (PostgreSQL: under the product's advisory lock). */
  readonly migrateOnStart: boolean;
  readonly host: string;
  readonly ports: Readonly<Record<ProductName, number>>;
  /** Which products this process serves. */
  readonly products: readonly ProductName[];
  /** Customers generated when the embedded database is seeded at start. */
  readonly seedCustomers: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly policiesFile: string;
  /** How often each product re-checks its descriptor's quality rules. */
  readonly qualityIntervalMs: number;
  /** Verifies the gateway's identity tokens; undefined: the development key (development mode only). */
  readonly internalVerifyKey: KeyObject | undefined;
  /** OpenTelemetry traces (the standard OTEL_* variables): the products continue the gateway's traces. */
  readonly tracing: TracingConfig;
  /** The event bus the outbox relays publish to: NATS JetStream with NATS_URL; none otherwise (events wait in the outboxes). */
  readonly events: EventsConfig;
  /** How often each product's outbox relay looks for new events. */
  readonly outboxPollMs: number;
}

export class SubgraphConfigError extends Error {
  override readonly name = 'SubgraphConfigError';
}

/** Parses env and flags (`--product customer` repeatable, default all; `--port` with one product). */
export function loadSubgraphsConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): SubgraphsConfig {
  let values: { product?: string[]; port?: string };
  try {
    values = parseArgs({
      args: [...argv],
      options: { product: { type: 'string', multiple: true }, port: { type: 'string' } },
      strict: true,
    }).values;
  } catch (error) {
    throw new SubgraphConfigError(`Invalid command line: ${(error as Error).message}`);
  }
  const products = values.product ?? [...PRODUCT_NAMES];
  const bad = products.filter((p) => !(PRODUCT_NAMES as readonly string[]).includes(p));
  if (bad.length) throw new SubgraphConfigError(`--product: unknown data product ${bad.join(', ')} (known: ${PRODUCT_NAMES.join(', ')})`);
  if (values.port !== undefined && products.length !== 1) throw new SubgraphConfigError('--port: only with exactly one --product');
  const reading = readEnvironment(envSchema, env, {
    overrides: values.port === undefined ? {} : { [`${products[0]!.toUpperCase()}_PORT`]: values.port },
    // A database URL may hold a password: never echoed.
    secrets: new Set(['DATABASE_URL', 'CUSTOMER_DATABASE_URL', 'FINANCE_DATABASE_URL', 'PRODUCT_DATABASE_URL', 'NATS_URL', ...TRACING_SECRET_KEYS]),
  });
  if (!reading.ok) throw new SubgraphConfigError(`Invalid configuration:\n  ${reading.problems.join('\n  ')}`);
  const e = reading.values;
  if (e.NODE_ENV === 'production' && !e.INTERNAL_VERIFY_KEY) {
    throw new SubgraphConfigError('Invalid configuration:\n  INTERNAL_VERIFY_KEY: required in production (the development key is public)');
  }
  if (e.NODE_ENV !== 'production' && !isLoopback(e.HOST)) {
    throw new SubgraphConfigError(`Invalid configuration:\n  ${developmentOnNetwork('HOST', e.HOST, 'INTERNAL_VERIFY_KEY (the gateway\'s public key, npm run -s keys) and DATABASE_URL')}`);
  }
  const ownUrls: Readonly<Record<ProductName, string | undefined>> = { customer: e.CUSTOMER_DATABASE_URL, finance: e.FINANCE_DATABASE_URL, product: e.PRODUCT_DATABASE_URL };
  const withoutDatabase = (products as ProductName[]).filter((p) => !ownUrls[p] && !e.DATABASE_URL);
  if (withoutDatabase.length > 0 && withoutDatabase.length < products.length) {
    throw new SubgraphConfigError(
      `Invalid configuration:\n  DATABASE_URL: required when some products have their own URL (${withoutDatabase.map((p) => `${p.toUpperCase()}_DATABASE_URL`).join(', ')} unset); products of one process share either PostgreSQL or the embedded database`,
    );
  }
  return Object.freeze({
    databaseUrl: e.DATABASE_URL,
    databaseUrls: Object.freeze(ownUrls),
    migrateOnStart: e.MIGRATE_ON_START,
    host: e.HOST,
    ports: Object.freeze({ customer: e.CUSTOMER_PORT, finance: e.FINANCE_PORT, product: e.PRODUCT_PORT }),
    products: products as ProductName[],
    seedCustomers: e.SEED_CUSTOMERS,
    logLevel: e.LOG_LEVEL,
    policiesFile: e.POLICIES_FILE,
    qualityIntervalMs: e.QUALITY_INTERVAL_MS,
    internalVerifyKey: e.INTERNAL_VERIFY_KEY,
    tracing: tracingConfigOf(e),
    events: Object.freeze({ natsUrl: e.NATS_URL, namespace: e.EVENTS_NAMESPACE }),
    outboxPollMs: e.OUTBOX_POLL_MS,
  });
}
