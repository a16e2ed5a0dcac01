import { RemoteGraphQLDataSource, HEALTH_CHECK_QUERY } from '@apollo/gateway';
import { GraphQLDataSourceRequestKind } from '@apollo/gateway/dist/datasources/types.js';
import { context as otelContext, propagation, trace } from '@opentelemetry/api';
import { gqlError } from '../lib/errors.js';
import { activeTracer, ATTR, SEMCONV } from '../lib/tracing/tracer.js';
import type { GraphQLError } from 'graphql';
import { isGatewayContext } from './context.js';
import type { GatewayMetrics } from './metrics.js';

type Fetcher = NonNullable<NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher']>;
type FetcherResponse = Awaited<ReturnType<Fetcher>>;

export interface SubgraphSourceOptions {
  /** The identity token to send to this subgraph for a request context (the gateway's own calls get an anonymous one). */
  identity(context: unknown, subgraph: string): Promise<string>;
  /** The subgraph's name in the supergraph: it names the data product in client errors. */
  name: string;
  url: string;
  /** Per subgraph call, in milliseconds, including reading the body. */
  timeoutMs: number;
  metrics?: Pick<GatewayMetrics, 'subgraphFetchDuration' | 'subgraphErrors'>;
}

/**
 * Calls one subgraph with a hard timeout (Node's fetch, keep-alive) and turns every transport
 * failure into a client-safe error that names the product and hides its URL and body.
 */
export class SubgraphSource extends RemoteGraphQLDataSource {
  readonly name: string;
  /** The data product's version as the catalogue last read it from its descriptor (for traces); undefined until then. */
  productVersion: string | undefined;
  private readonly identity: SubgraphSourceOptions['identity'];
  /** Whether this process traces: decided once, when the source is built. */
  private readonly traced: boolean;

  constructor(options: SubgraphSourceOptions) {
    const traced = activeTracer() !== undefined;
    super({ url: options.url, fetcher: traced ? statusRecordingFetcher(timeoutFetcher(options.timeoutMs)) : timeoutFetcher(options.timeoutMs) });
    this.name = options.name;
    this.identity = options.identity;
    this.metrics = options.metrics;
    this.traced = traced;
  }

  private readonly metrics: SubgraphSourceOptions['metrics'];
  /** The latest call durations (ms), for the catalogue's p95 against the SLA. */
  private readonly durations = new Float64Array(LATENCY_SAMPLES);
  private recorded = 0;

  /** 95th percentile of the latest calls, in ms; null before any call. */
  latencyP95Ms(): number | null {
    const count = Math.min(this.recorded, LATENCY_SAMPLES);
    if (count === 0) return null;
    const sorted = Array.from(this.durations.subarray(0, count)).sort((a, b) => a - b);
    return Math.round(sorted[Math.min(count - 1, Math.ceil(count * 0.95) - 1)]! * 10) / 10;
  }

  /** Times the calls made for clients' operations (not health checks) for metrics and the catalogue's p95. */
  override async process(options: Parameters<RemoteGraphQLDataSource['process']>[0]): ReturnType<RemoteGraphQLDataSource['process']> {
    if (options.kind !== GraphQLDataSourceRequestKind.INCOMING_OPERATION) return super.process(options);
    const started = performance.now();
    try {
      return await super.process(options);
    } finally {
      const ms = performance.now() - started;
      this.durations[this.recorded++ % LATENCY_SAMPLES] = ms;
      this.metrics?.subgraphFetchDuration.observe({ subgraph: this.name }, ms / 1000);
    }
  }

  /**
   * Every call carries the gateway-signed identity and the request id; nothing the client sent is
   * forwarded. Traced, it also carries the trace context: @apollo/gateway's gateway.fetch span is the
   * active one here, so it becomes the parent of the data product's spans, and it is the span that
   * names the product, its version, the subgraph operation and (statusRecordingFetcher) the HTTP status.
   */
  override async willSendRequest(options: Parameters<NonNullable<RemoteGraphQLDataSource['willSendRequest']>>[0]): Promise<void> {
    const headers = options.request.http?.headers;
    headers?.set('authorization', `Bearer ${await this.identity(options.context, this.name)}`);
    if (isGatewayContext(options.context)) headers?.set('x-request-id', options.context.requestId);
    if (!this.traced || !headers || options.kind !== GraphQLDataSourceRequestKind.INCOMING_OPERATION) return;
    const active = otelContext.active();
    trace.getSpan(active)?.setAttributes({
      [ATTR.DATA_PRODUCT_NAME]: this.name,
      ...(this.productVersion ? { [ATTR.DATA_PRODUCT_VERSION]: this.productVersion } : {}),
      ...(options.request.operationName ? { [ATTR.GRAPHQL_OPERATION_NAME]: options.request.operationName } : {}),
    });
    propagation.inject(active, headers, { set: (carrier, key, value) => carrier.set(key, value) });
  }

  override didEncounterError(error: Error): void {
    const mapped = toSubgraphError(this.name, error);
    this.metrics?.subgraphErrors.inc({ subgraph: this.name, code: String(mapped.extensions.code) });
    throw mapped;
  }

  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    // Read the body so the connection can be reused; only a refusal of the caller's input is passed on.
    const body = await response.text().catch(() => '');
    const refused = response.status === 400 ? inputRefusalOf(body) : undefined;
    if (refused) return gqlError('BAD_USER_INPUT', refused, { service: this.name });
    const code = response.status === 503 || response.status === 502 ? 'SUBGRAPH_UNAVAILABLE' : 'SUBGRAPH_ERROR';
    return gqlError(code, `The ${this.name} data product answered HTTP ${response.status}`, {
      service: this.name,
      status: response.status,
    });
  }

  /** Sends `{ __typename }` the way the gateway's own health check does; resolves false on any failure. */
  async isReachable(): Promise<boolean> {
    try {
      const response = await this.process({
        kind: GraphQLDataSourceRequestKind.HEALTH_CHECK,
        request: { query: HEALTH_CHECK_QUERY },
        context: {},
      });
      return !response.errors?.length;
    } catch {
      return false;
    }
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
  const first = parsed.errors?.[0];
  const code = first?.extensions?.code;
  if (typeof first?.message !== 'string' || (code !== 'BAD_USER_INPUT' && code !== 'GRAPHQL_VALIDATION_FAILED')) return undefined;
  return first.message.slice(0, MAX_REFUSAL_MESSAGE);
}

function toSubgraphError(name: string, error: Error): GraphQLError {
  if ((error as GraphQLError).extensions?.service === name) return error as GraphQLError;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') {
    return gqlError('SUBGRAPH_TIMEOUT', `The ${name} data product did not answer in time`, { service: name });
  }
  if (error instanceof SyntaxError) {
    return gqlError('SUBGRAPH_ERROR', `The ${name} data product sent an invalid response`, { service: name });
  }
  return gqlError('SUBGRAPH_UNAVAILABLE', `The ${name} data product is unavailable`, { service: name });
}

const LATENCY_SAMPLES = 1_000;

/** Traced: the status of each call on the active span (gateway.fetch), the one the call was made in. */
function statusRecordingFetcher(fetcher: Fetcher): Fetcher {
  const recording = async (...args: Parameters<Fetcher>) => {
    const response = await fetcher(...args);
    trace.getActiveSpan()?.setAttribute(SEMCONV.HTTP_RESPONSE_STATUS_CODE, response.status);
    return response;
  };
  return recording as Fetcher;
}

/** Node's fetch with a deadline covering the headers and the body. */
function timeoutFetcher(timeoutMs: number): Fetcher {
  const fetcher = (url: string, init?: RequestInit) => fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  return fetcher as unknown as Fetcher;
}
