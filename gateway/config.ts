import { EVENTS_NAMESPACE_SCHEMA, NATS_URL_SCHEMA } from '../lib/events/settings.js';
import type { EventsConfig } from '../lib/events/create.js';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { KeyObject } from 'node:crypto';
import { readEnvironment } from '../lib/env-config.js';
import { LOG_LEVELS } from '../lib/logger.js';
import { developmentOnNetwork, isLoopback } from '../lib/loopback.js';
import { ed25519PemKey } from '../lib/pem-key.js';
import { DEFAULT_POLICIES_FILE } from '../lib/policies.js';
import { DEVELOPMENT_PSEUDONYM_KEY, keyIdOf, parsePseudonymKey } from '../lib/classification/pseudonym.js';
import { parseRedisUrl } from '../lib/redis-client.js';
import { TRACING_ENV, TRACING_SECRET_KEYS, tracingConfigOf, type TracingConfig } from '../lib/tracing/settings.js';
import { issuersSchema, type IssuerConfig } from './auth/issuers.js';
import { DEFAULT_RATE_LIMITS_FILE } from './limits/policy.js';
import { DEFAULT_OPERATIONS_POLICY_FILE } from './documents/policy.js';

/** Where the REST views' route files are, by default (relative to the working directory, like the policy files). */
export const DEFAULT_REST_ROUTES_DIR = 'schema/rest';
import { CLASSIFICATION_LEVELS, type ClassificationLevel } from '../lib/classification/model.js';
import { AUDIT_SCHEMA_PATTERN, DEFAULT_AUDIT_SCHEMA } from './audit/schema.js';
import { DEFAULT_USAGE_SCHEMA, USAGE_SCHEMA_PATTERN } from './usage/history.js';

/** Defaults, resolved once here and exported so docs and tests can name them. */
export const DEFAULT_PORT = 4000;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_SUPERGRAPH = 'schema/supergraph.graphql';
/** Between checks of SUPERGRAPH for a new version (a file is also watched), jittered by 10 %. */
export const DEFAULT_SUPERGRAPH_POLL_MS = 10_000;
export const DEFAULT_SUBGRAPH_TIMEOUT_MS = 5_000;
/** Largest subgraph response body: far above any page our products serve, far below what would hurt the gateway. */
export const DEFAULT_SUBGRAPH_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
export const DEFAULT_CLOCK_TOLERANCE_S = 5;
export const DEFAULT_JWKS_COOLDOWN_MS = 30_000;
export const DEFAULT_MAX_TOKEN_BYTES = 8_192;
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 250;
export const DEFAULT_USAGE_RETENTION_DAYS = 30;
export const DEFAULT_USAGE_FLUSH_MS = 1_000;
export const DEFAULT_USAGE_MAX_CLIENTS = 200;
export const DEFAULT_USAGE_MAX_OPERATIONS = 100;
export const DEFAULT_USAGE_ROLLUP_INTERVAL_MS = 300_000;
export const DEFAULT_USAGE_ROLLUP_DELAY_MS = 300_000;
export const DEFAULT_ADMIN_HOST = '127.0.0.1';
/** The admin listener's port in production (Prometheus' exporters use the 9xxx range). */
export const DEFAULT_ADMIN_PORT = 9090;
export const DEFAULT_CORS_MAX_AGE_S = 600;
/** Audit trail: reads of fields classified at or above this level are recorded. */
export const DEFAULT_AUDIT_LEVEL: ClassificationLevel = 'PII';
export const DEFAULT_AUDIT_QUEUE_MAX = 10_000;
export const DEFAULT_AUDIT_FLUSH_MS = 1_000;
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;
export const DEFAULT_AUDIT_PURGE_INTERVAL_MS = 3_600_000;
/**
 * A client's W3C trace context continues its trace by default: browser apps and services that
 * trace end to end see the gateway and the data products inside their own traces, which is what
 * accepting `traceparent` is for (CORS already allows the header). A caller can only choose ids
 * and the sampled flag of its own requests; a gateway at a boundary it does not trust sets
 * TRACE_PARENT=ignore (new traces, linked to the caller's span).
 */
export const DEFAULT_TRACE_PARENT = 'trust';
/** The in-memory response cache's budget (values' bytes), when there is no REDIS_URL. */
export const DEFAULT_RESPONSE_CACHE_MAX_BYTES = 64 * 1024 * 1024;
/** A larger answer is not cached (it would crowd out many small ones, and costs a big Redis value). */
export const DEFAULT_RESPONSE_CACHE_MAX_VALUE_BYTES = 256 * 1024;
/** Between checks of TRUSTED_DOCUMENTS for new manifests, jittered by 10 % (as the supergraph's). */
export const DEFAULT_TRUSTED_DOCUMENTS_POLL_MS = 10_000;
/** Documents of every manifest together: far above any app's set of operations, far below what would hurt a replica's memory. */
export const DEFAULT_TRUSTED_DOCUMENTS_MAX_DOCUMENTS = 10_000;
/** One trusted document's bytes: a generous screen of an app, well under MAX_BODY_BYTES. */
export const DEFAULT_TRUSTED_DOCUMENTS_MAX_DOCUMENT_BYTES = 64 * 1024;
/** Automatic persisted queries are kept this long after their registration (Redis TTL, memory expiry). */
export const DEFAULT_APQ_TTL_S = 86_400;
/** Budget of the in-process APQ store (and of each replica's copy in front of Redis), bytes of documents. */
export const DEFAULT_APQ_MEMORY_MAX_BYTES = 32 * 1024 * 1024;
/** A larger document is run but not registered as an automatic persisted query. */
export const DEFAULT_APQ_MAX_DOCUMENT_BYTES = 64 * 1024;
/**
 * Introspection shows everyone the whole API schema, each rule in the descriptions, until the
 * sandbox introspects with the caller's token. `granted` (each caller's own graph) is what a data
 * scientist's docs explorer and autocomplete should show, but GraphiQL introspects once, when the
 * page loads, before a token is pasted: under `granted` it would keep the anonymous view (nothing)
 * until the user refreshes the schema (Shift+Ctrl+R). When the sandbox's sign-in (issue 16) sends
 * the token with its first introspection, or refetches on a new one, make `granted` the default.
 */
export const DEFAULT_INTROSPECTION_VIEW: 'granted' | 'full' = 'full';
/** Scopes that guard personal data: an operation reading such a field is never shared or cached across subjects. */
export const DEFAULT_PERSONAL_DATA_SCOPES = ['customer:pii'] as const;

/** CORS_ORIGINS: exact origins, comma-separated; each must be scheme://host[:port] and nothing more. */
const corsOrigins = z.string().transform((value, ctx) => {
  const origins: string[] = [];
  for (const item of value.split(',').map((part) => part.trim()).filter(Boolean)) {
    const url = URL.canParse(item) ? new URL(item) : undefined;
    if (!url || item.includes('*') || !/^https?:$/.test(url.protocol) || url.origin !== item) {
      ctx.addIssue({ code: 'custom', message: `expected exact origins such as https://app.example.com (scheme, host, port; no path, no wildcard), got "${item}"` });
      return z.NEVER;
    }
    origins.push(item);
  }
  return origins;
});

const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);

/** Routing URL overrides: `name=url,name=url` (a supergraph's routing URLs rarely match a deployment). */
const subgraphUrls = z
  .string()
  .transform((value, ctx) => {
    const map: Record<string, string> = {};
    for (const pair of value.split(',').map((part) => part.trim()).filter(Boolean)) {
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const url = pair.slice(eq + 1).trim();
      if (eq < 1 || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
        ctx.addIssue({ code: 'custom', message: `expected name=http(s)://host/path pairs separated by commas, got "${pair}"` });
        return z.NEVER;
      }
      map[name] = url;
    }
    return map;
  });

/** One grammar for every switch: on/off, true/false or 1/0. */
const bool = z.enum(['on', 'off', 'true', 'false', '1', '0']).transform((v) => v === 'on' || v === 'true' || v === '1');
/** A comma-separated list of lower-case names (data products, scopes), without duplicates. */
const names = z.string().transform((value, ctx) => {
  const items = [...new Set(value.split(',').map((part) => part.trim()).filter(Boolean))];
  const bad = items.find((item) => !/^[a-z][a-z0-9_:-]*$/.test(item));
  if (bad !== undefined) {
    ctx.addIssue({ code: 'custom', message: `expected comma-separated lower-case names, got "${bad}"` });
    return z.NEVER;
  }
  return items;
});


/** Open subscriptions per principal on one replica. */
export const DEFAULT_SUBSCRIPTIONS_MAX_PER_PRINCIPAL = 10;
/** Open subscriptions on one replica. */
export const DEFAULT_SUBSCRIPTIONS_MAX_TOTAL = 10_000;
/** Events a subscriber may have waiting before it is disconnected as a slow consumer. */
export const DEFAULT_SUBSCRIPTION_BUFFER_EVENTS = 100;
/** How long a subscriber may leave a full buffer untaken before it is cut as a slow consumer. */
export const DEFAULT_SUBSCRIPTION_STALL_MS = 30_000;

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(DEFAULT_PORT),
  HOST: z.string().min(1).default(DEFAULT_HOST),
  ADMIN_PORT: z.union([z.literal('off'), z.coerce.number().int().min(0).max(65_535)]).optional(),
  ADMIN_HOST: z.string().min(1).default(DEFAULT_ADMIN_HOST),
  SUPERGRAPH: z.string().min(1).default(DEFAULT_SUPERGRAPH),
  SUPERGRAPH_POLL_MS: z.coerce.number().int().min(0).max(3_600_000).default(DEFAULT_SUPERGRAPH_POLL_MS),
  SUBGRAPH_URLS: subgraphUrls.default({}),
  SUBGRAPH_TIMEOUT_MS: positiveInt(300_000).default(DEFAULT_SUBGRAPH_TIMEOUT_MS),
  SUBGRAPH_MAX_RESPONSE_BYTES: positiveInt(1024 * 1024 * 1024).default(DEFAULT_SUBGRAPH_MAX_RESPONSE_BYTES),
  SUBGRAPH_DEDUP: bool.default(true),
  SUBGRAPH_BATCH: bool.default(true),
  MAX_BODY_BYTES: positiveInt(64 * 1024 * 1024).default(DEFAULT_MAX_BODY_BYTES),
  SHUTDOWN_GRACE_MS: positiveInt(600_000).default(DEFAULT_SHUTDOWN_GRACE_MS),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  OIDC_ISSUERS: issuersSchema.optional(),
  AUTH_REQUIRED: bool.optional(),
  AUTHZ_MODE: z.enum(['filter', 'reject']).default('filter'),
  ANONYMOUS_INTROSPECTION: bool.optional(),
  INTROSPECTION_VIEW: z.enum(['granted', 'full']).default(DEFAULT_INTROSPECTION_VIEW),
  CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(DEFAULT_CLOCK_TOLERANCE_S),
  JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).max(3_600_000).default(DEFAULT_JWKS_COOLDOWN_MS),
  MAX_TOKEN_BYTES: positiveInt(65_536).default(DEFAULT_MAX_TOKEN_BYTES),
  POLICIES_FILE: z.string().min(1).default(DEFAULT_POLICIES_FILE),
  INTERNAL_SIGNING_KEY: ed25519PemKey('private').optional(),
  // One node (redis://, rediss://) or a Redis Cluster's seed nodes (redis+cluster://h1:6379,h2:6379): lib/redis-client.ts reads both.
  REDIS_URL: z
    .string()
    .superRefine((value, ctx) => {
      const reading = parseRedisUrl(value);
      if (!reading.ok) ctx.addIssue({ code: 'custom', message: reading.problem });
    })
    .optional(),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'letters, digits, _ . - (at most 32)').default('dpg'),
  REDIS_COMMAND_TIMEOUT_MS: positiveInt(10_000).default(DEFAULT_REDIS_COMMAND_TIMEOUT_MS),
  RATE_LIMITING: bool.default(true),
  RATE_LIMIT_FAIL_MODE: z.enum(['open', 'closed']).default('open'),
  RATE_LIMITS_FILE: z.string().min(1).default(DEFAULT_RATE_LIMITS_FILE),
  SANDBOX: z.enum(['graphiql', 'apollo', 'off']).default('graphiql'),
  CORS_ORIGINS: corsOrigins.default([]),
  CORS_MAX_AGE_S: z.coerce.number().int().min(0).max(86_400).default(DEFAULT_CORS_MAX_AGE_S),
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  USAGE_RECORDING: bool.default(true),
  USAGE_RETENTION_DAYS: positiveInt(366).default(DEFAULT_USAGE_RETENTION_DAYS),
  USAGE_FLUSH_MS: positiveInt(60_000).default(DEFAULT_USAGE_FLUSH_MS),
  USAGE_MAX_CLIENTS: positiveInt(10_000).default(DEFAULT_USAGE_MAX_CLIENTS),
  USAGE_MAX_OPERATIONS: positiveInt(10_000).default(DEFAULT_USAGE_MAX_OPERATIONS),
  // Durable usage history: closed hours rolled up into PostgreSQL (README "Usage for data product owners").
  USAGE_DATABASE_URL: z.string().refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), 'expected postgres://user@host:port/database').optional(),
  USAGE_SCHEMA: z.string().regex(USAGE_SCHEMA_PATTERN, 'lower-case letters, digits and _, starting with a letter or _ (at most 41)').default(DEFAULT_USAGE_SCHEMA),
  USAGE_ROLLUP_INTERVAL_MS: positiveInt(3_600_000).default(DEFAULT_USAGE_ROLLUP_INTERVAL_MS),
  USAGE_ROLLUP_DELAY_MS: positiveInt(3_600_000).default(DEFAULT_USAGE_ROLLUP_DELAY_MS),
  TRACE_PARENT: z.enum(['trust', 'ignore']).default(DEFAULT_TRACE_PARENT),
  // Execution sharing: identical concurrent operations run once; a response cache bounded by each product's freshness.
  INBOUND_DEDUP: bool.default(true),
  RESPONSE_CACHE: bool.default(false),
  RESPONSE_CACHE_PRODUCTS: names.default([]),
  RESPONSE_CACHE_MAX_BYTES: positiveInt(4 * 1024 * 1024 * 1024).default(DEFAULT_RESPONSE_CACHE_MAX_BYTES),
  RESPONSE_CACHE_MAX_VALUE_BYTES: positiveInt(64 * 1024 * 1024).default(DEFAULT_RESPONSE_CACHE_MAX_VALUE_BYTES),
  PERSONAL_DATA_SCOPES: names.default([...DEFAULT_PERSONAL_DATA_SCOPES]),
  // Operations as first-class: trusted documents per client, safelisting, shared automatic persisted queries.
  TRUSTED_DOCUMENTS: z.string().min(1).optional(),
  TRUSTED_DOCUMENTS_POLL_MS: z.coerce.number().int().min(0).max(3_600_000).default(DEFAULT_TRUSTED_DOCUMENTS_POLL_MS),
  TRUSTED_DOCUMENTS_MAX_DOCUMENTS: positiveInt(1_000_000).default(DEFAULT_TRUSTED_DOCUMENTS_MAX_DOCUMENTS),
  TRUSTED_DOCUMENTS_MAX_DOCUMENT_BYTES: positiveInt(16 * 1024 * 1024).default(DEFAULT_TRUSTED_DOCUMENTS_MAX_DOCUMENT_BYTES),
  OPERATIONS_POLICY_FILE: z.string().min(1).default(DEFAULT_OPERATIONS_POLICY_FILE),
  // REST views of the graph (README "REST views and OpenAPI"): one YAML file of routes per data product.
  REST_ROUTES_DIR: z.string().min(1).default(DEFAULT_REST_ROUTES_DIR),
  APQ: bool.default(true),
  APQ_TTL_S: positiveInt(30 * 86_400).default(DEFAULT_APQ_TTL_S),
  APQ_MEMORY_MAX_BYTES: positiveInt(4 * 1024 * 1024 * 1024).default(DEFAULT_APQ_MEMORY_MAX_BYTES),
  APQ_MAX_DOCUMENT_BYTES: positiveInt(16 * 1024 * 1024).default(DEFAULT_APQ_MAX_DOCUMENT_BYTES),
  // Audit trail of sensitive access (README "Audit trail").
  AUDIT_LEVEL: z.enum(CLASSIFICATION_LEVELS).default(DEFAULT_AUDIT_LEVEL),
  AUDIT_DATABASE_URL: z.string().refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), 'expected postgres://user@host:port/database').optional(),
  AUDIT_DATA_DIR: z.string().min(1).optional(),
  AUDIT_SCHEMA: z.string().regex(AUDIT_SCHEMA_PATTERN, 'lower-case letters, digits and _, starting with a letter or _ (at most 41)').default(DEFAULT_AUDIT_SCHEMA),
  AUDIT_QUEUE_MAX: positiveInt(1_000_000).default(DEFAULT_AUDIT_QUEUE_MAX),
  AUDIT_FLUSH_MS: positiveInt(60_000).default(DEFAULT_AUDIT_FLUSH_MS),
  AUDIT_FAIL_MODE: z.enum(['closed', 'open']).default('closed'),
  AUDIT_RETENTION_DAYS: positiveInt(36_500).default(DEFAULT_AUDIT_RETENTION_DAYS),
  AUDIT_PURGE_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(DEFAULT_AUDIT_PURGE_INTERVAL_MS),
  // Event streams and federated subscriptions (README "Event streams and subscriptions").
  NATS_URL: NATS_URL_SCHEMA.optional(),
  EVENTS_NAMESPACE: EVENTS_NAMESPACE_SCHEMA,
  SUBSCRIPTIONS_MAX_PER_PRINCIPAL: positiveInt(10_000).default(DEFAULT_SUBSCRIPTIONS_MAX_PER_PRINCIPAL),
  SUBSCRIPTIONS_MAX_TOTAL: positiveInt(1_000_000).default(DEFAULT_SUBSCRIPTIONS_MAX_TOTAL),
  SUBSCRIPTION_BUFFER_EVENTS: positiveInt(100_000).default(DEFAULT_SUBSCRIPTION_BUFFER_EVENTS),
  SUBSCRIPTION_STALL_MS: positiveInt(3_600_000).default(DEFAULT_SUBSCRIPTION_STALL_MS),
  ...TRACING_ENV,
  // Personal data: the secret behind pseudonymized values, and its id (see lib/classification/pseudonym.ts).
  PSEUDONYM_KEY: z
    .string()
    .transform((value, ctx) => {
      const reading = parsePseudonymKey(value);
      if (reading.ok) return reading.key;
      ctx.addIssue({ code: 'custom', message: reading.problem });
      return z.NEVER;
    })
    .optional(),
  PSEUDONYM_KEY_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'letters, digits, _ . - (at most 32)').optional(),
});

/** Every environment variable the gateway reads (the README documents each). */
export const CONFIG_KEYS = Object.keys(envSchema.shape) as readonly string[];

/** The gateway's whole configuration, parsed once at boot and handed out read-only. */
export interface GatewayConfig {
  /** The event bus subscriptions read from (NATS JetStream with NATS_URL, else in-process) and the subscriptions' limits. */
  readonly events: EventsConfig & {
    /** Open subscriptions one principal may hold on one replica; more are refused with RATE_LIMITED. */
    readonly maxPerPrincipal: number;
    /** Open subscriptions on one replica, all principals together. */
    readonly maxTotal: number;
    /** Events one subscriber may have waiting (received, not yet written); when full, its reading of the bus pauses. */
    readonly bufferEvents: number;
    /** A subscriber whose full buffer its connection has not taken from for this long is cut (SLOW_CONSUMER), ms. */
    readonly stallMs: number;
  };
  readonly mode: 'development' | 'production';
  readonly port: number;
  readonly host: string;
  /**
   * The operators' listener (/metrics, /healthz, /readyz), apart from the public port; undefined:
   * none. Default: 127.0.0.1:9090 in production, none in development.
   */
  readonly admin: { readonly host: string; readonly port: number } | undefined;
  /** A file path or an http(s) URL. */
  readonly supergraph: string;
  /** Between checks of the supergraph for a new version; 0: never reload. */
  readonly supergraphPollMs: number;
  readonly subgraphUrls: Readonly<Record<string, string>>;
  readonly subgraphTimeoutMs: number;
  /** How subgraph calls are made (gateway/subgraph/). */
  readonly subgraphCalls: {
    /** Largest response body accepted from a subgraph, in bytes; past it SUBGRAPH_ERROR. */
    readonly maxResponseBytes: number;
    /** Identical query calls in flight share one (same subgraph, document, variables, forwarded identity); repeated entity representations are sent once. */
    readonly dedup: boolean;
    /** The entity fetches one request starts together to one subgraph travel in one call. */
    readonly batch: boolean;
  };
  readonly maxBodyBytes: number;
  readonly shutdownGraceMs: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly auth: {
    /** External issuers trusted for bearer tokens. */
    readonly issuers: readonly IssuerConfig[];
    /** The built-in development issuer is trusted: development mode and no external issuer. */
    readonly trustDevIssuer: boolean;
    /** A request without a token is refused with 401. Default: on in production. */
    readonly required: boolean;
    readonly clockToleranceS: number;
    readonly jwksCooldownMs: number;
    readonly maxTokenBytes: number;
  };
  readonly authorization: {
    readonly mode: 'filter' | 'reject';
    readonly policiesFile: string;
    /** Default: on in development, off in production. */
    readonly anonymousIntrospection: boolean;
    /**
     * What introspection shows: `granted`, the schema filtered to what the caller may read (per
     * grant set); `full`, the whole API schema with each rule in the descriptions. Default: full.
     */
    readonly introspectionView: 'granted' | 'full';
  };
  /** Signs the identity forwarded to subgraphs; undefined: the development key (development mode only). */
  readonly internalSigningKey: KeyObject | undefined;
  readonly redis: { readonly url: string | undefined; readonly keyPrefix: string; readonly commandTimeoutMs: number };
  readonly rateLimits: {
    readonly enabled: boolean;
    /** When the shared store fails: open (in-process limits) or closed (503). */
    readonly failMode: 'open' | 'closed';
    readonly file: string;
  };
  /** When set, GET /metrics needs `Authorization: Bearer <token>` (metrics name operations and fields). */
  readonly metricsToken: string | undefined;
  /**
   * Whether the public port serves /metrics: with METRICS_TOKEN, or in development without an
   * admin listener. Production without a token serves metrics on the admin listener only.
   */
  readonly publicMetrics: boolean;
  /** What a browser gets at GET /graphql: GraphiQL (bundled, offline), Apollo's Sandbox (CDN), or nothing. */
  readonly sandbox: 'graphiql' | 'apollo' | 'off';
  /** Browser apps on these exact origins may call the API. */
  readonly cors: { readonly origins: readonly string[]; readonly maxAgeS: number };
  readonly usage: {
    /** Record per-field usage (the owner views read it). */
    readonly enabled: boolean;
    readonly retentionMs: number;
    readonly flushIntervalMs: number;
    /** Distinct client name + version pairs recorded per hour (per replica); the rest count as `other`. */
    readonly maxClientsPerHour: number;
    /** Distinct operations (name + document hash) recorded per hour and data product (per replica); the rest count as `~other`. */
    readonly maxOperationsPerHour: number;
    /**
     * Closed hours rolled up into PostgreSQL (USAGE_DATABASE_URL), where they survive a Redis
     * restart; undefined: the history is the hot store's (Redis, or the process) alone.
     */
    readonly history: { readonly url: string; readonly schema: string; readonly rollupIntervalMs: number; readonly rollupDelayMs: number } | undefined;
  };
  /** The audit trail of sensitive access: where it is kept, what it records, what happens when it cannot. */
  readonly audit: {
    readonly level: ClassificationLevel;
    /** PostgreSQL (AUDIT_DATABASE_URL), else embedded PGlite on disk (AUDIT_DATA_DIR) or in memory (development only). */
    readonly store: { readonly kind: 'postgres'; readonly url: string } | { readonly kind: 'embedded'; readonly dataDir: string | undefined };
    readonly schema: string;
    readonly queueMax: number;
    readonly flushIntervalMs: number;
    /** closed: audited fields are refused while a record cannot be kept; open: served, and the gap is counted and recorded. */
    readonly failMode: 'closed' | 'open';
    readonly retentionMs: number;
    /** Between purges of records past retention; 0: never (purge with `npm run audit -- purge`). */
    readonly purgeIntervalMs: number;
  };
  /** OpenTelemetry traces (the standard OTEL_* variables), and whether a client's trace context is continued. */
  readonly tracing: TracingConfig & { readonly traceParent: 'trust' | 'ignore' };
  /** Work done once for several callers (gateway/execution/). */
  readonly execution: ExecutionConfig;
  /** Which documents each client may send, and where trusted and automatic persisted documents come from (gateway/documents/). */
  readonly documents: DocumentsConfig;
  /** REST views: the directory of route files (`<product>.yaml`); a missing directory declares none. */
  readonly rest: { readonly routesDir: string };
  readonly pseudonyms: {
    /** HMAC-SHA256 key of pseudonymized values; the public development key when `development` (development mode only). */
    readonly key: Buffer;
    /** Named in responses with pseudonyms (`extensions.pseudonymKeyId`): PSEUDONYM_KEY_ID, else derived from the key. */
    readonly keyId: string;
    readonly development: boolean;
  };
}

export interface DocumentsConfig {
  /** The trusted documents' manifests: a directory (`<client>/<version>.json`) or an http(s) URL (one JSON bundle); undefined: none. */
  readonly source: string | undefined;
  /** Between checks of the source for new manifests, in ms; 0: never reload. */
  readonly pollMs: number;
  /** Documents of every manifest together; more refuses the whole set. */
  readonly maxDocuments: number;
  /** Bytes of one document; a larger one refuses its manifest. */
  readonly maxDocumentBytes: number;
  /** policies/operations.yaml: per client id, `trusted-only` or `open`, and the default of each mode. */
  readonly policyFile: string;
  /** Automatic persisted queries (Apollo's protocol), shared through Redis with REDIS_URL; undefined: off (nothing is registered, only trusted documents answer by hash). */
  readonly apq:
    | {
        /** How long a registration is kept, in seconds. */
        readonly ttlS: number;
        /** Budget of the in-process store (in front of Redis with REDIS_URL), bytes of documents. */
        readonly memoryMaxBytes: number;
        /** A larger document is answered but not registered. */
        readonly maxDocumentBytes: number;
      }
    | undefined;
}

export interface ExecutionConfig {
  /** Identical queries in flight at once, of callers with equal grants, execute once. Default: on. */
  readonly inboundDedup: boolean;
  /** Undefined: no response cache (the default). */
  readonly responseCache:
    | {
        /** Data products that opted in: an operation touching any other is never cached. */
        readonly products: ReadonlySet<string>;
        /** Budget of the in-memory store (bytes of values); Redis, when REDIS_URL is set, bounds itself by TTLs. */
        readonly maxBytes: number;
        /** A larger serialized answer is not cached. */
        readonly maxValueBytes: number;
      }
    | undefined;
  /** Scopes guarding personal data: an operation reading such a field is shared and cached only within one subject. */
  readonly personalDataScopes: ReadonlySet<string>;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const FLAG_TO_ENV = { supergraph: 'SUPERGRAPH', port: 'PORT', host: 'HOST' } as const;
/** Never echoed in a configuration error: keys, tokens, and URLs that may hold a password. */
const SECRET_KEYS: ReadonlySet<string> = new Set(['NATS_URL', 'INTERNAL_SIGNING_KEY', 'METRICS_TOKEN', 'REDIS_URL', 'PSEUDONYM_KEY', 'AUDIT_DATABASE_URL', 'USAGE_DATABASE_URL', ...TRACING_SECRET_KEYS]);

/**
 * Reads the environment and command-line flags (flags win), validates everything, and throws a
 * ConfigError naming every bad key. Nothing else in the gateway reads process.env.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): GatewayConfig {
  let flags: Record<string, string | undefined>;
  try {
    flags = parseArgs({
      args: [...argv],
      options: { supergraph: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new ConfigError(`Invalid command line: ${(error as Error).message}`);
  }
  const reading = readEnvironment(envSchema, env, {
    overrides: Object.fromEntries(Object.entries(FLAG_TO_ENV).map(([flag, key]) => [key, flags[flag]])),
    flagOf: (key) => Object.entries(FLAG_TO_ENV).find(([, envKey]) => envKey === key)?.[0],
    secrets: SECRET_KEYS,
  });
  if (!reading.ok) throw new ConfigError(`Invalid configuration:\n  ${reading.problems.join('\n  ')}`);
  const e = reading.values;
  const mode = e.NODE_ENV === 'production' ? 'production' : 'development';
  const issuers = e.OIDC_ISSUERS ?? [];
  const required = e.AUTH_REQUIRED ?? mode === 'production';
  const trustDevIssuer = mode === 'development' && issuers.length === 0;
  const problems: string[] = [];
  if (mode === 'production' && !e.INTERNAL_SIGNING_KEY) problems.push('INTERNAL_SIGNING_KEY: required in production (the development key is public)');
  if (mode === 'production' && !e.PSEUDONYM_KEY) problems.push('PSEUDONYM_KEY: required in production (the development key is public): at least 32 random bytes, hex or base64 (openssl rand -base64 32)');
  if (required && issuers.length === 0 && !trustDevIssuer) problems.push('OIDC_ISSUERS: AUTH_REQUIRED is on, so at least one trusted issuer is needed');
  if (mode === 'development' && !isLoopback(e.HOST)) {
    problems.push(developmentOnNetwork('HOST', e.HOST, 'OIDC_ISSUERS (your identity provider) and INTERNAL_SIGNING_KEY (npm run -s keys)'));
  }
  if (e.AUDIT_DATABASE_URL && e.AUDIT_DATA_DIR) problems.push('AUDIT_DATA_DIR: set AUDIT_DATABASE_URL or AUDIT_DATA_DIR, not both');
  // An audit trail that dies with the process proves nothing: production keeps it on disk at least.
  if (mode === 'production' && !e.AUDIT_DATABASE_URL && !e.AUDIT_DATA_DIR) {
    problems.push('AUDIT_DATABASE_URL: required in production (or AUDIT_DATA_DIR for an embedded store on disk); the in-memory audit store is for development');
  }
  const adminPort = e.ADMIN_PORT ?? (mode === 'production' ? DEFAULT_ADMIN_PORT : 'off');
  const admin = adminPort === 'off' ? undefined : Object.freeze({ host: e.ADMIN_HOST, port: adminPort });
  if (e.RESPONSE_CACHE && e.RESPONSE_CACHE_PRODUCTS.length === 0) problems.push('RESPONSE_CACHE_PRODUCTS: RESPONSE_CACHE is on, so name the data products that opt in (customer,finance,...)');
  if (e.RESPONSE_CACHE_MAX_VALUE_BYTES > e.RESPONSE_CACHE_MAX_BYTES) problems.push('RESPONSE_CACHE_MAX_VALUE_BYTES: larger than RESPONSE_CACHE_MAX_BYTES, the whole store');
  if (e.APQ_MAX_DOCUMENT_BYTES > e.APQ_MEMORY_MAX_BYTES) problems.push('APQ_MAX_DOCUMENT_BYTES: larger than APQ_MEMORY_MAX_BYTES, the whole store');
  if (e.TRUSTED_DOCUMENTS !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(e.TRUSTED_DOCUMENTS) && !/^https?:\/\//i.test(e.TRUSTED_DOCUMENTS)) {
    problems.push(`TRUSTED_DOCUMENTS: a directory or an http(s) URL (got "${e.TRUSTED_DOCUMENTS}")`);
  }
  if (problems.length) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  return Object.freeze({
    mode,
    port: e.PORT,
    host: e.HOST,
    admin,
    supergraph: e.SUPERGRAPH,
    supergraphPollMs: e.SUPERGRAPH_POLL_MS,
    subgraphUrls: Object.freeze(e.SUBGRAPH_URLS),
    subgraphTimeoutMs: e.SUBGRAPH_TIMEOUT_MS,
    subgraphCalls: Object.freeze({ maxResponseBytes: e.SUBGRAPH_MAX_RESPONSE_BYTES, dedup: e.SUBGRAPH_DEDUP, batch: e.SUBGRAPH_BATCH }),
    maxBodyBytes: e.MAX_BODY_BYTES,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    logLevel: e.LOG_LEVEL,
    auth: Object.freeze({
      issuers,
      trustDevIssuer,
      required,
      clockToleranceS: e.CLOCK_TOLERANCE_S,
      jwksCooldownMs: e.JWKS_COOLDOWN_MS,
      maxTokenBytes: e.MAX_TOKEN_BYTES,
    }),
    authorization: Object.freeze({
      mode: e.AUTHZ_MODE,
      policiesFile: e.POLICIES_FILE,
      anonymousIntrospection: e.ANONYMOUS_INTROSPECTION ?? mode === 'development',
      introspectionView: e.INTROSPECTION_VIEW,
    }),
    internalSigningKey: e.INTERNAL_SIGNING_KEY,
    redis: Object.freeze({ url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS }),
    rateLimits: Object.freeze({ enabled: e.RATE_LIMITING, failMode: e.RATE_LIMIT_FAIL_MODE, file: e.RATE_LIMITS_FILE }),
    sandbox: e.SANDBOX,
    cors: Object.freeze({ origins: Object.freeze([...e.CORS_ORIGINS]), maxAgeS: e.CORS_MAX_AGE_S }),
    metricsToken: e.METRICS_TOKEN,
    publicMetrics: e.METRICS_TOKEN !== undefined || (mode === 'development' && admin === undefined),
    usage: Object.freeze({
      enabled: e.USAGE_RECORDING,
      retentionMs: e.USAGE_RETENTION_DAYS * 86_400_000,
      flushIntervalMs: e.USAGE_FLUSH_MS,
      maxClientsPerHour: e.USAGE_MAX_CLIENTS,
      maxOperationsPerHour: e.USAGE_MAX_OPERATIONS,
      history: e.USAGE_DATABASE_URL
        ? Object.freeze({ url: e.USAGE_DATABASE_URL, schema: e.USAGE_SCHEMA, rollupIntervalMs: e.USAGE_ROLLUP_INTERVAL_MS, rollupDelayMs: e.USAGE_ROLLUP_DELAY_MS })
        : undefined,
    }),
    tracing: Object.freeze({ ...tracingConfigOf(e), traceParent: e.TRACE_PARENT }),
    execution: Object.freeze({
      inboundDedup: e.INBOUND_DEDUP,
      responseCache: e.RESPONSE_CACHE
        ? Object.freeze({ products: new Set(e.RESPONSE_CACHE_PRODUCTS), maxBytes: e.RESPONSE_CACHE_MAX_BYTES, maxValueBytes: e.RESPONSE_CACHE_MAX_VALUE_BYTES })
        : undefined,
      personalDataScopes: new Set(e.PERSONAL_DATA_SCOPES),
    }),
    documents: Object.freeze({
      source: e.TRUSTED_DOCUMENTS,
      pollMs: e.TRUSTED_DOCUMENTS_POLL_MS,
      maxDocuments: e.TRUSTED_DOCUMENTS_MAX_DOCUMENTS,
      maxDocumentBytes: e.TRUSTED_DOCUMENTS_MAX_DOCUMENT_BYTES,
      policyFile: e.OPERATIONS_POLICY_FILE,
      apq: e.APQ ? Object.freeze({ ttlS: e.APQ_TTL_S, memoryMaxBytes: e.APQ_MEMORY_MAX_BYTES, maxDocumentBytes: e.APQ_MAX_DOCUMENT_BYTES }) : undefined,
    }),
    rest: Object.freeze({ routesDir: e.REST_ROUTES_DIR }),
    events: Object.freeze({
      natsUrl: e.NATS_URL,
      namespace: e.EVENTS_NAMESPACE,
      maxPerPrincipal: e.SUBSCRIPTIONS_MAX_PER_PRINCIPAL,
      maxTotal: e.SUBSCRIPTIONS_MAX_TOTAL,
      bufferEvents: e.SUBSCRIPTION_BUFFER_EVENTS,
      stallMs: e.SUBSCRIPTION_STALL_MS,
    }),
    pseudonyms: Object.freeze({
      key: e.PSEUDONYM_KEY ?? DEVELOPMENT_PSEUDONYM_KEY,
      keyId: e.PSEUDONYM_KEY_ID ?? (e.PSEUDONYM_KEY ? keyIdOf(e.PSEUDONYM_KEY) : 'development'),
      development: !e.PSEUDONYM_KEY,
    }),
    audit: Object.freeze({
      level: e.AUDIT_LEVEL,
      store: Object.freeze(e.AUDIT_DATABASE_URL ? { kind: 'postgres' as const, url: e.AUDIT_DATABASE_URL } : { kind: 'embedded' as const, dataDir: e.AUDIT_DATA_DIR }),
      schema: e.AUDIT_SCHEMA,
      queueMax: e.AUDIT_QUEUE_MAX,
      flushIntervalMs: e.AUDIT_FLUSH_MS,
      failMode: e.AUDIT_FAIL_MODE,
      retentionMs: e.AUDIT_RETENTION_DAYS * 86_400_000,
      purgeIntervalMs: e.AUDIT_PURGE_INTERVAL_MS,
    }),
  });
}
