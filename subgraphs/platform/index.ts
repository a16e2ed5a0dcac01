import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, type GraphQLSchema } from 'graphql';
import { gqlError } from '../../lib/errors.js';
import { fromPackageRoot } from '../../lib/package-root.js';
import type { AccessPolicies } from '../../lib/policies.js';
import type { Principal } from '../../lib/principal.js';
import { protectSchema } from '../kit/shield.js';
import { DateTimeScalar } from '../kit/scalars.js';
import { MAX_LISTED_MIGRATIONS, type PublishedProduct } from '../kit/published.js';

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

/** One operation that read a field in a window: its name, document hash, clients and last use. */
export interface OperationUsageRow {
  /** The operation's name; `(anonymous)` without one; `~other` for operations past the hourly cap. */
  name: string;
  /** SHA-256 (hex) of its document, as trusted documents and persisted queries name it; null for `~other`. */
  hash: string | null;
  requests: number;
  /** Start of the last hour it read the field in the window. */
  lastSeen: Date;
  clients: { name: string; requests: number; lastSeen: Date }[];
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
  /** The operations that read one coordinate in the window, most requests first. */
  fieldOperations(coordinate: string, window: UsageWindow): Promise<OperationUsageRow[]>;
  /** Oldest instant the store still holds. */
  retentionStart(): Date;
  /** The store's clock, ms since the epoch: windows end no later than it. */
  now(): number;
}

/** One audited operation as the audit API returns it. */
export interface AuditRecordView {
  at: Date;
  writerId: string;
  seq: number;
  issuer: string | null;
  subject: string | null;
  clientName: string | null;
  clientVersion: string | null;
  roles: string[];
  operationName: string | null;
  documentHash: string | null;
  accesses: { coordinate: string; level: string; kind: string | null; treatment: string; product: string | null; productVersion: string | null }[];
  requestId: string;
  traceId: string | null;
  outcome: string;
  hash: string;
}

export interface AuditPage {
  records: AuditRecordView[];
  hasNextPage: boolean;
  endCursor: string | null;
}

/** How often one caller read one classified coordinate under one treatment in a window. */
export interface AccessSummaryView {
  coordinate: string;
  treatment: string;
  reads: number;
  lastAt: Date;
}

/** One of the caller's rate-limit budgets, as the request asking spent it. */
export interface BudgetView {
  /** `caller` (the caller's own budget) or `client` (the ceiling shared by every user of the caller's client). */
  scope: 'caller' | 'client';
  requests: number;
  remainingRequests: number;
  cost: number;
  remainingCost: number;
  windowSeconds: number;
  resetsAt: Date;
}

/** What the platform subgraph reads of the audit trail: implemented by the gateway over its audit store. */
export interface AuditReader {
  /** Newest first; `until` exclusive; `after` a cursor of a previous page. */
  read(query: { issuer: string | undefined; subject: string | undefined; coordinate: string | undefined; since: Date; until: Date; first: number; after: string | undefined }): Promise<AuditPage>;
  /** One caller's reads in a window, per coordinate and treatment, by coordinate; at most `limit` rows. */
  summarize(query: { issuer: string; subject: string; since: Date; until: Date; limit: number }): Promise<AccessSummaryView[]>;
  /** The gateway's clock, ms since the epoch. */
  now(): number;
}

type Descriptor = PublishedProduct['descriptor'];

/**
 * A data product as the catalogue queries return it: the fields of its published descriptor (one
 * schema, subgraphs/kit/published.ts; null when it never published a valid one) beside what the
 * gateway measures.
 */
export interface DataProductView {
  name: string;
  domain: Descriptor['metadata']['domain'] | null;
  owner: Descriptor['metadata']['owner'] | null;
  version: Descriptor['metadata']['version'] | null;
  description: Descriptor['spec']['description'] | null;
  sla: Descriptor['spec']['sla'] | null;
  accessRoles: Descriptor['spec']['accessRoles'];
  exampleOperations: Descriptor['spec']['exampleOperations'];
  status: {
    healthy: boolean;
    /** Why it is not fully available (invalid or unreachable descriptor); null when nothing is wrong. */
    problem: string | null;
    latencyP95Ms: number | null;
    latencyWithinSla: boolean | null;
    refreshedAt: Date | null;
    dataAgeMinutes: number | null;
    fresh: boolean | null;
    /** The gateway's response cache: hits / (hits + misses) since it started; null before any lookup. */
    cacheHitRate: number | null;
  };
  quality: PublishedProduct['quality'];
  /** What the product reports about its schema's migrations; null when it reports none. */
  migrations: NonNullable<PublishedProduct['migrations']> | null;
  contracts: DataProductContractsView;
}

/** A data product's contracts, each versioned: its GraphQL types, its REST views, its event subjects. */
export interface DataProductContractsView {
  graphql: { version: string | null; rootFields: string[]; types: string[] };
  rest: { method: string; path: string; version: string; operationName: string; description: string; available: boolean }[];
  events: Descriptor['spec']['events'];
}

/** What the platform subgraph reads for the catalogue. */
export interface CatalogReader {
  view(): Promise<DataProductView[]>;
}

export const DEFAULT_USAGE_WINDOW_MS = 7 * 24 * 3_600_000;
/** Most hours one series may span (31 days); each is a point in the answer. */
export const MAX_SERIES_HOURS = 744;
const HOUR_MS = 3_600_000;

/** The largest page of each list of this API; the SDL's `@listSize` says the same. */
export const PAGE_LIMITS = { dataProducts: 100, fieldUsage: 1_000, clients: 100, fieldOperations: 100, accessAudit: 500 } as const;
/** Most rows of `myAccess { summary }` (one per classified field and treatment); the SDL's description says the same. */
export const MAX_ACCESS_SUMMARY_ROWS = 500;
/** The longest window of one audit query, in days: a bounded scan per question. */
export const MAX_AUDIT_WINDOW_DAYS = 366;
const DAY_MS = 86_400_000;
/** Catalogue lists that come from the products' descriptors, capped as the SDL's `@listSize(assumedSize:)` promises. */
export const CATALOGUE_LIMITS = { accessRoles: 50, exampleOperations: 20, rules: 50, completeness: 100, rootFields: 50, types: 100, rest: 20, events: 20 } as const;

/** A `first` argument within 1..maximum, else BAD_USER_INPUT naming the argument and its limit. */
function pageSize(first: number | null | undefined, maximum: number, argument = 'first'): number {
  if (typeof first !== 'number' || !Number.isInteger(first) || first < 1 || first > maximum) {
    throw gqlError('BAD_USER_INPUT', `${argument} must be an integer from 1 to ${maximum}`, { argument, maximum });
  }
  return first;
}

/** One page of a list sorted by `key`: the entries after `after`, at most `first`. */
function page<T>(list: readonly T[], key: (item: T) => string, first: number, after: string | null | undefined): T[] {
  const sorted = [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const start = after ? sorted.findIndex((item) => key(item) > after) : 0;
  return start === -1 ? [] : sorted.slice(start, start + first);
}

/**
 * The window an owner asked for, clamped to what the store retains and to now: `until` in the
 * future or `since` before the retention start never reach a loop or an allocation.
 */
function windowOf(reader: UsageReader, args: { since?: Date | null; until?: Date | null; client?: string | null }): UsageWindow {
  // `until` is exclusive: what is recorded at this very instant is in the window that ends "now".
  const end = reader.now() + 1;
  if (args.since && args.until && args.since.getTime() >= args.until.getTime()) throw gqlError('BAD_USER_INPUT', 'since must be before until', { argument: 'since' });
  const until = Math.min(args.until?.getTime() ?? end, end);
  const since = Math.max(args.since?.getTime() ?? until - DEFAULT_USAGE_WINDOW_MS, reader.retentionStart().getTime());
  // Nothing retained in the window (all of it before the retention start, or in the future): an empty window.
  return { since: new Date(Math.min(since, until)), until: new Date(until), client: args.client?.trim().toLowerCase() || undefined };
}

/** An audit window: since required, until default now (exclusive), at most MAX_AUDIT_WINDOW_DAYS. */
function auditWindow(reader: AuditReader, args: { since: Date; until?: Date | null }): { since: Date; until: Date } {
  const until = args.until ?? new Date(reader.now() + 1);
  if (args.since.getTime() >= until.getTime()) throw gqlError('BAD_USER_INPUT', 'since must be before until', { argument: 'since' });
  if (until.getTime() - args.since.getTime() > MAX_AUDIT_WINDOW_DAYS * DAY_MS) {
    throw gqlError('BAD_USER_INPUT', `An audit window may span at most ${MAX_AUDIT_WINDOW_DAYS} days; ask for a shorter one`, { argument: 'since', maximum: MAX_AUDIT_WINDOW_DAYS });
  }
  return { since: args.since, until };
}

/** Who is asking, from the request context (the gateway's, which carries the authenticated principal). */
function callerOf(context: unknown): { issuer: string; subject: string } | undefined {
  const principal = (context as { principal?: Principal } | undefined)?.principal;
  return principal?.kind === 'authenticated' ? { issuer: principal.issuer, subject: principal.subject } : undefined;
}

type AuditArgs = { since: Date; until?: Date | null; first?: number | null; after?: string | null };

/**
 * The owners' usage API, as a subgraph composed into the supergraph (so the same @requiresScopes
 * rules apply at the gateway) and, defense in depth, guarded by its own shield.
 */
export function createPlatformSchema(
  reader: UsageReader,
  catalog: CatalogReader,
  policies: AccessPolicies,
  audit: AuditReader,
  /** The asking request's rate-limit budgets, from its context (empty when rate limiting is off). */
  budgetsOf: (context: unknown) => BudgetView[],
): GraphQLSchema {
  const schema = buildSubgraphSchema({
    typeDefs: platformTypeDefs,
    resolvers: {
      DateTime: DateTimeScalar,
      // Quality reports travel as JSON from the products: their timestamps are ISO strings.
      DataQuality: {
        checkedAt: (quality: { checkedAt: string }) => new Date(quality.checkedAt),
        rules: (quality: { rules?: unknown[] }) => (quality.rules ?? []).slice(0, CATALOGUE_LIMITS.rules),
        completeness: (quality: { completeness?: unknown[] }) => (quality.completeness ?? []).slice(0, CATALOGUE_LIMITS.completeness),
      },
      // Timestamps travel as ISO strings from the products too.
      AppliedMigration: {
        appliedAt: (migration: { appliedAt: string }) => new Date(migration.appliedAt),
      },
      SchemaMigrations: {
        applied: (state: { applied: unknown[] }) => state.applied.slice(0, MAX_LISTED_MIGRATIONS),
      },
      Query: {
        dataProducts: async (_: unknown, args: { first?: number | null; after?: string | null }) => {
          const first = pageSize(args.first, PAGE_LIMITS.dataProducts);
          return page(await catalog.view(), (p) => p.name, first, args.after);
        },
        dataProduct: async (_: unknown, { name }: { name: string }) => (await catalog.view()).find((p) => p.name === name) ?? null,
        usageProducts: () => reader.products().slice(0, PAGE_LIMITS.dataProducts),
        fieldUsage: async (_: unknown, args: { product: string; since?: Date | null; until?: Date | null; client?: string | null; first?: number | null; after?: string | null }) => {
          const first = pageSize(args.first, PAGE_LIMITS.fieldUsage);
          if (!reader.products().includes(args.product)) {
            throw gqlError('BAD_USER_INPUT', `Unknown data product "${args.product}"`, { argument: 'product' });
          }
          return page(await reader.fieldUsage(args.product, windowOf(reader, args)), (row) => row.coordinate, first, args.after);
        },
        fieldUsageSeries: (_: unknown, args: { coordinate: string; since?: Date | null; until?: Date | null; client?: string | null }) => {
          if (!reader.knows(args.coordinate)) {
            throw gqlError('BAD_USER_INPUT', `Unknown schema coordinate "${args.coordinate}"`, { argument: 'coordinate' });
          }
          const window = windowOf(reader, args);
          const hours = Math.ceil((window.until.getTime() - window.since.getTime()) / HOUR_MS) + 1;
          if (hours > MAX_SERIES_HOURS) {
            throw gqlError('BAD_USER_INPUT', `A series may span at most ${MAX_SERIES_HOURS} hours; ask for a shorter window`, { argument: 'since', maximum: MAX_SERIES_HOURS });
          }
          return reader.series(args.coordinate, window);
        },
        fieldOperations: async (_: unknown, args: { coordinate: string; since?: Date | null; until?: Date | null; client?: string | null; first?: number | null }) => {
          const first = pageSize(args.first, PAGE_LIMITS.fieldOperations);
          if (!reader.knows(args.coordinate)) {
            throw gqlError('BAD_USER_INPUT', `Unknown schema coordinate "${args.coordinate}"`, { argument: 'coordinate' });
          }
          return (await reader.fieldOperations(args.coordinate, windowOf(reader, args))).slice(0, first);
        },
        accessAudit: (_: unknown, args: AuditArgs & { subject?: string | null; coordinate?: string | null }) => {
          const first = pageSize(args.first, PAGE_LIMITS.accessAudit);
          return audit.read({ ...auditWindow(audit, args), issuer: undefined, subject: args.subject ?? undefined, coordinate: args.coordinate ?? undefined, first, after: args.after ?? undefined });
        },
        myAccess: async (_: unknown, args: AuditArgs, context: unknown) => {
          const first = pageSize(args.first, PAGE_LIMITS.accessAudit);
          const caller = callerOf(context);
          // @authenticated already refused anonymous callers; this is defense in depth.
          if (caller === undefined) throw gqlError('UNAUTHENTICATED', 'myAccess needs a signed-in caller');
          // Issuer and subject: the same subject at another issuer is someone else.
          const window = auditWindow(audit, args);
          const page = await audit.read({ ...window, ...caller, coordinate: undefined, first, after: args.after ?? undefined });
          return {
            ...page,
            // Read only when selected (the default resolver calls a function it finds on the source).
            summary: () => audit.summarize({ ...window, ...caller, limit: MAX_ACCESS_SUMMARY_ROWS }),
            budgets: budgetsOf(context),
          };
        },
      },
      FieldUsage: {
        clients: (row: FieldUsageRow, args: { first?: number | null }) => row.clients.slice(0, pageSize(args.first, PAGE_LIMITS.clients)),
      },
      OperationUsage: {
        clients: (row: OperationUsageRow, args: { first?: number | null }) => row.clients.slice(0, pageSize(args.first, PAGE_LIMITS.clients)),
      },
      DataProduct: {
        accessRoles: (p: DataProductView) => p.accessRoles.slice(0, CATALOGUE_LIMITS.accessRoles),
        exampleOperations: (p: DataProductView) => p.exampleOperations.slice(0, CATALOGUE_LIMITS.exampleOperations),
      },
      // Capped as the SDL's @listSize promises (the cost a caller was charged holds).
      DataProductContracts: {
        rest: (c: DataProductContractsView) => c.rest.slice(0, CATALOGUE_LIMITS.rest),
        events: (c: DataProductContractsView) => c.events.slice(0, CATALOGUE_LIMITS.events),
      },
      GraphQLContract: {
        rootFields: (g: DataProductContractsView['graphql']) => g.rootFields.slice(0, CATALOGUE_LIMITS.rootFields),
        types: (g: DataProductContractsView['graphql']) => g.types.slice(0, CATALOGUE_LIMITS.types),
      },
    },
  });
  return protectSchema(schema, platformTypeDefs, policies);
}
