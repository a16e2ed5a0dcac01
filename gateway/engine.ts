import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { LocalGraphQLDataSource } from '@apollo/gateway';
import type { DocumentNode, FormattedExecutionResult, GraphQLSchema } from 'graphql';
import { graphqlHandler } from '../lib/http.js';
import type { Logger } from '../lib/logger.js';
import type { AccessPolicies } from '../lib/policies.js';
import { ANONYMOUS, type Principal } from '../lib/principal.js';
import { createPlatformSchema, PLATFORM_SUBGRAPH, type CatalogReader } from '../subgraphs/platform/index.js';
import { createAuthorizedGateway } from './authz/gateway.js';
import { createIntrospectionViews } from './authz/introspection-views.js';
import type { GatewayConfig } from './config.js';
import { isGatewayContext, newOperationState, type GatewayContext } from './context.js';
import { indexDeprecations, type DeprecationIndex } from './deprecation/index.js';
import type { Documents } from './documents/create.js';
import { createErrorFormatter } from './errors.js';
import type { ExecutionSharing } from './execution/sharing.js';
import type { Identity } from './identity.js';
import type { Limits } from './limits/limits.js';
import type { GatewayMetrics } from './metrics.js';
import { createOperationFactsCache } from './operation/cache.js';
import { indexCost } from './operation/cost.js';
import { indexRequirements } from '../lib/auth-directives.js';
import { indexClassifications } from '../lib/classification/index.js';
import type { AuditGate } from '../lib/classification/model.js';
import { createPseudonymizer } from '../lib/classification/pseudonym.js';
import { supportedIntrospectionRule } from './operation/introspection-support.js';
import { analysisStage } from './pipeline/analysis.js';
import { budgetViewsOf, demandControlStage } from './pipeline/demand-control.js';
import { deprecationStage } from './pipeline/deprecation.js';
import { hideSuggestionsPlugin } from './pipeline/hide-suggestions.js';
import { metricsStage } from './pipeline/metrics.js';
import { pipelinePlugin } from './pipeline/pipeline.js';
import { requestLogStage } from './pipeline/request-log.js';
import { usageStage } from './pipeline/usage.js';
import { SubgraphSource } from './subgraph-source.js';
import { buildSchemaCatalog, type SchemaCatalog } from './usage/catalog.js';
import type { Usage } from './usage/create.js';
import type { AuditTrail } from './audit/create.js';
import { auditStage } from './pipeline/audit.js';
import { createFetchWaves } from './subgraph/fetch-waves.js';
import { finalFetchesOf } from './subgraph/final-fetches.js';

/** Where clients read the deprecation plans (the Link header of deprecated operations). */
export const DEPRECATIONS_PATH = '/deprecations';

/** Headers a stored operation's request sets itself, whatever the caller sent. */
const STORED_OPERATION_OWN_HEADERS: ReadonlySet<string> = new Set(['content-type', 'content-length', 'accept', 'transfer-encoding', 'content-encoding']);

/** What the HTTP layer knows of a GraphQL request before it runs. */
export interface GraphQLScope {
  readonly requestId: string;
  readonly startedAt: number;
  readonly principal: Principal;
}

/** A stored operation the gateway runs on a caller's behalf (a REST view), with the variables it was given. */
export interface StoredOperation {
  readonly query: string;
  readonly operationName: string;
  readonly variables: Readonly<Record<string, unknown>>;
}

/** What the caller's HTTP request brings to a stored operation: who asks (already authenticated), its headers and address. */
export interface StoredOperationScope extends GraphQLScope {
  readonly headers: IncomingHttpHeaders;
  readonly clientAddress: string;
}

/** A GraphQL response as the pipeline produced it: its status, headers and JSON body. */
export interface ExecutedOperation {
  readonly status: number;
  readonly headers: HeaderMap;
  readonly body: string;
}

/** Who runs an operation that did not come as an HTTP request of its own (a subscription's events). */
export interface ExecutionScope extends GraphQLScope {
  readonly clientAddress: string;
  /** The request headers of the connection (client identification reads them). */
  header(name: string): string | undefined;
}

/** The GraphQL engine: @apollo/gateway under the gateway's enforcement, in @apollo/server with the request pipeline. */
export interface Engine {
  handle(req: IncomingMessage, res: ServerResponse, scope: GraphQLScope): Promise<void>;
  /**
   * Runs a stored operation as if the caller had POSTed it to /graphql with its own headers: the
   * same context (principal, client, identity), the same pipeline (limits, authorization,
   * masking, deprecation, usage, audit). Stored operations are the owners', not the caller's
   * document: trusted-only clients are not asked for a trusted document.
   */
  execute(operation: StoredOperation, scope: StoredOperationScope): Promise<ExecutedOperation>;
  /**
   * Runs one operation through the whole request pipeline (limits, budgets, authorization,
   * masking, deprecation, usage, audit), as if it had come over HTTP from `scope`'s caller, with
   * the same error mask, and answers its result rather than an HTTP response. What a
   * subscription's events are resolved with.
   */
  resolve(scope: ExecutionScope, request: { readonly query: string; readonly variables: Readonly<Record<string, unknown>>; readonly operationName?: string | undefined }): Promise<FormattedExecutionResult>;
  /** The caller's client (policies/operations.yaml), and whether it may send these operations: throws the refusal as the HTTP path would. */
  admit(scope: ExecutionScope, operations: readonly unknown[]): void;
  /** The deprecation plans of the schema it serves (once started). */
  deprecations(): DeprecationIndex | undefined;
  /** Which product serves which field of the schema it serves (once started), for the usage views. */
  usageCatalog(): SchemaCatalog | undefined;
  /** The API schema it serves (once started): what trusted documents are validated against. */
  apiSchema(): GraphQLSchema | undefined;
  /** The authorization specs taken over from @apollo/gateway and enforced here. */
  readonly features: readonly string[];
  /** The data sources @apollo/gateway built, one per subgraph it calls over HTTP (filled by start()). */
  readonly sources: ReadonlyMap<string, SubgraphSource>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface EngineDeps {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly supergraph: { readonly sdl: string; readonly document: DocumentNode; readonly hash: string };
  readonly policies: AccessPolicies;
  readonly limits: Limits;
  readonly usage: Usage;
  readonly audit: AuditTrail;
  readonly metrics: GatewayMetrics;
  readonly identity: Identity;
  /** Filled as @apollo/gateway builds its data sources: one per subgraph it calls over HTTP. */
  readonly sources: Map<string, SubgraphSource>;
  readonly catalog: CatalogReader;
  /** Inbound deduplication and the response cache, shared by the engines of successive supergraphs. */
  readonly sharing: ExecutionSharing;
  /** Trusted documents, safelisting and automatic persisted queries, shared by the engines of successive supergraphs. */
  readonly documents: Documents;
  readonly now: () => number;
  /** Replaces the audit trail's own gate for classified fields (tests hold it closed). */
  readonly auditGate?: AuditGate;
}

export function createEngine(deps: EngineDeps): Engine {
  const { config, logger, supergraph, policies, limits, usage, audit, metrics, identity, sources, now } = deps;
  // One record of each request's subgraph calls for all of this engine's sources: batches leave in waves.
  const waves = createFetchWaves();
  // The per-document analysis every stage reads: the supergraph's rules and prices, the operation limits.
  const sharing = deps.sharing.forSupergraph(supergraph);
  const requirements = indexRequirements(supergraph.document);
  const classifications = indexClassifications(supergraph.document);
  const facts = createOperationFactsCache(requirements, indexCost(supergraph.document), limits.policy.operation, classifications);
  // INTROSPECTION_VIEW=granted: each grant set's view of this supergraph, built when first asked for.
  const views = config.authorization.introspectionView === 'granted' ? createIntrospectionViews({ requirements, classifications, policies }) : undefined;
  if (config.pseudonyms.development) logger.warn('PSEUDONYM_KEY is not set: pseudonyms use the public development key (anyone can recompute them); production requires a key of its own');
  const { gateway, features } = createAuthorizedGateway(
    supergraph.document,
    {
      logger,
      // The query plan names subgraphs and their operations: never shown to clients.
      __exposeQueryPlanExperimental: false,
      // Which of the plan's fetches nothing waits for: fetch waves hold those back (SUBGRAPH_BATCH).
      experimental_didResolveQueryPlan: ({ queryPlan, requestContext }) => {
        if (isGatewayContext(requestContext.context)) requestContext.context.operation.finalFetches = finalFetchesOf(queryPlan);
      },
      buildService: ({ name, url }) => {
        // The owners' usage API and the catalogue: a subgraph of the supergraph answered in-process.
        if (name === PLATFORM_SUBGRAPH) return new LocalGraphQLDataSource(createPlatformSchema(usage.reader, deps.catalog, policies, audit.reader, (context) =>
            isGatewayContext(context) && context.operation.spent ? budgetViewsOf(context.operation.spent, limits.policy.windowMs, now()) : [],
          ));
        const source = new SubgraphSource({ name, url: config.subgraphUrls[name] ?? url ?? '', timeoutMs: config.subgraphTimeoutMs, ...config.subgraphCalls, identity: identity.forCall, metrics, waves });
        sources.set(name, source);
        return source;
      },
    },
    {
      policies,
      mode: config.authorization.mode,
      allowAnonymousIntrospection: config.authorization.anonymousIntrospection,
      principalOf: (context) => (isGatewayContext(context) ? context.principal : ANONYMOUS),
      stateOf: (context) => (isGatewayContext(context) ? context.operation : undefined),
      onDenied: (coordinate) => metrics.authorizationDenials.inc({ coordinate }),
      aroundExecution: sharing.wrap,
      pseudonyms: createPseudonymizer(config.pseudonyms.key, config.pseudonyms.keyId),
      audit: deps.auditGate ?? audit.writer,
      introspection: views,
    },
  );
  let deprecations: DeprecationIndex | undefined;
  let usageCatalog: SchemaCatalog | undefined;
  let servedSchema: GraphQLSchema | undefined;
  gateway.onSchemaLoadOrUpdate(({ apiSchema }) => {
    servedSchema = apiSchema;
    usageCatalog = buildSchemaCatalog(supergraph.document, apiSchema, [PLATFORM_SUBGRAPH]);
    deprecations = indexDeprecations(supergraph.document, apiSchema);
    views?.update(apiSchema);
  });
  const canIntrospect = (principal: Principal) => principal.kind === 'authenticated' || config.authorization.anonymousIntrospection;

  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    logger,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // Shutdown is ours (drain, then stop): Apollo's own handler would re-raise the signal mid-drain.
    stopOnTerminationSignals: false,
    introspection: true,
    allowBatchedHttpRequests: true,
    // Trusted documents by hash, then automatic persisted queries (in Redis with REDIS_URL).
    persistedQueries: deps.documents.persistedQueries.options,
    parseOptions: { maxTokens: limits.policy.operation.maxTokens },
    validationRules: [supportedIntrospectionRule],
    formatError: createErrorFormatter(logger),
    // The JSON of an answer joined callers share is written once (execution/shared-json.ts).
    stringifyResult: deps.sharing.stringifyResult,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      hideSuggestionsPlugin((context) => canIntrospect(context.principal)),
      // The request pipeline, in this order: nothing is priced before it is analysed, nothing
      // deprecated is served before it is paid for, and every response is logged, measured and counted.
      pipelinePlugin([
        analysisStage(facts),
        demandControlStage({ policy: limits.policy, store: limits.store }),
        deprecationStage({ deprecations: () => deprecations, now, link: DEPRECATIONS_PATH }),
        ...(sharing.stage ? [sharing.stage] : []),
        requestLogStage(),
        metricsStage(metrics),
        ...(usage.recorder
          ? [usageStage({ recorder: usage.recorder, maxClientsPerHour: config.usage.maxClientsPerHour, now, onClientOverflow: (reason) => metrics.usageClientOverflow.inc({ reason }) })]
          : []),
        // Reads of classified fields (authorization lists them): one record per operation.
        auditStage({
          sink: audit.writer,
          level: config.audit.level,
          productOf: (coordinate) => usageCatalog?.entry(coordinate)?.product,
          versionOf: (product) => sources.get(product)?.productVersion,
          now,
        }),
      ]),
    ],
  });

  const contextOf = (scope: GraphQLScope & { clientAddress: string }, client: GatewayContext['client']): GatewayContext => ({
    requestId: scope.requestId,
    startedAt: scope.startedAt,
    logger: logger.child({ requestId: scope.requestId }),
    principal: scope.principal,
    client,
    clientAddress: scope.clientAddress,
    batch: { cost: 0 },
    operation: newOperationState(),
    identityToken: identity.forRequest(scope.principal),
  });
  const headerOf = (headers: IncomingHttpHeaders) => (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };

  const handle = graphqlHandler<GatewayContext, GraphQLScope & { clientAddress: string }>({
    server: apollo,
    bodyLimitBytes: config.maxBodyBytes,
    maxBatch: limits.policy.operation.maxBatch,
    nesting: limits.policy.operation,
    encodeBody: deps.sharing.encodeBody,
    context: (scope, req, operations) => {
      const client = deps.documents.clientOf(scope.principal, headerOf(req.headers));
      // Safelisting: after Apollo Server's CSRF check, before anything is parsed or analysed.
      deps.documents.admit(client, operations);
      return contextOf(scope, client);
    },
  });

  const execute = async (operation: StoredOperation, scope: StoredOperationScope): Promise<ExecutedOperation> => {
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(scope.headers)) {
      if (value !== undefined && !STORED_OPERATION_OWN_HEADERS.has(key)) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    // A JSON POST: what Apollo Server's CSRF prevention and content negotiation accept without preflight headers.
    headers.set('content-type', 'application/json');
    headers.set('accept', 'application/json');
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: 'POST', headers, search: '', body: { query: operation.query, operationName: operation.operationName, variables: operation.variables } },
      context: async () => contextOf(scope, deps.documents.clientOf(scope.principal, headerOf(scope.headers))),
    });
    let body: string;
    if (response.body.kind === 'complete') body = response.body.string;
    else {
      // Incremental delivery needs a multipart Accept, which a stored operation never sends.
      const chunks: string[] = [];
      for await (const chunk of response.body.asyncIterator) chunks.push(chunk);
      body = chunks.join('');
    }
    return { status: response.status ?? 200, headers: response.headers, body };
  };

  return {
    handle: (req, res, scope) => handle(req, res, { ...scope, clientAddress: req.socket.remoteAddress ?? 'unknown' }),
    execute,
    admit: (scope, operations) => deps.documents.admit(deps.documents.clientOf(scope.principal, scope.header), operations),
    async resolve(scope, request) {
      // Admitted when the subscription opened: each event's operation is derived from that document.
      const contextValue = contextOf(scope, deps.documents.clientOf(scope.principal, scope.header));
      const response = await apollo.executeOperation({ query: request.query, variables: { ...request.variables }, operationName: request.operationName }, { contextValue });
      if (response.body.kind !== 'single') throw new Error('incremental delivery is not used by subscriptions');
      const { data, errors, extensions } = response.body.singleResult;
      return { ...(errors ? { errors } : {}), ...(data !== undefined ? { data } : {}), ...(extensions ? { extensions } : {}) };
    },
    deprecations: () => deprecations,
    usageCatalog: () => usageCatalog,
    apiSchema: () => servedSchema,
    features,
    sources,
    start: () => apollo.start(),
    // The subgraph sources' connection pools close with the engine (calls in flight finish first).
    async stop() {
      try {
        await apollo.stop();
      } finally {
        await Promise.all([...sources.values()].map((source) => source.close()));
      }
    },
  };
}
