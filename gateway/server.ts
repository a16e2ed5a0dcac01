import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { graphqlHandler, HttpError, sendJson } from '../lib/http.js';
import { listenHttp } from './http-listener.js';
import { devKeyPair } from '../lib/dev-keys.js';
import { createIdentitySigner, subgraphAudience } from '../lib/internal-token.js';
import type { Logger } from '../lib/logger.js';
import { loadAccessPolicies } from '../lib/policies.js';
import { ANONYMOUS, type Principal } from '../lib/principal.js';
import { createAuthenticator } from './auth/authenticate.js';
import { authorizationOf } from './auth/credentials.js';
import { createAuthorizedGateway } from './authz/gateway.js';
import { ConfigError, type GatewayConfig } from './config.js';
import { isGatewayContext, type GatewayContext } from './context.js';
import { createErrorFormatter } from './errors.js';
import { hideSuggestionsPlugin } from './plugins/hide-suggestions.js';
import { requestLogPlugin } from './plugins/request-log.js';
import { demandControlPlugin } from './plugins/demand-control.js';
import { loadRateLimitPolicy } from './limits/policy.js';
import { createRateLimitStore } from './limits/create-store.js';
import { indexCost } from './operation/cost.js';
import { parse } from 'graphql';
import { LocalGraphQLDataSource } from '@apollo/gateway';
import { createPlatformSchema, PLATFORM_SUBGRAPH } from '../subgraphs/platform/index.js';
import { createMetrics, exposition } from './metrics.js';
import { metricsPlugin } from './plugins/metrics.js';
import { usagePlugin } from './plugins/usage.js';
import { buildSchemaCatalog } from './usage/catalog.js';
import { createUsage } from './usage/create.js';
import { usagePageHandler } from './usage-page/index.js';
import { indexDeprecations, type DeprecationIndex } from './deprecation/index.js';
import { deprecationsDocument } from './deprecation/document.js';
import { deprecationPlugin } from './plugins/deprecation.js';
import { CATALOG_REFRESH_MS, createCatalog } from './catalog/index.js';
import { sandboxHandler } from './sandbox/index.js';
import { SubgraphSource } from './subgraph-source.js';
import { loadSupergraph } from './supergraph.js';

// @apollo/gateway 2.14 otherwise reports telemetry to Apollo and probes cloud metadata endpoints at
// start. A self-hosted gateway never phones home.
process.env.APOLLO_TELEMETRY_DISABLED = 'true';

export type Lifecycle =
  | { readonly phase: 'starting' }
  | { readonly phase: 'ready'; readonly since: number }
  | { readonly phase: 'draining'; readonly since: number }
  | { readonly phase: 'stopped' };

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  /** The admin listener's base URL (metrics, health), when there is one. */
  readonly adminUrl: string | undefined;
  lifecycle(): Lifecycle;
  /** Flushes recorded usage to the store now (tests and shutdown; the recorder also flushes on its own schedule). */
  flushUsage(): Promise<void>;
  /** Stops taking requests, lets in-flight ones finish (up to the grace period), then closes. */
  stop(): Promise<void>;
}

/** How long a readiness answer is reused, so probes never turn into load on the subgraphs. */
export const READINESS_CACHE_MS = 1_000;
/** On shutdown, how long recorded usage may take to reach the store. */
const USAGE_FLUSH_DEADLINE_MS = 5_000;
/** Deadline for OIDC discovery and JWKS fetches. */
const IDENTITY_PROVIDER_TIMEOUT_MS = 5_000;

export interface GatewayOptions {
  /** The clock for time-dependent rules (deprecation sunsets, catalogue freshness, identity-provider failure cooldowns), ms since the epoch. @default Date.now */
  now?: () => number;
}

export async function startGateway(config: GatewayConfig, logger: Logger, options: GatewayOptions = {}): Promise<RunningGateway> {
  const now = options.now ?? Date.now;
  let state: Lifecycle = { phase: 'starting' };
  const supergraph = await loadSupergraph(config.supergraph);
  // Parsed once: cost, deprecations and field ownership all read the same document.
  const supergraphDocument = parse(supergraph.sdl);
  const known = new Set(supergraph.subgraphs.map((s) => s.name));
  const unknown = Object.keys(config.subgraphUrls).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new ConfigError(`SUBGRAPH_URLS names subgraphs not in the supergraph: ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
  }

  const policies = loadAccessPolicies(config.authorization.policiesFile);
  const authenticate = createAuthenticator({
    issuers: config.auth.issuers,
    devIssuerKey: config.auth.trustDevIssuer ? devKeyPair('dev-issuer').publicKey : undefined,
    required: config.auth.required,
    clockToleranceS: config.auth.clockToleranceS,
    jwksCooldownMs: config.auth.jwksCooldownMs,
    fetchTimeoutMs: IDENTITY_PROVIDER_TIMEOUT_MS,
    maxTokenBytes: config.auth.maxTokenBytes,
    policies,
    now,
  });
  const internalKey = config.internalSigningKey ? { privateKey: config.internalSigningKey, kid: 'gateway' } : devKeyPair('internal-identity');
  const signIdentity = createIdentitySigner(internalKey.privateKey, internalKey.kid);
  const identity = (context: unknown, subgraph: string): Promise<string> =>
    // The gateway's own calls (health, catalogue) go as anonymous; the signer reuses each subgraph's token.
    isGatewayContext(context) ? context.identityToken(subgraph) : signIdentity(ANONYMOUS, subgraphAudience(subgraph));
  const canIntrospect = (principal: Principal) => principal.kind === 'authenticated' || config.authorization.anonymousIntrospection;

  const rateLimitPolicy = loadRateLimitPolicy(config.rateLimits.file, new Set(policies.roles.keys()));
  const metrics = createMetrics();
  const store = createRateLimitStore(config, logger, (mode) => metrics.rateLimitStoreFallbacks.inc({ mode }));
  const usage = createUsage(config, logger, metrics);
  const usagePage = usagePageHandler();
  // The sandbox preloads every product's example operations; they come with the catalogue, so the
  // page is rebuilt when the catalogue is refreshed (at start, then every CATALOG_REFRESH_MS).
  let sandbox: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined =
    config.sandbox === 'off' ? undefined : sandboxHandler({ examples: [], apolloSandbox: config.sandbox === 'apollo' });

  const sources = new Map<string, SubgraphSource>();
  const catalog = createCatalog({ sources, identity: (subgraph) => identity(undefined, subgraph), health: () => subgraphHealth(), logger, now });
  const catalogReader = {
    list: async () =>
      (await catalog.list()).map((entry) => ({
        ...entry.published.descriptor.metadata,
        ...entry.published.descriptor.spec,
        name: entry.name,
        status: entry.status,
        quality: entry.published.quality ?? null,
      })),
  };
  const { gateway, features, facts } = createAuthorizedGateway(
    supergraph.sdl,
    {
      logger,
      // The query plan names subgraphs and their operations: never shown to clients.
      __exposeQueryPlanExperimental: false,
      buildService: ({ name, url }) => {
        // The owners' usage API: a subgraph of the supergraph that this gateway answers in-process.
        if (name === PLATFORM_SUBGRAPH) return new LocalGraphQLDataSource(createPlatformSchema(usage.reader, catalogReader, policies));
        const source = new SubgraphSource({ name, url: config.subgraphUrls[name] ?? url ?? '', timeoutMs: config.subgraphTimeoutMs, identity, metrics });
        sources.set(name, source);
        return source;
      },
    },
    {
      policies,
      mode: config.authorization.mode,
      allowAnonymousIntrospection: config.authorization.anonymousIntrospection,
      principalOf: (context) => (isGatewayContext(context) ? context.principal : ANONYMOUS),
      cost: indexCost(supergraphDocument),
      limits: rateLimitPolicy.operation,
      onDenied: (coordinate) => metrics.authorizationDenials.inc({ coordinate }),
    },
  );
  let deprecations: DeprecationIndex | undefined;
  gateway.onSchemaLoadOrUpdate(({ apiSchema }) => {
    usage.setCatalog(buildSchemaCatalog(supergraphDocument, apiSchema, [PLATFORM_SUBGRAPH]));
    deprecations = indexDeprecations(supergraphDocument, apiSchema);
  });

  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    logger,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // Shutdown is ours (drain, then stop): Apollo's own handler would re-raise the signal mid-drain.
    stopOnTerminationSignals: false,
    introspection: true,
    allowBatchedHttpRequests: true,
    parseOptions: { maxTokens: rateLimitPolicy.operation.maxTokens },
    formatError: createErrorFormatter(logger),
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      requestLogPlugin(),
      hideSuggestionsPlugin((context) => canIntrospect(context.principal)),
      demandControlPlugin({ policy: rateLimitPolicy, store, facts }),
      deprecationPlugin({ deprecations: () => deprecations, facts, now, link: '/deprecations' }),
      metricsPlugin(metrics),
      ...(usage.recorder
        ? [usagePlugin({ recorder: usage.recorder, facts, maxClientsPerHour: config.usage.maxClientsPerHour, onClientOverflow: (reason) => metrics.usageClientOverflow.inc({ reason }) })]
        : []),
    ],
  });
  await apollo.start();
  // Budgets shared in Redis are exact only once Redis answers: wait for it (bounded) before taking
  // requests, rather than letting the first ones fall back to per-process limits.
  await store?.ready().catch((error: unknown) => logger.warn({ err: error, failMode: config.rateLimits.failMode }, 'rate-limit store not ready at start; its fail mode applies until it connects'));

  const handleGraphQL = graphqlHandler<GatewayContext>({
    server: apollo,
    bodyLimitBytes: config.maxBodyBytes,
    maxBatch: rateLimitPolicy.operation.maxBatch,
    maxNesting: rateLimitPolicy.operation.maxNesting,
    context: async (req, res) => {
      const requestId = String(res.getHeader('x-request-id'));
      const principal = principals.get(req) ?? ANONYMOUS;
      const tokens = new Map<string, Promise<string>>();
      return {
        requestId,
        logger: logger.child({ requestId }),
        principal,
        clientAddress: req.socket.remoteAddress ?? 'unknown',
        batch: { cost: 0 },
        identityToken: (subgraph) => {
          let token = tokens.get(subgraph);
          if (!token) tokens.set(subgraph, (token = signIdentity(principal, subgraphAudience(subgraph))));
          return token;
        },
      };
    },
  });

  let readiness: { at: number; value: Promise<Record<string, boolean>> } | undefined;
  function subgraphHealth(): Promise<Record<string, boolean>> {
    const now = Date.now();
    if (!readiness || now - readiness.at > READINESS_CACHE_MS) {
      const checks = [...sources].map(async ([name, source]) => [name, await source.isReachable()] as const);
      readiness = { at: now, value: Promise.all(checks).then(Object.fromEntries) };
    }
    return readiness.value;
  }

  const principals = new WeakMap<IncomingMessage, Principal>();

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (sandbox?.(req, res)) return;
    if (path === '/graphql') {
      if (state.phase !== 'ready') throw new HttpError('SERVICE_UNAVAILABLE', 'The gateway is shutting down', { 'retry-after': '1' });
      try {
        principals.set(req, await authenticate(authorizationOf(req)));
      } catch (error) {
        if (error instanceof HttpError) metrics.authenticationFailures.inc({ reason: error.headers['www-authenticate']?.includes('invalid_token') ? 'invalid_token' : error.code.toLowerCase() });
        throw error;
      }
      return handleGraphQL(req, res);
    }
    if (path === '/metrics' && config.publicMetrics) return serveMetrics(req, res, { publicPort: true });
    if (path === '/deprecations') return sendJson(res, 200, JSON.stringify({ deprecations: deprecationsDocument(deprecations) }));
    if (usagePage(req, res)) return;
    if (await serveHealth(path, res)) return;
    throw new HttpError('NOT_FOUND', 'Not found');
  }

  async function serveMetrics(req: IncomingMessage, res: ServerResponse, options: { publicPort: boolean }): Promise<void> {
    if (config.metricsToken && !sameSecret(req.headers.authorization ?? '', `Bearer ${config.metricsToken}`)) {
      throw new HttpError('UNAUTHENTICATED', 'Metrics need the metrics token', { 'www-authenticate': 'Bearer realm="metrics"' });
    }
    return sendJson(res, 200, await exposition(metrics.registry, options), {}, metrics.registry.contentType);
  }

  async function serveHealth(path: string | undefined, res: ServerResponse): Promise<boolean> {
    if (path === '/healthz') {
      sendJson(res, 200, JSON.stringify({ status: 'alive', phase: state.phase }));
      return true;
    }
    if (path !== '/readyz') return false;
    const subgraphs = state.phase === 'ready' ? await subgraphHealth() : {};
    const ready = state.phase === 'ready' && Object.values(subgraphs).every(Boolean);
    const body = { status: ready ? 'ready' : 'unavailable', phase: state.phase, subgraphs: mapValues(subgraphs, (up) => (up ? 'up' : 'down')) };
    sendJson(res, ready ? 200 : 503, JSON.stringify(body));
    return true;
  }

  /** The operators' listener: metrics with versions, health and readiness; nothing a client calls. */
  async function adminRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === '/metrics') return serveMetrics(req, res, { publicPort: false });
    if (await serveHealth(path, res)) return;
    throw new HttpError('NOT_FOUND', 'Not found');
  }

  const http = await listenHttp({ host: config.host, port: config.port, logger, route, draining: () => state.phase === 'draining' });
  const admin = config.admin ? await listenHttp({ host: config.admin.host, port: config.admin.port, logger, route: adminRoute, draining: () => state.phase === 'draining' }) : undefined;
  const { url, port } = http;
  state = { phase: 'ready', since: Date.now() };
  let sandboxExamples = '[]';
  const refreshSandbox = () =>
    catalog.list().then(
      () => {
        const examples = catalog.examples();
        const key = JSON.stringify(examples);
        if (!sandbox || key === sandboxExamples) return;
        sandboxExamples = key;
        sandbox = sandboxHandler({ examples, apolloSandbox: config.sandbox === 'apollo' });
      },
      (error: unknown) => logger.warn({ err: error }, 'catalogue refresh failed'),
    );
  void refreshSandbox();
  const catalogTimer = setInterval(() => void refreshSandbox(), CATALOG_REFRESH_MS);
  catalogTimer.unref();
  logger.info(
    { url, adminUrl: admin?.url.replace(/\/graphql$/, ''), subgraphs: [...sources.keys()], authorization: features, mode: config.mode, devIssuer: config.auth.trustDevIssuer },
    'gateway ready',
  );

  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    adminUrl: admin?.url.replace(/\/graphql$/, ''),
    lifecycle: () => state,
    async flushUsage() {
      if (usage.recorder && !(await usage.recorder.flush())) throw new Error('usage flush failed');
    },
    stop() {
      stopping ??= (async () => {
        state = { phase: 'draining', since: Date.now() };
        clearInterval(catalogTimer);
        logger.info({ inFlight: http.inFlight() }, 'draining');
        await http.drain(config.shutdownGraceMs);
        // Probes and scrapes keep answering (readiness says draining) until the public port is done.
        await admin?.drain(0);
        await apollo.stop();
        // In-flight requests are done: what they recorded goes to the store before exit.
        await usage.close(USAGE_FLUSH_DEADLINE_MS);
        await store?.close();
        state = { phase: 'stopped' };
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}

/** Constant-time comparison, so the metrics token cannot be guessed byte by byte. */
function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function mapValues<T, U>(record: Record<string, T>, fn: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
}
