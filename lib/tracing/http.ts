import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link } from '@opentelemetry/api';
import type { RequestScope } from '../http-server.js';
import { activeTracer, ATTR, SEMCONV } from './tracer.js';

type Route = (req: IncomingMessage, res: ServerResponse, scope: RequestScope) => Promise<void> | void;

/**
 * What a server does with the trace context (W3C `traceparent` and `tracestate`) a request carries:
 * - `trust`: continue the caller's trace (the caller's span is the parent, its sampling decision holds);
 * - `ignore`: start a new trace, linked to the caller's span so the two can still be found together;
 * - `continue-only`: continue the caller's trace, and record nothing for a request that carries none.
 *   The data products use it: the gateway is their only caller, and its own untraced calls (health
 *   checks, catalogue refreshes) would otherwise each start a trace of their own.
 */
export type IncomingTraceContext = 'trust' | 'ignore' | 'continue-only';

export interface ServerSpanOptions {
  readonly incoming: IncomingTraceContext;
  /** The route's template, `http.route` and the span's name (`POST /graphql`): the query string never. */
  readonly route: string;
  /** Attributes every span of this route carries (the data product's name and version). */
  readonly attributes?: Attributes;
}

/**
 * One SERVER span per request of a route, active while the route runs (the spans of everything it
 * does are its descendants), ended when the response is done, with the status code. Attributes are
 * the method, the route and path (never the query string: a GET carries the query and variables
 * there), the request id; the route adds what it knows (operation name, outcome) to the active span.
 * Without tracing the route is returned as it is.
 */
export function serverSpan(handler: Route, options: ServerSpanOptions): Route {
  const tracer = activeTracer();
  if (!tracer) return handler;
  const name = (method: string | undefined) => `${method ?? 'GET'} ${options.route}`;
  return (req, res, scope) => {
    const carried = propagation.extract(ROOT_CONTEXT, req.headers);
    const callerSpan = trace.getSpanContext(carried);
    if (options.incoming === 'continue-only' && !callerSpan) return handler(req, res, scope);
    const parent: Context = options.incoming === 'ignore' ? ROOT_CONTEXT : carried;
    const links: Link[] | undefined = options.incoming === 'ignore' && callerSpan ? [{ context: callerSpan }] : undefined;
    const span = tracer.startSpan(
      name(req.method),
      {
        kind: SpanKind.SERVER,
        links,
        attributes: {
          [SEMCONV.HTTP_REQUEST_METHOD]: req.method ?? 'GET',
          [SEMCONV.HTTP_ROUTE]: options.route,
          [SEMCONV.URL_PATH]: options.route,
          [SEMCONV.URL_SCHEME]: 'http',
          [ATTR.REQUEST_ID]: scope.requestId,
          ...options.attributes,
        },
      },
      parent,
    );
    // 'close' comes once the response is sent, or the connection is gone: either way the request is over.
    res.once('close', () => {
      if (res.headersSent) {
        span.setAttribute(SEMCONV.HTTP_RESPONSE_STATUS_CODE, res.statusCode);
        // Server spans fail on 5xx only: a 4xx is the caller's mistake, not the server's (semantic conventions).
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    });
    return context.with(trace.setSpan(parent, span), () => handler(req, res, scope));
  };
}
