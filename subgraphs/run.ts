import type { KeyObject } from 'node:crypto';
import { devKeyPair } from '../lib/dev-keys.js';
import { createIdentityVerifier, subgraphAudience } from '../lib/internal-token.js';
import type { Logger } from '../lib/logger.js';
import { loadAccessPolicies } from '../lib/policies.js';
import { DescriptorError, descriptorFile, loadDescriptor } from './kit/descriptor.js';
import { refreshedAt } from './kit/quality.js';
import { publishedProductSchema } from './kit/published.js';
import { startQualityMonitor, type QualityMonitor } from './kit/quality-monitor.js';
import { countingDb, createEmbeddedDb, createPostgresDb, type CountingDb, type TransactionalDb } from './kit/db.js';
import { migrateProduct, migrationState } from './kit/migrations.js';
import { migratePostgres } from './kit/migrate-postgres.js';
import { productRoleOf } from './migrate.js';
import type { EventBus } from '../lib/events/bus.js';
import { startOutboxRelay, type OutboxRelay } from './kit/outbox.js';
import type { ProductName } from './kit/data-product.js';
import { startSubgraph, type RunningSubgraph } from './kit/server.js';
import { tracedDb } from './kit/tracing.js';
import { dataProducts } from './products.js';
import { seedDatabase } from './seed/seed.js';

export interface RunDataProductsOptions {
  /**
   * The shared PostgreSQL database (DATABASE_URL), for products without their own URL. Absent, and
   * no product has its own: one embedded database for every product in this process, migrated and
   * seeded with `seedCustomers`.
   */
  databaseUrl?: string | undefined;
  /** Each product's own connection (CUSTOMER_DATABASE_URL, ...: its own role), before `databaseUrl`. */
  databaseUrls?: Partial<Readonly<Record<ProductName, string | undefined>>>;
  /** Apply each product's pending migrations at start (under its lock). @default true */
  migrateOnStart?: boolean;
  products: readonly ProductName[];
  ports: Readonly<Record<ProductName, number>>;
  host: string;
  seedCustomers: number;
  logger: Logger;
  policiesFile: string;
  /** The gateway's identity-token public key; undefined: the development key. */
  internalVerifyKey: KeyObject | undefined;
  /** How often each product re-checks its quality rules. @default 300000 (5 min) */
  qualityIntervalMs?: number;
  /** Where the products' outboxes are relayed (their events); absent: events stay in the outboxes until a bus is configured. */
  bus?: EventBus | undefined;
  /** How often each outbox relay looks for new events. @default 250 */
  outboxPollMs?: number | undefined;
}

export interface RunningDataProducts {
  readonly subgraphs: Readonly<Record<string, RunningSubgraph>>;
  /** Per product, a handle counting that product's SQL statements. */
  readonly dbs: Readonly<Record<string, CountingDb>>;
  /** Runs every product's quality rules now; resolves when the new reports are what they publish. */
  checkQualityNow(): Promise<void>;
  /** Publishes every product's unpublished outbox events now (with a bus); resolves with how many. */
  relayEventsNow(): Promise<number>;
  /** The database a product writes through (recordTransaction, changeSegments): its own connection. */
  dbOf(product: ProductName): TransactionalDb;
  stop(): Promise<void>;
}

/**
 * Starts the selected data products. On PostgreSQL each product connects with its own URL (its own
 * role) and, unless told not to, applies its pending migrations first (seeding is `npm run seed`);
 * embedded, the products share one in-memory PGlite that is migrated and seeded here.
 */
export async function runDataProducts(options: RunDataProductsOptions): Promise<RunningDataProducts> {
  const { logger } = options;
  const selected = dataProducts.filter((p) => options.products.includes(p.name));
  const policies = loadAccessPolicies(options.policiesFile);
  // Each product's descriptor is its promise (owner, version, SLA, quality rules): checked before it serves.
  const descriptors = new Map(
    selected.map((product) => {
      const file = descriptorFile(product.name);
      const descriptor = loadDescriptor(file, { product: product.name, contract: product.typeDefs, knownRoles: new Set(policies.roles.keys()) });
      descriptor.spec.qualityRules.forEach((rule, i) => {
        if (!product.storage[rule.field]) throw new DescriptorError(`${file}: spec.qualityRules.${i}.field: ${rule.field} has no known storage in the ${product.name} product (add it to its storage map)`);
      });
      return [product.name, descriptor] as const;
    }),
  );
  const verifyKey = options.internalVerifyKey ?? devKeyPair('internal-identity').publicKey;
  const urlOf = (product: ProductName) => options.databaseUrls?.[product] ?? options.databaseUrl;
  const migrateOnStart = options.migrateOnStart ?? true;
  // Per product, its database handle; products with the same URL share one pool.
  const dbOf = new Map<ProductName, TransactionalDb>();
  const pools = new Map<string, TransactionalDb>();
  const closeAll = async () => {
    await Promise.all([...pools.values()].map((db) => db.close()));
  };
  const embeddedCount = selected.filter((p) => !urlOf(p.name)).length;
  if (embeddedCount > 0 && embeddedCount < selected.length) {
    throw new Error('some products have a database URL and others none: give DATABASE_URL, or each product its own');
  }
  try {
    if (embeddedCount === 0) {
      for (const product of selected) {
        const url = urlOf(product.name)!;
        if (migrateOnStart) {
          const outcome = await migratePostgres(url, product, { role: productRoleOf(product.name, { urls: options.databaseUrls }), logger });
          if (outcome.applied.length > 0) logger.info({ product: product.name, applied: outcome.applied }, 'migrations applied');
        }
        let pool = pools.get(url);
        if (!pool) {
          pool = createPostgresDb({ url });
          pools.set(url, pool);
        }
        dbOf.set(product.name, pool);
      }
    } else {
      const started = performance.now();
      const embedded = await createEmbeddedDb();
      pools.set('embedded', embedded);
      // The seed fills every product's tables, so every product is migrated, through the same runner as on PostgreSQL.
      for (const product of dataProducts) await migrateProduct(embedded.session, product, { logger });
      // Fresh in memory, so always empty here; without `reset` the seeder could never wipe data anyway.
      const outcome = await seedDatabase(embedded, { customers: options.seedCustomers });
      if (outcome.kind === 'seeded') {
        logger.info({ customers: options.seedCustomers, counts: outcome.counts, ms: Math.round(performance.now() - started) }, 'embedded database seeded');
      } else {
        logger.warn({ existing: outcome.existing }, 'embedded database already holds data: not seeded');
      }
      for (const product of selected) dbOf.set(product.name, embedded);
    }
    for (const product of selected) {
      const db = dbOf.get(product.name)!;
      const state = await migrationState(db, product);
      if (state.pending > 0) logger.warn({ product: product.name, pending: state.pending, latest: state.latest }, 'migrations pending: run npm run migrate (or MIGRATE_ON_START=true)');
    }
  } catch (error) {
    // A failed migration (or check) leaves no pool or embedded database behind.
    await closeAll();
    throw error;
  }
  const subgraphs: Record<string, RunningSubgraph> = {};
  const dbs: Record<string, CountingDb> = {};
  const monitors: QualityMonitor[] = [];
  try {
    for (const product of selected) {
      const db = dbOf.get(product.name)!;
      // Traced (OTEL_*): the statements of requests get spans; the quality checks' below do not.
      const handle = countingDb(tracedDb(db));
      dbs[product.name] = handle;
      const descriptor = descriptors.get(product.name)!;
      // Quality checks use their own handle: they are not part of any request's statement count.
      const monitor = startQualityMonitor({ db: countingDb(db), descriptor, storage: product.storage, intervalMs: options.qualityIntervalMs, logger });
      monitors.push(monitor);
      subgraphs[product.name] = await startSubgraph(product, {
        db: handle,
        port: options.ports[product.name],
        host: options.host,
        logger,
        verifyIdentity: createIdentityVerifier(verifyKey, subgraphAudience(product.name)),
        policies,
        version: descriptor.metadata.version,
        // Checked against the same schema the gateway reads it with.
        describe: async () =>
          publishedProductSchema.parse({
            descriptor,
            quality: await monitor.latest(),
            refreshedAt: await refreshedAt(db, product.schemaName),
            migrations: await migrationState(db, product),
          }),
      });
    }
  } catch (error) {
    for (const monitor of monitors) monitor.stop();
    await Promise.all(Object.values(subgraphs).map((s) => s.stop()));
    await closeAll();
    throw error;
  }
  const bus = options.bus;
  const relays: OutboxRelay[] = bus
    ? selected.filter((p) => p.publishesEvents).map((p) => startOutboxRelay({ db: dbOf.get(p.name)!, schema: p.schemaName, bus, logger, pollMs: options.outboxPollMs }))
    : [];
  return {
    subgraphs,
    dbs,
    dbOf(product) {
      const db = dbOf.get(product);
      if (!db) throw new Error(`${product} is not among the data products this process runs`);
      return db;
    },
    async checkQualityNow() {
      await Promise.all(monitors.map((monitor) => monitor.checkNow()));
    },
    async relayEventsNow() {
      const counts = await Promise.all(relays.map((relay) => relay.relayNow()));
      return counts.reduce((a, b) => a + b, 0);
    },
    async stop() {
      await Promise.all(relays.map((relay) => relay.stop()));
      for (const monitor of monitors) monitor.stop();
      await Promise.all(Object.values(subgraphs).map((s) => s.stop()));
      await closeAll();
    },
  };
}
