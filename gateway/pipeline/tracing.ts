import type { GraphQLResponse } from '@apollo/server';
import { SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { activeTracer, ATTR, inSpan, SEMCONV } from '../../lib/tracing/tracer.js';
import type { OperationState } from '../context.js';
import { operationOutcome } from './outcome.js';

/**
 * The pipeline's spans, for one GraphQL operation: parse and validate (Apollo Server's, when the
 * document is not cached yet), one span per stage before execution, in the pipeline's order
 * (`pipeline.analysis`, `pipeline.demand-control`, `pipeline.deprecation`), one span for the
 * response's stages together (`pipeline.respond`: the request log, metrics, usage, the RateLimit
 * and Deprecation headers, microseconds each: a span apiece cost more than they showed, measured
 * by `npm run bench -- --tracing`), and what the operation came to on the HTTP request's span
 * (operation name and type, document hash, cost, outcome, error codes).
 * @apollo/gateway's own spans (gateway.request, .plan, .execute, .fetch) come from its executor.
 */
export interface OperationTracing {
  /** Starts `name`; the returned function ends it, failed under `errorType` when given an error. */
  span(name: string, errorType: string): (error?: unknown) => void;
  /** Runs one stage's `resolved` hook in its span, `pipeline.<stage>`. */
  stage<T>(stageName: string, run: () => T | Promise<T>): Promise<T>;
  /** Runs the stages' `responding` hooks, together, in one span: `pipeline.respond`. */
  respond<T>(run: () => T | Promise<T>): Promise<T>;
  responded(facts: { state: OperationState; response: GraphQLResponse; operationName: string | null | undefined; queryHash: string | undefined; batched: boolean }): void;
}

/** The pipeline's tracing, or undefined when this process does not trace (the pipeline then runs untraced). */
export function pipelineTracing(tracer: Tracer | undefined = activeTracer()): { operation(): OperationTracing } | undefined {
  if (!tracer) return undefined;
  return {
    operation() {
      // Called from requestDidStart, inside the HTTP request's span (lib/tracing/http.ts).
      const request: Span | undefined = trace.getActiveSpan();
      return {
        span(name, errorType) {
          const span = tracer.startSpan(name);
          return (error) => {
            // Never the error's message: a syntax error quotes the document.
            if (error) {
              span.setStatus({ code: SpanStatusCode.ERROR });
              span.setAttribute(SEMCONV.ERROR_TYPE, errorType);
            }
            span.end();
          };
        },
        stage: (stageName, run) => inSpan(tracer, `pipeline.${stageName.replace(/\s+/g, '-')}`, {}, run),
        respond: (run) => inSpan(tracer, 'pipeline.respond', {}, run),
        responded({ state, response, operationName, queryHash, batched }) {
          if (!request) return;
          // A batch's operations share one HTTP request: their own facts are on their gateway.request spans.
          if (batched) {
            request.setAttribute(ATTR.BATCH, true);
            return;
          }
          const outcome = operationOutcome(state, response);
          const operation = state.resolved?.analysis.operation;
          // The errors as the client gets them: masked to the closed code set (a subgraph's own codes never pass).
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          request.setAttributes({
            [ATTR.OUTCOME]: outcome,
            ...(operationName ? { [ATTR.GRAPHQL_OPERATION_NAME]: operationName } : {}),
            ...(operation ? { [ATTR.GRAPHQL_OPERATION_TYPE]: operation.operation } : {}),
            ...(queryHash ? { [ATTR.DOCUMENT_HASH]: queryHash } : {}),
            ...(state.cost !== undefined ? { [ATTR.COST]: state.cost } : {}),
            ...(state.deprecations.length ? { [ATTR.DEPRECATIONS]: state.deprecations.length } : {}),
            ...(errors?.length ? { [ATTR.ERROR_CODES]: [...new Set(errors.map((e) => String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR')))] } : {}),
          });
          // Refusals (forbidden, rate limited, over a limit) are answers; only an operation that went wrong is an error.
          if (outcome === 'error') request.setStatus({ code: SpanStatusCode.ERROR });
        },
      };
    },
  };
}
