import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, type GraphQLSchema } from 'graphql';
import { gqlError } from '../../lib/errors.js';
import { fromPackageRoot } from '../../lib/package-root.js';
import type { AccessPolicies } from '../../lib/policies.js';
import { protectSchema } from '../kit/shield.js';
import { DateTimeScalar } from '../kit/scalars.js';

/** The platform subgraph's name in the supergraph; the gateway serves it in-process. */
export const PLATFORM_SUBGRAPH = 'platform';
/** Its routing URL in the supergraph: no network address, the gateway answers it itself. */
export const PLATFORM_URL = 'local:gateway';

export const platformTypeDefs = parse(readFileSync(fromPackageRoot('schema', 'platform.graphql'), 'utf8'));

export interface FieldUsageRow {
  coordinate: string;
  product: string;
  requests: number;
  errors: number;
  rejected: number;
  clients: { name: string; version: string | null; requests: number; errors: number; lastSeen: Date | null }[];
  firstSeen: Date | null;
  lastSeen: Date | null;
  deprecated: boolean;
  deprecationReason: string | null;
}

export interface UsagePointRow {
  hour: Date;
  requests: number;
  errors: number;
}

export interface UsageWindow {
  since: Date;
  until: Date;
  client: string | undefined;
}

/** What the platform subgraph reads: implemented by the gateway over its usage store. */
export interface UsageReader {
  products(): readonly string[];
  /** Whether a schema coordinate belongs to one of the products. */
  knows(coordinate: string): boolean;
  fieldUsage(product: string, window: UsageWindow): Promise<FieldUsageRow[]>;
  series(coordinate: string, window: UsageWindow): Promise<UsagePointRow[]>;
  /** Oldest instant the store still holds. */
  retentionStart(): Date;
}

/** A data product as the catalogue queries return it (the gateway assembles it). */
export interface DataProductView {
  name: string;
  domain: string;
  owner: { team: string; email: string };
  version: string;
  description: string;
  sla: { availability: number; latencyP95Ms: number; freshnessMinutes: number };
  accessRoles: string[];
  exampleOperations: { name: string; description: string; query: string }[];
  status: {
    healthy: boolean;
    latencyP95Ms: number | null;
    latencyWithinSla: boolean | null;
    refreshedAt: Date | null;
    dataAgeMinutes: number | null;
    fresh: boolean | null;
  };
  quality: unknown;
}

/** What the platform subgraph reads for the catalogue. */
export interface CatalogReader {
  list(): Promise<DataProductView[]>;
}

export const DEFAULT_USAGE_WINDOW_MS = 7 * 24 * 3_600_000;

function windowOf(reader: UsageReader, args: { since?: Date | null; until?: Date | null; client?: string | null }): UsageWindow {
  const until = args.until ?? new Date();
  const requested = args.since ?? new Date(until.getTime() - DEFAULT_USAGE_WINDOW_MS);
  if (requested.getTime() >= until.getTime()) throw gqlError('BAD_USER_INPUT', 'since must be before until', { argument: 'since' });
  const oldest = reader.retentionStart();
  return { since: requested < oldest ? oldest : requested, until, client: args.client?.trim().toLowerCase() || undefined };
}

/**
 * The owners' usage API, as a subgraph composed into the supergraph (so the same @requiresScopes
 * rules apply at the gateway) and, defense in depth, guarded by its own shield.
 */
export function createPlatformSchema(reader: UsageReader, catalog: CatalogReader, policies: AccessPolicies): GraphQLSchema {
  const schema = buildSubgraphSchema({
    typeDefs: platformTypeDefs,
    resolvers: {
      DateTime: DateTimeScalar,
      // Quality reports travel as JSON from the products: their timestamps are ISO strings.
      DataQuality: { checkedAt: (quality: { checkedAt: string }) => new Date(quality.checkedAt) },
      Query: {
        dataProducts: () => catalog.list(),
        dataProduct: async (_: unknown, { name }: { name: string }) => (await catalog.list()).find((p) => p.name === name) ?? null,
        usageProducts: () => reader.products(),
        fieldUsage: (_: unknown, args: { product: string; since?: Date | null; until?: Date | null; client?: string | null }) => {
          if (!reader.products().includes(args.product)) {
            throw gqlError('BAD_USER_INPUT', `Unknown data product "${args.product}"`, { argument: 'product' });
          }
          return reader.fieldUsage(args.product, windowOf(reader, args));
        },
        fieldUsageSeries: (_: unknown, args: { coordinate: string; since?: Date | null; until?: Date | null; client?: string | null }) => {
          if (!reader.knows(args.coordinate)) {
            throw gqlError('BAD_USER_INPUT', `Unknown schema coordinate "${args.coordinate}"`, { argument: 'coordinate' });
          }
          return reader.series(args.coordinate, windowOf(reader, args));
        },
      },
    },
  });
  return protectSchema(schema, platformTypeDefs, policies);
}
