import { fileURLToPath } from 'node:url';
import { mintDevToken } from '../../gateway/auth/dev-issuer.js';
import { loadConfig } from '../../gateway/config.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';
import { createLogger } from '../../lib/logger.js';
import { DEFAULT_POLICIES_FILE } from '../../lib/policies.js';
import { createPostgresDb } from '../../subgraphs/kit/db.js';
import { PRODUCT_NAMES } from '../../subgraphs/kit/data-product.js';
import { runDataProducts, type RunningDataProducts } from '../../subgraphs/run.js';
import { migrateDatabase } from '../../subgraphs/migrate.js';
import { seedDatabase } from '../../subgraphs/seed/seed.js';
import { randomBytes } from 'node:crypto';
import type { EventBus } from '../../lib/events/bus.js';
import { dropAuditRoles } from './audit.js';
import { createScratchDatabase } from './database.js';

export const SUPERGRAPH_FILE = fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url));

/** Customers seeded for tests: enough for pagination and joins, small enough to seed in a moment. */
export const TEST_CUSTOMERS = 120;

export interface Stack {
  readonly url: string;
  readonly gateway: RunningGateway;
  readonly products: RunningDataProducts;
  /** Subgraph name -> its URL, for direct calls. */
  readonly subgraphUrls: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

const silent = createLogger('test', 'silent');

/**
 * The three data products on port 0 (real PostgreSQL in a scratch database when DATABASE_URL is
 * set, else the embedded default) behind a real gateway on port 0.
 */
export async function startProducts(customers = TEST_CUSTOMERS, qualityIntervalMs?: number, bus?: EventBus): Promise<{ products: RunningDataProducts; databaseUrl?: string; cleanup(): Promise<void> }> {
  const ports = { customer: 0, finance: 0, product: 0 };
  const base = process.env.DATABASE_URL;
  if (!base) {
    const products = await runDataProducts({ products: PRODUCT_NAMES, ports, host: '127.0.0.1', seedCustomers: customers, logger: silent, policiesFile: DEFAULT_POLICIES_FILE, internalVerifyKey: undefined, qualityIntervalMs, bus });
    return { products, cleanup: () => products.stop() };
  }
  const scratch = await createScratchDatabase(base);
  await migrateDatabase({ fallbackUrl: scratch.url });
  const seeder = createPostgresDb({ url: scratch.url });
  try {
    await seedDatabase(seeder, { customers });
  } finally {
    await seeder.close();
  }
  const products = await runDataProducts({ databaseUrl: scratch.url, products: PRODUCT_NAMES, ports, host: '127.0.0.1', seedCustomers: customers, logger: silent, policiesFile: DEFAULT_POLICIES_FILE, internalVerifyKey: undefined, qualityIntervalMs, bus });
  return {
    products,
    databaseUrl: scratch.url,
    async cleanup() {
      await products.stop();
      await scratch.drop();
    },
  };
}

export function gatewayEnv(subgraphUrls: Readonly<Record<string, string>>, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    PORT: '0',
    SUPERGRAPH: SUPERGRAPH_FILE,
    SUBGRAPH_URLS: Object.entries(subgraphUrls).map(([name, url]) => `${name}=${url}`).join(','),
    LOG_LEVEL: 'silent',
    ...env,
  };
}

export async function startStack(options: { customers?: number; env?: Record<string, string>; now?: () => number; qualityIntervalMs?: number; productsBus?: EventBus; gatewayBus?: EventBus } = {}): Promise<Stack> {
  const { products, databaseUrl, cleanup: stopProducts } = await startProducts(options.customers, options.qualityIntervalMs, options.productsBus);
  const subgraphUrls = Object.fromEntries(Object.entries(products.subgraphs).map(([name, s]) => [name, s.url]));
  // With PostgreSQL, the audit trail goes to the products' scratch database, in a schema (and
  // roles) of this stack's own: no embedded audit store (seconds and hundreds of MB) per gateway.
  const auditSchema = databaseUrl && !options.env?.AUDIT_DATABASE_URL && !options.env?.AUDIT_DATA_DIR ? `audit_s_${randomBytes(4).toString('hex')}` : undefined;
  const env = auditSchema ? { AUDIT_DATABASE_URL: databaseUrl!, AUDIT_SCHEMA: auditSchema, ...options.env } : options.env;
  const cleanup = async () => {
    await stopProducts();
    if (auditSchema) await dropAuditRoles(process.env.DATABASE_URL!, auditSchema);
  };
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(loadConfig(gatewayEnv(subgraphUrls, env)), silent, { now: options.now, bus: options.gatewayBus });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    url: gateway.url,
    gateway,
    products,
    subgraphUrls,
    async stop() {
      await gateway.stop();
      await cleanup();
    },
  };
}

/** A development-issuer token for these roles (the test gateways run in development mode). */
export function tokenFor(...roles: string[]): Promise<string> {
  return mintDevToken({ roles, clientId: `test-${roles.join('+') || 'none'}` });
}
