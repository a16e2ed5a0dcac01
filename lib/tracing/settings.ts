import { z } from 'zod';

/**
 * The standard OpenTelemetry variables this project honours for traces, read and validated once at
 * start with the rest of each process's configuration (gateway/config.ts, subgraphs/config.ts), so
 * a mistake stops the process with a message naming the variable instead of an SDK silently
 * falling back to a default. Names and meanings are the OpenTelemetry specification's
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/ and the OTLP
 * exporter's); other OTEL_* variables are not read.
 */

/** OTLP over HTTP, as @opentelemetry/exporter-trace-otlp-proto and -http send it. gRPC is not shipped. */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** The specification's built-in samplers (jaeger_remote and xray need components we do not ship). */
export const TRACES_SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;
export type TracesSampler = (typeof TRACES_SAMPLERS)[number];

/** The specification's defaults. */
export const DEFAULT_OTLP_PROTOCOL: OtlpProtocol = 'http/protobuf';
export const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318';
export const DEFAULT_OTLP_TIMEOUT_MS = 10_000;
export const DEFAULT_TRACES_SAMPLER: TracesSampler = 'parentbased_always_on';

const httpUrl = z.string().refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), 'expected an http(s) URL such as http://collector:4318');

/** The specification's booleans: "true" or "false", any case. */
const specBool = z
  .string()
  .regex(/^(true|false)$/i, 'expected true or false')
  .transform((value) => value.toLowerCase() === 'true');

/** `key=value,key=value` with percent-encoded values (W3C Baggage syntax without properties), as both header and resource lists are written. */
const keyValueList = (what: string) =>
  z.string().transform((value, ctx) => {
    const pairs: Record<string, string> = {};
    for (const item of value.split(',').map((part) => part.trim()).filter(Boolean)) {
      const eq = item.indexOf('=');
      const key = eq > 0 ? item.slice(0, eq).trim() : '';
      let decoded: string | undefined;
      try {
        decoded = eq > 0 ? decodeURIComponent(item.slice(eq + 1).trim()) : undefined;
      } catch {
        decoded = undefined;
      }
      if (!key || decoded === undefined || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(key)) {
        // The value is not shown: headers carry credentials.
        ctx.addIssue({ code: 'custom', message: `expected ${what} written key=value, separated by commas (values percent-encoded)` });
        return z.NEVER;
      }
      pairs[key] = decoded;
    }
    return pairs;
  });

const protocol = z.string().refine((value): value is OtlpProtocol => (OTLP_PROTOCOLS as readonly string[]).includes(value), {
  message: `expected ${OTLP_PROTOCOLS.join(' or ')} (OTLP over HTTP; grpc is not supported)`,
});
const timeoutMs = z.coerce.number().int().min(1).max(600_000);
const compression = z.enum(['gzip', 'none']);

/** Spread into each process's environment schema: these keys are then documented, validated and checked against docker-compose.yml like any other. */
export const TRACING_ENV = {
  OTEL_SDK_DISABLED: specBool.default(false),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'none'], { message: 'expected otlp or none (other exporters are not shipped)' }).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol.optional(),
  OTEL_EXPORTER_OTLP_HEADERS: keyValueList('headers').optional(),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValueList('headers').optional(),
  OTEL_EXPORTER_OTLP_TIMEOUT: timeoutMs.optional(),
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: timeoutMs.optional(),
  OTEL_EXPORTER_OTLP_COMPRESSION: compression.optional(),
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: compression.optional(),
  OTEL_SERVICE_NAME: z.string().min(1).max(255).optional(),
  OTEL_RESOURCE_ATTRIBUTES: keyValueList('resource attributes').optional(),
  OTEL_TRACES_SAMPLER: z.enum(TRACES_SAMPLERS, { message: `expected one of ${TRACES_SAMPLERS.join(', ')}` }).optional(),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
};

/** Never echoed in a configuration error: headers carry collector credentials, and a URL may hold a password. */
export const TRACING_SECRET_KEYS: readonly string[] = [
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
];

type TracingEnv = z.infer<z.ZodObject<typeof TRACING_ENV>>;

/** How this process exports traces; `enabled: false` means no SDK is loaded at all. */
export type TracingConfig =
  | { readonly enabled: false }
  | {
      readonly enabled: true;
      readonly exporter: {
        /** Where spans are POSTed: the full traces URL. */
        readonly url: string;
        readonly protocol: OtlpProtocol;
        readonly headers: Readonly<Record<string, string>>;
        readonly timeoutMs: number;
        readonly compression: 'gzip' | 'none';
      };
      /** OTEL_SERVICE_NAME; undefined: the process's own default (data-product-gateway, data-product-<name>). */
      readonly serviceName: string | undefined;
      readonly resourceAttributes: Readonly<Record<string, string>>;
      readonly sampler: { readonly kind: TracesSampler; readonly ratio: number };
    };

/**
 * Off unless asked for: OTEL_SDK_DISABLED=true wins, OTEL_TRACES_EXPORTER=none turns it off, and
 * otherwise tracing is on when OTEL_TRACES_EXPORTER=otlp or an OTLP endpoint is set. (The
 * specification's default exporter is otlp; a gateway that started exporting to localhost:4318
 * because nobody said otherwise would cost every request for nothing, so here the default is off.)
 */
export function tracingConfigOf(e: TracingEnv): TracingConfig {
  const endpoint = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? e.OTEL_EXPORTER_OTLP_ENDPOINT;
  const wanted = e.OTEL_TRACES_EXPORTER === 'otlp' || (e.OTEL_TRACES_EXPORTER === undefined && endpoint !== undefined);
  if (e.OTEL_SDK_DISABLED || !wanted) return Object.freeze({ enabled: false });
  return Object.freeze({
    enabled: true,
    exporter: Object.freeze({
      url: e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? tracesUrl(e.OTEL_EXPORTER_OTLP_ENDPOINT ?? DEFAULT_OTLP_ENDPOINT),
      protocol: (e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? DEFAULT_OTLP_PROTOCOL) as OtlpProtocol,
      // The specific list wins key by key, as the specification says.
      headers: Object.freeze({ ...e.OTEL_EXPORTER_OTLP_HEADERS, ...e.OTEL_EXPORTER_OTLP_TRACES_HEADERS }),
      timeoutMs: e.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? e.OTEL_EXPORTER_OTLP_TIMEOUT ?? DEFAULT_OTLP_TIMEOUT_MS,
      compression: e.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION ?? e.OTEL_EXPORTER_OTLP_COMPRESSION ?? 'none',
    }),
    serviceName: e.OTEL_SERVICE_NAME,
    resourceAttributes: Object.freeze({ ...e.OTEL_RESOURCE_ATTRIBUTES }),
    sampler: Object.freeze({ kind: e.OTEL_TRACES_SAMPLER ?? DEFAULT_TRACES_SAMPLER, ratio: e.OTEL_TRACES_SAMPLER_ARG ?? 1 }),
  });
}

/** OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: traces go to <base>/v1/traces (the signal-specific variable is used as is). */
function tracesUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}
