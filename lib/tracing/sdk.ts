import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import type { Logger } from '../logger.js';
import { fromPackageRoot } from '../package-root.js';
import type { TracingConfig } from './settings.js';
import { SEMCONV, setActiveTracer } from './tracer.js';

/** The name our own spans are created under (the instrumentation scope). */
export const INSTRUMENTATION_SCOPE = 'data-product-gateway';

/**
 * The BatchSpanProcessor's bounds, the specification's defaults written out so that no OTEL_BSP_*
 * variable changes them behind the configuration's back: spans wait at most 5 s, at most 2048 are
 * queued (more are dropped, never blocking a request), 512 go per export.
 */
const BATCH = { scheduledDelayMillis: 5_000, maxQueueSize: 2_048, maxExportBatchSize: 512 } as const;
/**
 * On shutdown, how long queued spans may take to reach the collector. Short: it comes after the
 * drain (SHUTDOWN_GRACE_MS) and the usage flush, within the orchestrator's grace period; a
 * collector that cannot take them in this time would not take them at all.
 */
export const TRACING_FLUSH_DEADLINE_MS = 2_000;
/** Attribute values longer than this are cut: an operation name is the client's to choose. */
const ATTRIBUTE_VALUE_LIMIT = 512;

export interface Tracing {
  readonly enabled: boolean;
  /** Exports what is still queued (at most `deadlineMs`), then unregisters the SDK. */
  shutdown(deadlineMs: number): Promise<void>;
}

const OFF: Tracing = { enabled: false, shutdown: async () => undefined };

/**
 * Registers the OpenTelemetry trace SDK for this process when the configuration asks for it: a
 * tracer provider with the configured sampler and a batching OTLP/HTTP exporter, the
 * AsyncLocalStorage context manager (a span started in a request is the parent of those started
 * later in the same request) and the W3C trace-context propagator (traceparent, tracestate; no
 * baggage, which would carry whatever a caller put in it). Nothing else: no auto-instrumentation of
 * every library, which would cost on every request whether anybody reads the spans or not.
 * @apollo/gateway creates its spans through @opentelemetry/api, so once this provider is registered
 * they are exported with ours.
 *
 * Off, nothing is loaded: the SDK packages are imported here, on demand, and never otherwise.
 * Call it before the servers are built: components ask `activeTracer()` once, when they are built.
 */
export async function startTracing(config: TracingConfig, options: { defaultServiceName: string; logger: Logger }): Promise<Tracing> {
  if (!config.enabled) return OFF;
  const { logger } = options;
  const [{ TracerProvider, BatchSpanProcessor, ParentBasedSampler, AlwaysOnSampler, AlwaysOffSampler, TraceIdRatioBasedSampler }, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, { defaultResource, resourceFromAttributes }] =
    await Promise.all([import('@opentelemetry/sdk-trace'), import('@opentelemetry/context-async-hooks'), import('@opentelemetry/core'), import('@opentelemetry/resources')]);
  const { OTLPTraceExporter } =
    config.exporter.protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');

  // The SDK reports its own trouble (an export that failed, a full queue) through diag: into our logs.
  diag.setLogger(
    {
      error: (message, ...args) => logger.warn({ details: args.map(describe) }, `tracing: ${message}`),
      warn: (message, ...args) => logger.warn({ details: args.map(describe) }, `tracing: ${message}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );

  const root = (() => {
    const { kind, ratio } = config.sampler;
    if (kind === 'always_on' || kind === 'parentbased_always_on') return new AlwaysOnSampler();
    if (kind === 'always_off' || kind === 'parentbased_always_off') return new AlwaysOffSampler();
    return new TraceIdRatioBasedSampler(ratio);
  })();
  const sampler = config.sampler.kind.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;

  const exporter = new OTLPTraceExporter({
    url: config.exporter.url,
    headers: { ...config.exporter.headers },
    timeoutMillis: config.exporter.timeoutMs,
    // The exporter's option is a string enum of the same two values.
    compression: config.exporter.compression as NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>['compression'],
  });
  const provider = new TracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({
        ...config.resourceAttributes,
        // OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES, as the specification says.
        [SEMCONV.SERVICE_NAME]: config.serviceName ?? config.resourceAttributes[SEMCONV.SERVICE_NAME] ?? options.defaultServiceName,
        [SEMCONV.SERVICE_VERSION]: packageVersion(),
        // Replicas share a service name: the instance tells them apart.
        [SEMCONV.SERVICE_INSTANCE_ID]: randomUUID(),
      }),
    ),
    sampler,
    spanLimits: { attributeValueLengthLimit: ATTRIBUTE_VALUE_LIMIT },
    spanProcessors: [new BatchSpanProcessor({ exporter, ...BATCH, exportTimeoutMillis: config.exporter.timeoutMs })],
  });

  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  setActiveTracer(provider.getTracer(INSTRUMENTATION_SCOPE, packageVersion()));
  logger.info({ exporter: config.exporter.url.replace(/\/\/[^@/]*@/, '//'), protocol: config.exporter.protocol, sampler: config.sampler.kind }, 'tracing on');

  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    shutdown(deadlineMs) {
      stopped ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)));
        // shutdown() flushes the batch processor first: the spans of the last requests go out.
        const done = await Promise.race([provider.shutdown().then(() => 'done' as const, () => 'failed' as const), deadline]);
        clearTimeout(timer);
        if (done !== 'done') logger.warn({ deadlineMs }, done === 'late' ? 'tracing: spans still queued at the shutdown deadline were dropped' : 'tracing: the last export failed');
        setActiveTracer(undefined);
        trace.disable();
        propagation.disable();
        context.disable();
        diag.disable();
      })();
      return stopped;
    },
  };
}

/** An Error serializes to {} in JSON: its message instead. */
function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

let version: string | undefined;
/** This package's version (package.json), the service.version of every process. */
function packageVersion(): string {
  version ??= String((JSON.parse(readFileSync(fromPackageRoot('package.json'), 'utf8')) as { version?: unknown }).version ?? '0.0.0');
  return version;
}
