import type { KeyObject } from 'node:crypto';
import { devKeyPair } from '../lib/dev-keys.js';
import { createIdentityVerifier } from '../lib/internal-token.js';
import type { Logger } from '../lib/logger.js';
import { loadAccessPolicies } from '../lib/policies.js';
import { descriptorFile, loadDescriptor } from './kit/descriptor.js';
import { countingDb, createEmbeddedDb, createPostgresDb, type CountingDb, type Db } from './kit/db.js';
import type { ProductName } from './kit/data-product.js';
import { startSubgraph, type RunningSubgraph } from './kit/server.js';
import { dataProducts } from './products.js';
import { seedDatabase } from './seed/seed.js';

export interface RunDataProductsOptions {
  /** Absent: one embedded database for every product in this process, seeded with `seedCustomers`. */
  databaseUrl?: string | undefined;
  products: readonly ProductName[];
  ports: Readonly<Record<ProductName, number>>;
  host: string;
  seedCustomers: number;
  logger: Logger;
  policiesFile: string;
  /** The gateway's identity-token public key; undefined: the development key. */
  internalVerifyKey: KeyObject | undefined;
}

export interface RunningDataProducts {
  readonly subgraphs: Readonly<Record<string, RunningSubgraph>>;
  /** Per product, a handle counting that product's SQL statements. */
  readonly dbs: Readonly<Record<string, CountingDb>>;
  stop(): Promise<void>;
}

/**
 * Starts the selected data products. On PostgreSQL each product migrates its own schema (seeding is
 * `npm run seed`); embedded, the products share one in-memory PGlite that is migrated and seeded here.
 */
export async function runDataProducts(options: RunDataProductsOptions): Promise<RunningDataProducts> {
  const { logger } = options;
  const selected = dataProducts.filter((p) => options.products.includes(p.name));
  const policies = loadAccessPolicies(options.policiesFile);
  // Each product's descriptor is its promise (owner, version, SLA, quality rules): checked before it serves.
  for (const product of selected) {
    loadDescriptor(descriptorFile(product.name), { product: product.name, contract: product.typeDefs, knownRoles: new Set(policies.roles.keys()) });
  }
  const verifyIdentity = createIdentityVerifier(options.internalVerifyKey ?? devKeyPair('internal-identity').publicKey);
  let db: Db;
  if (options.databaseUrl) {
    db = createPostgresDb({ url: options.databaseUrl });
    for (const product of selected) await db.exec(product.migrations);
  } else {
    const started = performance.now();
    db = await createEmbeddedDb();
    const counts = await seedDatabase(db, { customers: options.seedCustomers });
    logger.info({ customers: options.seedCustomers, counts, ms: Math.round(performance.now() - started) }, 'embedded database seeded');
  }
  const subgraphs: Record<string, RunningSubgraph> = {};
  const dbs: Record<string, CountingDb> = {};
  try {
    for (const product of selected) {
      const handle = countingDb(db);
      dbs[product.name] = handle;
      subgraphs[product.name] = await startSubgraph(product, {
        db: handle,
        port: options.ports[product.name],
        host: options.host,
        logger,
        verifyIdentity,
        policies,
      });
    }
  } catch (error) {
    await Promise.all(Object.values(subgraphs).map((s) => s.stop()));
    await db.close();
    throw error;
  }
  return {
    subgraphs,
    dbs,
    async stop() {
      await Promise.all(Object.values(subgraphs).map((s) => s.stop()));
      await db.close();
    },
  };
}
