import { createHash } from 'node:crypto';
import { HEALTH_CHECK_QUERY, type GraphQLDataSource } from '@apollo/gateway';
import { GraphQLDataSourceRequestKind, type GraphQLDataSourceProcessOptions } from '@apollo/gateway/dist/datasources/types.js';
import { parseCacheControlHeader } from '@apollo/gateway/dist/datasources/parseCacheControlHeader.js';
import type { GatewayCacheHint, GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { context as otelContext, propagation, trace, type Span } from '@opentelemetry/api';
import type { GraphQLError } from 'graphql';
import { gqlError, type ErrorCode } from '../lib/errors.js';
import { activeTracer, ATTR, SEMCONV } from '../lib/tracing/tracer.js';
import { DEFAULT_SUBGRAPH_MAX_RESPONSE_BYTES } from './config.js';
import { isGatewayContext } from './context.js';
import type { GatewayMetrics } from './metrics.js';
import { createDocumentFacts } from './subgraph/document-facts.js';
import { createInflightSharing, type InflightSharing } from './execution/inflight.js';
import { createMergeMemo, mergedVariables, NotMergeable, splitAnswer, type MergedOperation } from './subgraph/entity-batch.js';
import { fanOutEntities, planRepresentations, type RepresentationPlan, type SubgraphBody } from './subgraph/entities.js';
import type { Batched, FetchWaves } from './subgraph/fetch-waves.js';
import { fetchKey } from './subgraph/final-fetches.js';
import { createSubgraphTransport, type SubgraphTransport, type TransportAnswer, type TransportFailure } from './subgraph/transport.js';

export interface SubgraphSourceOptions {
  /** The identity token to send to this subgraph for a request context (the gateway's own calls get an anonymous one). */
  identity(context: unknown, subgraph: string): Promise<string>;
  /** The subgraph's name in the supergraph: it names the data product in client errors. */
  name: string;
  url: string;
  /** Per subgraph call, in milliseconds, including reading the body. */
  timeoutMs: number;
  /** Largest response body accepted, in bytes. @default DEFAULT_SUBGRAPH_MAX_RESPONSE_BYTES */
  maxResponseBytes?: number;
  /** Share identical query calls in flight and send repeated entity representations once. @default true */
  dedup?: boolean;
  /** Send a request's entity fetches to this subgraph in waves, one call per wave. @default true */
  batch?: boolean;
  /** The engine's one record of each request's subgraph calls, shared by its sources: batching needs it. */
  waves?: FetchWaves;
  metrics?: Pick<GatewayMetrics, 'subgraphFetchDuration' | 'subgraphErrors' | 'subgraphRequestsDeduplicated' | 'subgraphRepresentationsDeduplicated' | 'subgraphFetchesBatched'>;
}

type Variables = Record<string, unknown>;

/** One fetch on its way: what is sent for it, and what its answer is turned back into. */
interface FetchMember extends Batched<GatewayGraphQLResponse> {
  readonly options: GraphQLDataSourceProcessOptions;
  readonly query: string;
  /** The variables sent: the representations already made distinct. */
  readonly variables: Variables | undefined;
  /** How the distinct representations fan back out; undefined when nothing repeated. */
  readonly plan: RepresentationPlan | undefined;
  /** The fetch's gateway.fetch span, traced. */
  readonly span: Span | undefined;
  /** The trace context active when @apollo/gateway made the fetch (propagated to the subgraph). */
  readonly trace: ReturnType<typeof otelContext.active> | undefined;
}

/**
 * Calls one subgraph for @apollo/gateway: over a keep-alive undici pool with a hard deadline and a
 * response size limit (gateway/subgraph/transport.ts), every failure turned into a client-safe
 * error that names the product and hides its URL and body.
 *
 * It implements GraphQLDataSource itself rather than extending RemoteGraphQLDataSource, whose
 * process() builds node-fetch Headers and a node-fetch Request per call that nothing here reads,
 * and whose response handling is a fetch Response: the body is JSON-serialized once, posted, and
 * the answer parsed once per caller.
 *
 * Work done twice is done once (SUBGRAPH_DEDUP): a query call identical to one in flight (same
 * subgraph, same document and variables, same forwarded identity token, which is per principal and
 * subgraph) waits for that call's answer instead of making its own, and an `_entities` call sends
 * each distinct representation once. Only the first caller's headers travel: the subgraph sees its
 * x-request-id and trace context. Every caller parses the shared answer itself and builds its own
 * errors, so no two requests hold the same objects.
 *
 * A request's entity fetches to this subgraph leave in waves (SUBGRAPH_BATCH,
 * gateway/subgraph/fetch-waves.ts): parked until every call the request has in flight is parked,
 * then merged into one call (gateway/subgraph/entity-batch.ts) whose answer is split back.
 */
export class SubgraphSource implements GraphQLDataSource {
  readonly name: string;
  readonly url: string;
  /** The data product's version as the catalogue last read it from its descriptor (for traces); undefined until then. */
  productVersion: string | undefined;
  private readonly identity: SubgraphSourceOptions['identity'];
  private readonly metrics: SubgraphSourceOptions['metrics'];
  private readonly transport: SubgraphTransport;
  private readonly maxResponseBytes: number;
  /** Undefined when SUBGRAPH_DEDUP is off. */
  private readonly sharing: { readonly inFlight: InflightSharing } | undefined;
  /** Undefined when SUBGRAPH_BATCH is off. */
  private readonly batches: { readonly waves: FetchWaves; readonly merge: ReturnType<typeof createMergeMemo>; readonly send: (request: object, members: readonly FetchMember[]) => Promise<void> } | undefined;
  /** What sharing and batching know of a subgraph operation's text; undefined when both are off. */
  private readonly facts: ReturnType<typeof createDocumentFacts> | undefined;
  /** Whether this process traces: decided once, when the source is built. */
  private readonly traced: boolean;
  /** The latest call durations (ms), for the catalogue's p95 against the SLA. */
  private readonly durations = new Float64Array(LATENCY_SAMPLES);
  private recorded = 0;

  constructor(options: SubgraphSourceOptions) {
    this.name = options.name;
    this.url = options.url;
    this.identity = options.identity;
    this.metrics = options.metrics;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_SUBGRAPH_MAX_RESPONSE_BYTES;
    this.transport = createSubgraphTransport({ url: options.url, timeoutMs: options.timeoutMs, maxResponseBytes: this.maxResponseBytes });
    this.sharing = options.dedup === false ? undefined : { inFlight: createInflightSharing() };
    this.batches = options.batch === false || !options.waves ? undefined : { waves: options.waves, merge: createMergeMemo(), send: (request, members) => this.callBatch(request, members) };
    this.facts = this.sharing || this.batches ? createDocumentFacts() : undefined;
    this.traced = activeTracer() !== undefined;
  }

  /** 95th percentile of the latest calls, in ms; null before any call. */
  latencyP95Ms(): number | null {
    const count = Math.min(this.recorded, LATENCY_SAMPLES);
    if (count === 0) return null;
    const sorted = Array.from(this.durations.subarray(0, count)).sort((a, b) => a - b);
    return Math.round(sorted[Math.min(count - 1, Math.ceil(count * 0.95) - 1)]! * 10) / 10;
  }

  /** Times the calls made for clients' operations (not health checks) for metrics and the catalogue's p95. */
  async process(options: GraphQLDataSourceProcessOptions): Promise<GatewayGraphQLResponse> {
    if (options.kind !== GraphQLDataSourceRequestKind.INCOMING_OPERATION) return this.call(options);
    const started = performance.now();
    const over = this.batches && isGatewayContext(options.context) ? this.batches.waves.begin(options.context) : undefined;
    try {
      return await this.call(options);
    } finally {
      over?.();
      const ms = performance.now() - started;
      this.durations[this.recorded++ % LATENCY_SAMPLES] = ms;
      this.metrics?.subgraphFetchDuration.observe({ subgraph: this.name }, ms / 1000);
    }
  }

  /** Sends `{ __typename }` the way the gateway's own health check does; resolves false on any failure. */
  async isReachable(): Promise<boolean> {
    try {
      const response = await this.process({ kind: GraphQLDataSourceRequestKind.HEALTH_CHECK, request: { query: HEALTH_CHECK_QUERY }, context: {} });
      return !response.errors?.length;
    } catch {
      return false;
    }
  }

  /** Resolves once at least `count` callers wait on query calls in flight at once (tests: no timers); rejects with SUBGRAPH_DEDUP off. */
  whenCallers(count: number): Promise<void> {
    return this.sharing ? this.sharing.inFlight.whenCallers(count) : Promise.reject(new Error('SUBGRAPH_DEDUP is off'));
  }

  /** Lets calls in flight finish, then closes the pool's connections (the engine stops). */
  close(): Promise<void> {
    return this.transport.close();
  }

  /**
   * Every call carries the gateway-signed identity and the request id; nothing the client sent is
   * forwarded. Traced, it also carries the trace context: @apollo/gateway's gateway.fetch span is the
   * active one here, so it becomes the parent of the data product's spans, and it is the span that
   * names the product, its version, the subgraph operation and the HTTP status.
   *
   * An entity fetch of a client request goes to the request's batch for this subgraph
   * (SUBGRAPH_BATCH): the planner starts a plan's parallel fetches together, and those to one
   * subgraph become one call (gateway/subgraph/entity-batch.ts).
   */
  private call(options: GraphQLDataSourceProcessOptions): Promise<GatewayGraphQLResponse> {
    const { request, context } = options;
    const query = request.query;
    if (!query) return Promise.reject(new Error('Missing query'));
    const incoming = options.kind === GraphQLDataSourceRequestKind.INCOMING_OPERATION;
    const facts = incoming ? this.facts?.(query) : undefined;
    const entities = facts?.entityFetch && Array.isArray(request.variables?.representations) ? this.planEntities(request.variables!) : undefined;
    const member: FetchMember = {
      options,
      query,
      variables: entities?.variables ?? request.variables,
      plan: entities?.plan,
      span: this.traced && incoming ? this.traceSpan(request.operationName) : undefined,
      trace: this.traced && incoming ? otelContext.active() : undefined,
    };
    // Only what one request's plan starts together, with no header of @apollo/gateway's own (federated tracing).
    if (this.batches && entities && facts?.operation === 'query' && isGatewayContext(context) && !request.http?.headers) {
      const path = options.kind === GraphQLDataSourceRequestKind.INCOMING_OPERATION ? options.pathInIncomingRequest : undefined;
      const final = path !== undefined && context.operation.finalFetches?.has(fetchKey(this.name, query, path)) === true;
      return this.batches.waves.park(context, this, member, this.batches.send, final);
    }
    return this.callAlone(member, facts?.operation === 'query');
  }

  /** One fetch, one subgraph call. */
  private async callAlone(member: FetchMember, query: boolean): Promise<GatewayGraphQLResponse> {
    const { request, context } = member.options;
    const body = JSON.stringify({ query: member.query, operationName: request.operationName, variables: member.variables, extensions: request.extensions });
    const answer = await this.send(context, member, body, query);
    return this.answerOf(member, answer, this.bodyOf(answer));
  }

  /**
   * The fetches one request started together for this subgraph: identical ones share one alias,
   * the rest are merged into one operation, and each fetch gets its own part of the one answer.
   */
  private async callBatch(context: unknown, members: readonly FetchMember[]): Promise<void> {
    const groups = new Map<string, FetchMember[]>();
    for (const member of members) {
      const key = JSON.stringify([member.query, member.options.request.operationName, member.variables]);
      const group = groups.get(key);
      if (group) group.push(member);
      else groups.set(key, [member]);
    }
    const distinct = [...groups.values()];
    if (distinct.length === 1) {
      const [first, ...rest] = distinct[0]!;
      await Promise.all([this.settle(first!, this.callAlone(first!, true)), ...rest.map((member) => this.settle(member, this.callAlone(member, true)))]);
      return;
    }
    let merged: MergedOperation;
    try {
      merged = this.batches!.merge(distinct.map((group) => group[0]!.query), distinct[0]![0]!.options.request.operationName);
    } catch (error) {
      if (!(error instanceof NotMergeable)) throw error;
      await Promise.all(members.map((member) => this.settle(member, this.callAlone(member, true))));
      return;
    }
    const variables = mergedVariables(merged, distinct.map((group) => group[0]!.variables ?? {}));
    const body = JSON.stringify({ query: merged.query, operationName: merged.operationName, variables });
    const answer = await this.send(context, members[0]!, body, true);
    if (answer.kind === 'failed' && answer.failure !== 'too_large') {
      // No answer at all: each fetch gets its own error, as it would have alone.
      for (const member of members) member.reject!(this.transportFailure(answer.failure));
      return;
    }
    const parts = answer.kind === 'answered' ? this.partsOf(answer, merged) : undefined;
    if (!parts) {
      // The merged call was refused, answered no data, or answered too much: each fetch goes alone,
      // so that one fetch's failure never takes the others' data with it.
      await Promise.all(members.map((member) => this.settle(member, this.callAlone(member, true))));
      return;
    }
    this.metrics?.subgraphFetchesBatched.inc({ subgraph: this.name }, distinct.length - 1);
    distinct.forEach((group, index) => {
      group.forEach((member, copy) => {
        member.span?.setAttribute(ATTR.SUBGRAPH_CALL_BATCHED, distinct.length);
        try {
          member.resolve!(this.answerOf(member, answer, copy === 0 ? parts[index]! : structuredClone(parts[index]!)));
        } catch (error) {
          member.reject!(error);
        }
      });
    });
  }

  /** Each fetch's part of a merged answer; undefined when the answer is not a 2xx with data. */
  private partsOf(answer: Extract<TransportAnswer, { kind: 'answered' }>, merged: MergedOperation): SubgraphBody[] | undefined {
    if (answer.status < 200 || answer.status > 299) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(answer.body);
    } catch {
      return undefined;
    }
    const data = (body as SubgraphBody | null)?.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
    return splitAnswer(body as SubgraphBody, merged);
  }

  private settle(member: FetchMember, result: Promise<GatewayGraphQLResponse>): Promise<void> {
    return result.then(member.resolve, member.reject);
  }

  /** Sends each distinct representation once (SUBGRAPH_DEDUP). */
  private planEntities(variables: Variables): { variables: Variables; plan: RepresentationPlan | undefined } {
    const plan = this.sharing ? planRepresentations(variables.representations as unknown[]) : undefined;
    if (!plan) return { variables, plan };
    this.metrics?.subgraphRepresentationsDeduplicated.inc({ subgraph: this.name }, plan.distinctOf.length - plan.distinct.length);
    return { variables: { ...variables, representations: plan.distinct }, plan };
  }

  /** Posts one body with the caller's identity; a query identical to one in flight joins it (SUBGRAPH_DEDUP). */
  private async send(context: unknown, member: FetchMember, body: string, query: boolean): Promise<TransportAnswer> {
    const token = await this.identity(context, this.name);
    const headers: Record<string, string> = {};
    // Set by @apollo/gateway itself (federated tracing), never by a client.
    const own = member.options.request.http?.headers;
    if (own) for (const [name, value] of own) headers[name] = value;
    headers['content-type'] = 'application/json';
    headers.authorization = `Bearer ${token}`;
    if (isGatewayContext(context)) headers['x-request-id'] = context.requestId;
    if (member.trace) propagation.inject(member.trace, headers);
    if (!this.sharing || !query) return this.transport.post(headers, body);
    // The token is per principal and audience: no caller ever shares what another's grants produced.
    const key = createHash('sha256').update(token).update('\0').update(body).digest('base64');
    const { value, shared } = await this.sharing.inFlight.run(key, () => this.transport.post(headers, body));
    if (shared) {
      this.metrics?.subgraphRequestsDeduplicated.inc({ subgraph: this.name });
      member.span?.setAttribute(ATTR.SUBGRAPH_CALL_SHARED, true);
    }
    return value;
  }

  /** This fetch's response: its own failure thrown, its cache hint applied, its representations fanned out. */
  private answerOf(member: FetchMember, answer: TransportAnswer, body: SubgraphBody): GatewayGraphQLResponse {
    if (answer.kind === 'failed') throw this.transportFailure(answer.failure);
    member.span?.setAttribute(SEMCONV.HTTP_RESPONSE_STATUS_CODE, answer.status);
    const options = member.options;
    const cachePolicy = options.kind === GraphQLDataSourceRequestKind.INCOMING_OPERATION ? options.incomingRequestContext.overallCachePolicy : undefined;
    if (cachePolicy && 'restrict' in cachePolicy) cachePolicy.restrict(cacheHintOf(answer.cacheControl));
    return (member.plan ? fanOutEntities(body, member.plan) : body) as GatewayGraphQLResponse;
  }

  /** The traced call's span (gateway.fetch, the active one while @apollo/gateway calls) names the product. */
  private traceSpan(operationName: string | undefined): Span | undefined {
    const span = trace.getSpan(otelContext.active());
    span?.setAttributes({
      [ATTR.DATA_PRODUCT_NAME]: this.name,
      ...(this.productVersion ? { [ATTR.DATA_PRODUCT_VERSION]: this.productVersion } : {}),
      ...(operationName ? { [ATTR.GRAPHQL_OPERATION_NAME]: operationName } : {}),
    });
    return span;
  }

  /** This caller's own error for a call that got no answer (thrown: @apollo/gateway reports it for the fetch). */
  private transportFailure(failure: TransportFailure): GraphQLError {
    if (failure === 'timeout') return this.failed('SUBGRAPH_TIMEOUT', `The ${this.name} data product did not answer in time`);
    if (failure === 'too_large') return this.failed('SUBGRAPH_ERROR', `The ${this.name} data product sent a response over the size limit`, { maximum: this.maxResponseBytes });
    return this.failed('SUBGRAPH_UNAVAILABLE', `The ${this.name} data product is unavailable`);
  }

  /** This caller's own parse of the answer, or this caller's own error. */
  private bodyOf(answer: TransportAnswer): SubgraphBody {
    if (answer.kind === 'failed') throw this.transportFailure(answer.failure);
    if (answer.status < 200 || answer.status > 299) {
      // Only a refusal of the caller's input is passed on.
      const refused = answer.status === 400 ? inputRefusalOf(answer.body) : undefined;
      if (refused) throw this.failed('BAD_USER_INPUT', refused);
      const code = answer.status === 503 || answer.status === 502 ? 'SUBGRAPH_UNAVAILABLE' : 'SUBGRAPH_ERROR';
      throw this.failed(code, `The ${this.name} data product answered HTTP ${answer.status}`, { status: answer.status });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw this.failed('SUBGRAPH_ERROR', `The ${this.name} data product sent an invalid response`);
    return parsed as SubgraphBody;
  }

  private failed(code: ErrorCode, message: string, extensions: Record<string, string | number> = {}): GraphQLError {
    this.metrics?.subgraphErrors.inc({ subgraph: this.name, code });
    return gqlError(code, message, { ...extensions, service: this.name });
  }
}

/** Longest message of a subgraph's input refusal passed on to the caller. */
const MAX_REFUSAL_MESSAGE = 300;

/**
 * A subgraph answers 400 when the caller's own input does not fit its schema: a custom scalar's
 * value it refuses (`Date`, `DateTime`), which the gateway, for which custom scalars are opaque,
 * could not check. That is BAD_USER_INPUT, with the subgraph's message about the caller's value;
 * anything else in a 400 stays masked.
 */
function inputRefusalOf(body: string): string | undefined {
  let parsed: { errors?: { message?: unknown; extensions?: { code?: unknown } }[] };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return undefined;
  }
  const first = parsed?.errors?.[0];
  const code = first?.extensions?.code;
  if (typeof first?.message !== 'string' || (code !== 'BAD_USER_INPUT' && code !== 'GRAPHQL_VALIDATION_FAILED')) return undefined;
  return first.message.slice(0, MAX_REFUSAL_MESSAGE);
}

/** As RemoteGraphQLDataSource: a subgraph answer without max-age makes the whole response uncacheable. */
function cacheHintOf(header: string | undefined): GatewayCacheHint {
  const parsed = parseCacheControlHeader(header);
  const hint: GatewayCacheHint = { maxAge: 0 };
  const maxAge = parsed['max-age'];
  if (typeof maxAge === 'string' && /^[0-9]+$/.test(maxAge)) hint.maxAge = Number(maxAge);
  if (parsed.private === true) hint.scope = 'PRIVATE';
  if (parsed.public === true) hint.scope = 'PUBLIC';
  return hint;
}

const LATENCY_SAMPLES = 1_000;
