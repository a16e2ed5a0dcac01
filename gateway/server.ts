import type { IncomingMessage } from 'node:http';
import { HttpError, sendJson } from '../lib/http.js';
import type { Logger } from '../lib/logger.js';
import { devKeyPair } from '../lib/dev-keys.js';
import { loadAccessPolicies } from '../lib/policies.js';
import { createAuthenticator } from './auth/authenticate.js';
import { authorizationOf } from './auth/credentials.js';
import { createCatalog } from './catalog/index.js';
import { ConfigError, type GatewayConfig } from './config.js';
import { deprecationsDocument } from './deprecation/document.js';
import type { AuditGate } from '../lib/classification/model.js';
import { createEngine, DEPRECATIONS_PATH, type Engine } from './engine.js';
import { createExecutionSharing } from './execution/sharing.js';
import { listenHttp, type HttpListener } from '../lib/http-server.js';
import { createIdentity } from './identity.js';
import { createLimits } from './limits/limits.js';
import { createMetrics, exposition } from './metrics.js';
import { createPages } from './pages.js';
import { createReadiness } from './readiness.js';
import { createCors } from '../lib/cors.js';
import { json, requireBearer, router, type Handler } from '../lib/routes.js';
import { serverSpan } from '../lib/tracing/http.js';
import type { SubgraphSource } from './subgraph-source.js';
import { createServing, type ReloadResult } from './serving.js';
import { createSupergraphSource, loadSupergraph, type LoadedSupergraph } from './supergraph.js';
import { createUsage } from './usage/create.js';
import { createAuditTrail } from './audit/create.js';
import { createDocuments, type DocumentsReloadResult } from './documents/create.js';
import type { InvalidDocument } from './documents/check.js';
import { createRestViews, type RestViews } from './rest/create.js';
import { loadRestRoutes } from './rest/routes.js';
import { graphqlContractOf } from './catalog/contracts.js';
import type { SchemaCatalog } from './usage/catalog.js';
import type { EventBus } from '../lib/events/bus.js';
import { createEventBus } from '../lib/events/create.js';
import { createSubscriptionHub } from './subscriptions/hub.js';
import { createWebSocketEndpoint, DEFAULT_MAX_MESSAGE_BYTES } from './subscriptions/ws.js';
import { createSseHandler, wantsEventStream } from './subscriptions/sse.js';
import { expiryOf } from './subscriptions/credentials.js';

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
  /** Writes queued audit records to the audit store now; rejects when the store refuses them. */
  flushAudit(): Promise<void>;
  /** Purges audit records past retention now (the purge job also runs on its interval). */
  purgeAudit(): Promise<{ writers: number; rows: number } | undefined>;
  /** Flushes recorded usage to the store now (the recorder also flushes on its own schedule); rejects when the store refuses it. */
  flushUsage(): Promise<void>;
  /** Rolls closed usage hours up into the history now (USAGE_DATABASE_URL; the roll-up also runs every USAGE_ROLLUP_INTERVAL_MS); resolves with the (hour, product) snapshots added, rejects when a step failed (the next run resumes it). */
  rollUpUsage(): Promise<number>;
  /** Resolves once the shared stores (rate limits, usage) are connected; rejects when one is not within its connect timeout. */
  storesReady(): Promise<void>;
  /** Asks every data product for its descriptor now, and rebuilds the sandbox if their examples changed. */
  refreshCatalog(): Promise<void>;
  /** Checks the supergraph's source now and, if it changed, serves the new one (hot reload); never throws. */
  reloadSupergraph(): Promise<ReloadResult>;
  /** Resolves with the outcome of the next supergraph check (the watcher's or reloadSupergraph()). */
  nextSupergraphReload(): Promise<ReloadResult>;
  /** Reads the trusted documents' manifests now and, if they changed, serves them (the poller does it every TRUSTED_DOCUMENTS_POLL_MS); never throws. */
  reloadDocuments(): Promise<DocumentsReloadResult>;
  /** The trusted documents served: their source's fingerprint, how many, and those that do not validate against the supergraph served. */
  trustedDocuments(): { readonly fingerprint: string; readonly documents: number; readonly invalid: readonly InvalidDocument[] };
  /** The version (hash) of the supergraph being served. */
  supergraphHash(): string;
  /** The REST views: their routes as bound to the supergraph served, their OpenAPI document. */
  readonly rest: Pick<RestViews, 'routes' | 'openApi'>;
  /** Resolves once `count` callers wait on shared executions at the same time (INBOUND_DEDUP; tests hold a subgraph and wait for this). */
  whenExecutionCallers(count: number): Promise<void>;
  /** Resolves once at least `count` callers wait on identical calls to one subgraph at once (tests). */
  whenSubgraphCallers(subgraph: string, count: number): Promise<void>;
  /** Ends every subscription whose token has expired by the gateway's clock now (timers keyed to each token's `exp` do it too); resolves with how many. */
  expireSubscriptions(): number;
  /** Cuts every subscriber whose full buffer has gone untaken for SUBSCRIPTION_STALL_MS by the gateway's clock now (a timer does it too); resolves with how many. */
  cutStalledSubscriptions(): number;
  /** Open subscriptions on this replica. */
  subscriptions(): number;
  /** Resolves once at least `count` subscriptions are open on this replica and reading the bus. */
  whenSubscriptions(count: number): Promise<void>;
  /** Resolves once at most `count` subscriptions are open on this replica (their slots released). */
  whenSubscriptionsAtMost(count: number): Promise<void>;
  /** Stops taking requests, lets in-flight ones finish (up to the grace period), then closes. */
  stop(): Promise<void>;
}

/** On shutdown, how long recorded usage may take to reach the store. */
const USAGE_FLUSH_DEADLINE_MS = 5_000;
/** On shutdown, how long queued audit records may take to reach the audit store. */
const AUDIT_FLUSH_DEADLINE_MS = 5_000;
/** Deadline for OIDC discovery and JWKS fetches. */
const IDENTITY_PROVIDER_TIMEOUT_MS = 5_000;

export interface GatewayOptions {
  /** The one clock of time-dependent rules (sunsets, catalogue freshness, readiness, identity-provider cooldowns), ms since the epoch. @default Date.now */
  now?: () => number;
  /** Replaces the audit trail's gate for classified fields (see AuthorizationOptions.audit); by default the trail's writer is the gate. */
  audit?: AuditGate;
  /** The event bus subscriptions read (shared with in-process data products by `npm start` and tests); by default one from the configuration (NATS_URL), closed with the gateway. */
  bus?: EventBus;
}

/**
 * The gateway, assembled: configuration and files read and checked, each component built by its
 * own function, routes in tables, then listening. Stopping reverses it.
 */
export async function startGateway(config: GatewayConfig, logger: Logger, options: GatewayOptions = {}): Promise<RunningGateway> {
  const now = options.now ?? Date.now;
  let state: Lifecycle = { phase: 'starting' };

  // What it serves and who may read what.
  const supergraphSource = createSupergraphSource(config.supergraph);
  const supergraph = await loadSupergraph(config.supergraph, supergraphSource);
  checkSubgraphUrls(supergraph, config.subgraphUrls);
  const policies = loadAccessPolicies(config.authorization.policiesFile);
  // REST views: a file that does not read or declare well stops the start here (a schema mismatch only disables its route).
  const restRoutes = loadRestRoutes(config.rest.routesDir);

  // Components.
  const metrics = createMetrics();
  // Which operations each client may send, and the trusted documents: a manifest that cannot be read stops the start here.
  const documents = await createDocuments(config, logger, metrics, now);
  const identity = createIdentity(config);
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
  const limits = createLimits(config, new Set(policies.roles.keys()), logger, metrics, now);
  const usage = createUsage(config, logger, metrics, now);
  const audit = createAuditTrail(config, logger, metrics, now);
  /** The caller, authenticated as for every route; failures counted by reason. */
  const authenticateCounted = async (authorization: string | undefined) => {
    try {
      return await authenticate(authorization);
    } catch (error) {
      if (error instanceof HttpError) metrics.authenticationFailures.inc({ reason: error.reason ?? error.code.toLowerCase() });
      throw error;
    }
  };
  const principalOf = (req: IncomingMessage) => authenticateCounted(authorizationOf(req));
  // Declared before the first swap binds its routes; it runs operations on whichever engine is served then.
  const rest = createRestViews({
    routes: restRoutes,
    logger,
    ready: () => state.phase === 'ready',
    authenticate: principalOf,
    run: (work) => serving.run(work),
    anonymousDocument: config.authorization.anonymousIntrospection,
    issuers: config.auth.issuers.map((i) => i.issuer),
  });
  /** Which product serves which field of the supergraph served (the catalogue's GraphQL contracts). */
  let schemaCatalog: SchemaCatalog | undefined;
  const sources = new Map<string, SubgraphSource>();
  const readiness = createReadiness(sources, now);
  const catalog = createCatalog({
    sources,
    identity: (subgraph) => identity.forCall(undefined, subgraph),
    health: readiness,
    logger,
    now,
    cacheHitRate: (product) => sharing.hitRate(product),
    contracts: (product) => ({ graphql: graphqlContractOf(schemaCatalog, product), rest: rest.routesOf(product) }),
  });
  // Inbound deduplication and the response cache, whose time-to-live the catalogue's descriptors bound.
  const sharing = createExecutionSharing({ config, logger, metrics, now, freshnessMinutesOf: (product) => catalog.freshnessMinutes(product) });
  /** An engine for a supergraph, started: its query planner loaded, its caches built. */
  const prepare = async (next: LoadedSupergraph) => {
    checkSubgraphUrls(next, config.subgraphUrls);
    const engine = createEngine({ config, logger, supergraph: next, policies, limits, usage, audit, metrics, identity, sources: new Map(), catalog, sharing, documents, now, auditGate: options.audit });
    await engine.start();
    return engine;
  };
  const swapIn = (engine: Engine, served: LoadedSupergraph) => {
    // Readiness and the catalogue follow the subgraphs of the supergraph being served.
    sources.clear();
    for (const [name, source] of engine.sources) sources.set(name, source);
    schemaCatalog = engine.usageCatalog();
    usage.setCatalog(schemaCatalog!);
    // Trusted documents are checked against each supergraph served: what no longer validates is reported.
    documents.setSchema(engine.apiSchema()!);
    // So are the REST views' operations; a route that no longer validates answers 503 until fixed.
    rest.setSchema(engine.apiSchema()!, served.hash);
  };
  const initial = await prepare(supergraph);
  swapIn(initial, supergraph);
  const serving = createServing({
    source: supergraphSource,
    location: config.supergraph,
    pollMs: config.supergraphPollMs,
    initial: { engine: initial, supergraph },
    prepare,
    onSwap: swapIn,
    metrics,
    logger,
  });
  const pages = createPages(config, catalog, logger, [...policies.roles.keys()]);
  // Subscriptions: events from the bus, each resolved through the engine serving at that moment.
  const bus = options.bus ?? (await createEventBus(config.events, logger, 'data-product-gateway'));
  const hub = createSubscriptionHub({
    bus,
    engine: () => serving.current().engine,
    maxPerPrincipal: config.events.maxPerPrincipal,
    maxTotal: config.events.maxTotal,
    bufferEvents: config.events.bufferEvents,
    stallMs: config.events.stallMs,
    maxTokens: limits.policy.operation.maxTokens,
    logger,
    now,
  });
  const eventStream = createSseHandler({ hub, maxBodyBytes: config.maxBodyBytes });
  const webSockets = createWebSocketEndpoint({
    hub,
    authenticate: authenticateCounted,
    schema: () => serving.current().engine.apiSchema(),
    ready: () => state.phase === 'ready',
    maxMessageBytes: Math.min(config.maxBodyBytes, DEFAULT_MAX_MESSAGE_BYTES),
    logger,
  });

  // Routes.
  const graphql: Handler = async (req, res, scope) => {
    if (state.phase !== 'ready') throw new HttpError('SERVICE_UNAVAILABLE', 'The gateway is shutting down', { 'retry-after': '1' });
    const authorization = authorizationOf(req);
    const principal = await authenticateCounted(authorization);
    if (wantsEventStream(req)) {
      const header = (name: string) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value.join(', ') : value;
      };
      return eventStream(req, res, { ...scope, principal, clientAddress: req.socket.remoteAddress ?? 'unknown', header }, expiryOf(authorization));
    }
    return serving.handle(req, res, { ...scope, principal });
  };
  const serveMetrics = (publicPort: boolean): Handler =>
    requireBearer(config.metricsToken, 'metrics', async (_req, res) => sendJson(res, 200, await exposition(metrics.registry, { publicPort }), {}, metrics.registry.contentType));
  const health: Record<string, Handler> = {
    '/healthz': json(200, () => ({ status: 'alive', phase: state.phase })),
    '/readyz': async (_req, res) => {
      const subgraphs = state.phase === 'ready' ? await readiness() : {};
      const ready = state.phase === 'ready' && Object.values(subgraphs).every(Boolean);
      const body = {
        status: ready ? 'ready' : 'unavailable',
        phase: state.phase,
        supergraph: serving.current().supergraph.hash,
        subgraphs: Object.fromEntries(Object.entries(subgraphs).map(([name, up]) => [name, up ? 'up' : 'down'])),
      };
      sendJson(res, ready ? 200 : 503, JSON.stringify(body));
    },
  };
  const cors = createCors(config.cors);
  const apiRoutes = router(
    {
      // Traced (OTEL_*): a span per request, continuing the client's trace or not (TRACE_PARENT).
      '/graphql': serverSpan(graphql, { incoming: config.tracing.traceParent, route: '/graphql' }),
      [DEPRECATIONS_PATH]: json(200, () => ({ deprecations: deprecationsDocument(serving.current().engine.deprecations()) })),
      ...(config.publicMetrics ? { '/metrics': serveMetrics(true) } : {}),
      ...health,
      ...pages.routes,
    },
    pages.handle,
  );
  // Browser apps on allowed origins: CORS on every public answer, preflights answered here.
  const restRoute = serverSpan(rest.handle, { incoming: config.tracing.traceParent, route: '/api/*' });
  const publicRoutes: Handler = (req, res, scope) => (cors.handle(req, res) ? undefined : rest.owns(req) ? restRoute(req, res, scope) : apiRoutes(req, res, scope));
  // The operators' listener: metrics with versions, health and readiness; nothing a client calls.
  const adminRoutes = router({ '/metrics': serveMetrics(false), ...health });

  // Start: the engine is loaded (above), the shared stores connect, then the listeners open.
  await limits.start();
  const draining = () => state.phase === 'draining';
  const http = await listenHttp({ host: config.host, port: config.port, logger, route: publicRoutes, draining, upgrade: webSockets.upgrade });
  let admin: HttpListener | undefined;
  try {
    admin = config.admin ? await listenHttp({ host: config.admin.host, port: config.admin.port, logger, route: adminRoutes, draining }) : undefined;
  } catch (error) {
    await http.drain(0);
    throw error;
  }
  state = { phase: 'ready', since: now() };
  pages.start();
  serving.start();
  documents.start();
  const adminUrl = admin?.url.replace(/\/graphql$/, '');
  logger.info(
    { url: http.url, adminUrl, supergraph: supergraph.hash, subgraphs: [...sources.keys()], authorization: initial.features, mode: config.mode, devIssuer: config.auth.trustDevIssuer },
    'gateway ready',
  );

  let stopping: Promise<void> | undefined;
  return {
    url: http.url,
    port: http.port,
    adminUrl,
    lifecycle: () => state,
    async flushUsage() {
      if (usage.recorder && !(await usage.recorder.flush())) throw new Error('usage flush failed');
    },
    async rollUpUsage() {
      if (!usage.rollup) throw new Error('no usage history (USAGE_DATABASE_URL) to roll up into');
      return usage.rollup.run();
    },
    async flushAudit() {
      if (!(await audit.flush())) throw new Error('audit flush failed');
    },
    purgeAudit: () => audit.purgeNow(),
    expireSubscriptions: () => hub.expireNow(),
    subscriptions: () => hub.size(),
    cutStalledSubscriptions: () => hub.cutStalledNow(),
    whenSubscriptions: (count) => hub.whenOpen(count),
    whenSubscriptionsAtMost: (count) => hub.whenAtMost(count),
    reloadSupergraph: () => serving.reload(),
    reloadDocuments: () => documents.reload(),
    trustedDocuments: () => {
      const { trusted, invalid } = documents.current();
      return { fingerprint: trusted.fingerprint, documents: trusted.size, invalid };
    },
    nextSupergraphReload: () => serving.nextReload(),
    supergraphHash: () => serving.current().supergraph.hash,
    rest: { routes: () => rest.routes(), openApi: () => rest.openApi() },
    whenExecutionCallers: (count) => sharing.whenCallers(count),
    whenSubgraphCallers: (subgraph, count) => sources.get(subgraph)?.whenCallers(count) ?? Promise.reject(new Error(`no subgraph ${subgraph}`)),
    async storesReady() {
      await Promise.all([limits.store?.ready(), usage.store.ready(), sharing.ready(), documents.persistedQueries.ready()]);
    },
    refreshCatalog: async () => {
      await catalog.refresh();
      await pages.refresh();
    },
    stop() {
      stopping ??= (async () => {
        state = { phase: 'draining', since: now() };
        pages.stop();
        logger.info({ inFlight: http.inFlight() }, 'draining');
        // Subscribers are told to go elsewhere (and resume there) first: their streams end at once.
        await hub.closeAll();
        await webSockets.close();
        await http.drain(config.shutdownGraceMs);
        // Probes and scrapes keep answering (readiness says draining) until the public port is done.
        await admin?.drain(0);
        await serving.stop();
        // In-flight requests are done: what they recorded goes to the store before exit.
        await usage.close(USAGE_FLUSH_DEADLINE_MS);
        await audit.close(AUDIT_FLUSH_DEADLINE_MS);
        await limits.stop();
        await sharing.close();
        await documents.stop();
        if (!options.bus) await bus.close();
        state = { phase: 'stopped' };
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}

/** SUBGRAPH_URLS may only name subgraphs the supergraph has (a typo would silently route nothing). */
function checkSubgraphUrls(supergraph: LoadedSupergraph, urls: Readonly<Record<string, string>>): void {
  const known = new Set(supergraph.subgraphs.map((s) => s.name));
  const unknown = Object.keys(urls).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new ConfigError(`SUBGRAPH_URLS names subgraphs not in the supergraph: ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
  }
}

