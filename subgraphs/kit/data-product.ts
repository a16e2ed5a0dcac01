import { readFileSync } from 'node:fs';
import { parse, type DocumentNode } from 'graphql';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { fromPackageRoot } from '../../lib/package-root.js';
import type { Principal } from '../../lib/principal.js';
import type { Db } from './db.js';

export const PRODUCT_NAMES = ['customer', 'finance', 'product'] as const;
export type ProductName = (typeof PRODUCT_NAMES)[number];

export function isProductName(value: string): value is ProductName {
  return (PRODUCT_NAMES as readonly string[]).includes(value);
}

/** What a subgraph's resolvers receive: the product's per-request loaders and its database handle. */
export interface SubgraphContext<TLoaders> {
  readonly db: Db;
  readonly loaders: TLoaders;
  /** Who the gateway says is asking (from its signed identity token). */
  readonly principal: Principal;
}

/**
 * One data product as the kit serves it. Everything is per product: its contract (SDL in
 * schema/<name>.graphql), its tables (own PostgreSQL schema), its resolvers and DataLoaders.
 */
export interface DataProduct<TLoaders = unknown> {
  readonly name: ProductName;
  readonly typeDefs: DocumentNode;
  readonly resolvers: GraphQLResolverMap<SubgraphContext<TLoaders>>;
  /**
   * Its versioned migrations: `<17-digit UTC timestamp>_<name>.sql` files, applied in order, each
   * once, recorded in `<schemaName>.pgmigrations` (subgraphs/kit/migrations.ts).
   */
  readonly migrationsDir: string;
  /** Fresh DataLoaders for one request: batching and caching never cross requests. */
  createLoaders(db: Db): TLoaders;
  /** Where each field the descriptor's quality rules name is stored: `Type.field` -> table and column. */
  readonly storage: Readonly<Record<string, { readonly table: string; readonly column: string }>>;
  /** The product's PostgreSQL schema (its data_product_meta table records when the data was loaded). */
  readonly schemaName: string;
  /** Whether the product publishes events through an outbox in its schema (kit/outbox.ts): a relay runs beside its subgraph. */
  readonly publishesEvents?: boolean;
}

/** Where a product's migration files live: subgraphs/<name>/migrations/ (copied into the image). */
export function migrationsDir(name: ProductName): string {
  return fromPackageRoot('subgraphs', name, 'migrations');
}

/** The product's data contract, read from schema/<name>.graphql. */
export function loadContract(name: ProductName): DocumentNode {
  return parse(readFileSync(fromPackageRoot('schema', `${name}.graphql`), 'utf8'));
}
