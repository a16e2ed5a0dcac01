import { z } from 'zod';
import { LOG_LEVELS, type Logger } from '../lib/logger.js';
import type { ProductName } from './kit/data-product.js';
import { migratePostgres } from './kit/migrate-postgres.js';
import type { MigrationOutcome } from './kit/migrations.js';
import { defaultProductRole } from './kit/roles.js';
import { dataProducts } from './products.js';

const postgresUrl = z.string().url().regex(/^postgres(?:ql)?:\/\//, 'a postgres:// or postgresql:// URL');

/** The variables `npm run migrate` (scripts/migrate.ts) reads; the README documents each. */
export const MIGRATE_ENV = z.object({
  DATABASE_URL: postgresUrl.optional(),
  CUSTOMER_DATABASE_URL: postgresUrl.optional(),
  FINANCE_DATABASE_URL: postgresUrl.optional(),
  PRODUCT_DATABASE_URL: postgresUrl.optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('warn'),
});
export const MIGRATE_CONFIG_KEYS = Object.keys(MIGRATE_ENV.shape) as readonly string[];
/** URLs may hold passwords: never echoed. */
export const MIGRATE_SECRET_KEYS: ReadonlySet<string> = new Set(['DATABASE_URL', 'CUSTOMER_DATABASE_URL', 'FINANCE_DATABASE_URL', 'PRODUCT_DATABASE_URL']);

export interface MigrateDatabaseOptions {
  /** Which products; @default every one */
  products?: readonly ProductName[];
  /** Each product's connection; a product without one uses `fallbackUrl`. */
  urls?: Partial<Readonly<Record<ProductName, string | undefined>>>;
  /** The shared database URL (DATABASE_URL), for products without their own. */
  fallbackUrl?: string | undefined;
  /** Each product's role (migrations run as it when the connection's user may become it). @default dpg_<product>, or the user of the product's own URL */
  roles?: Partial<Readonly<Record<ProductName, string>>>;
  logger?: Logger | undefined;
}

/** The role of a product: given, else the user its own URL connects as, else dpg_<product>. */
export function productRoleOf(product: ProductName, options: Pick<MigrateDatabaseOptions, 'urls' | 'roles'>): string {
  const given = options.roles?.[product];
  if (given) return given;
  const own = options.urls?.[product];
  const user = own ? decodeURIComponent(new URL(own).username) : '';
  return user || defaultProductRole(product);
}

/** Migrates each selected product on PostgreSQL, one after the other (each under its own lock). */
export async function migrateDatabase(options: MigrateDatabaseOptions): Promise<MigrationOutcome[]> {
  const selected = dataProducts.filter((p) => !options.products || options.products.includes(p.name));
  const outcomes: MigrationOutcome[] = [];
  for (const product of selected) {
    const url = options.urls?.[product.name] ?? options.fallbackUrl;
    if (!url) throw new Error(`no database URL for the ${product.name} product`);
    outcomes.push(await migratePostgres(url, product, { role: productRoleOf(product.name, options), logger: options.logger }));
  }
  return outcomes;
}
