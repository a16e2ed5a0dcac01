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
import { fanOutEntities, planRepresentations, type RepresentationPlan, type SubgraphBody } from './subgraph/entities.js';
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
  metrics?: Pick<GatewayMetrics, 'subgraphFetchDuration' | 'subgraphErrors' | 'subgraphRequestsDeduplicated' | 'subgraphRepresentationsDeduplicated'>;
}

type Variables = Record<string, unknown>;

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
  private readonly sharing: { readonly inFlight: InflightSharing; readonly facts: ReturnType<typeof createDocumentFacts> } | undefined;
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
    this.sharing = options.dedup === false ? undefined : { inFlight: createInflightSharing(), facts: createDocumentFacts() };
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
    try {
      return await this.call(options);
    } finally {
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
   */
  private async call(options: GraphQLDataSourceProcessOptions): Promise<GatewayGraphQLResponse> {
    const { request, context } = options;
    const query = request.query;
    if (!query) throw new Error('Missing query');
    const incoming = options.kind === GraphQLDataSourceRequestKind.INCOMING_OPERATION;
    const token = await this.identity(context, this.name);
    const headers: Record<string, string> = {};
    // Set by @apollo/gateway itself (federated tracing), never by a client.
    if (request.http?.headers) for (const [name, value] of request.http.headers) headers[name] = value;
    headers['content-type'] = 'application/json';
    headers.authorization = `Bearer ${token}`;
    if (isGatewayContext(context)) headers['x-request-id'] = context.requestId;
    const span = this.traced && incoming ? this.traceCall(headers, request.operationName) : undefined;

    const facts = incoming ? this.sharing?.facts(query) : undefined;
    let variables = request.variables;
    let plan: RepresentationPlan | undefined;
    if (facts?.entityFetch && Array.isArray(variables?.representations)) {
      plan = planRepresentations(variables.representations as unknown[]);
      if (plan) {
        this.metrics?.subgraphRepresentationsDeduplicated.inc({ subgraph: this.name }, plan.distinctOf.length - plan.distinct.length);
        variables = { ...variables, representations: plan.distinct } satisfies Variables;
      }
    }
    const body = JSON.stringify({ query, operationName: request.operationName, variables, extensions: request.extensions });

    let answer: TransportAnswer;
    if (this.sharing && facts?.operation === 'query') {
      // The token is per principal and audience: no caller ever shares what another's grants produced.
      const key = createHash('sha256').update(token).update('\0').update(body).digest('base64');
      const { value, shared } = await this.sharing.inFlight.run(key, () => this.transport.post(headers, body));
      if (shared) {
        this.metrics?.subgraphRequestsDeduplicated.inc({ subgraph: this.name });
        span?.setAttribute(ATTR.SUBGRAPH_CALL_SHARED, true);
      }
      answer = value;
    } else {
      answer = await this.transport.post(headers, body);
    }

    if (answer.kind === 'failed') throw this.transportFailure(answer.failure);
    span?.setAttribute(SEMCONV.HTTP_RESPONSE_STATUS_CODE, answer.status);
    const parsed = this.bodyOf(answer);
    const cachePolicy = incoming ? options.incomingRequestContext.overallCachePolicy : undefined;
    if (cachePolicy && 'restrict' in cachePolicy) cachePolicy.restrict(cacheHintOf(answer.cacheControl));
    return (plan ? fanOutEntities(parsed, plan) : parsed) as GatewayGraphQLResponse;
  }

  /** The traced call's span (gateway.fetch) names the product; the trace context goes in the headers. */
  private traceCall(headers: Record<string, string>, operationName: string | undefined): Span | undefined {
    const active = otelContext.active();
    const span = trace.getSpan(active);
    span?.setAttributes({
      [ATTR.DATA_PRODUCT_NAME]: this.name,
      ...(this.productVersion ? { [ATTR.DATA_PRODUCT_VERSION]: this.productVersion } : {}),
      ...(operationName ? { [ATTR.GRAPHQL_OPERATION_NAME]: operationName } : {}),
    });
    propagation.inject(active, headers);
    return span;
  }

  /** This caller's own error for a call that got no answer (thrown: @apollo/gateway reports it for the fetch). */
  private transportFailure(failure: TransportFailure): GraphQLError {
    if (failure === 'timeout') return this.failed('SUBGRAPH_TIMEOUT', `The ${this.name} data product did not answer in time`);
    if (failure === 'too_large') return this.failed('SUBGRAPH_ERROR', `The ${this.name} data product sent a response over the size limit`, { maximum: this.maxResponseBytes });
    return this.failed('SUBGRAPH_UNAVAILABLE', `The ${this.name} data product is unavailable`);
  }

  /** This caller's own parse of the answer, or this caller's own error. */
  private bodyOf(answer: Extract<TransportAnswer, { kind: 'answered' }>): SubgraphBody {
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
