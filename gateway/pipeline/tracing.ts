import type { GraphQLResponse } from '@apollo/server';
import { SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { activeTracer, ATTR, inSpan } from '../../lib/tracing/tracer.js';
import type { OperationState } from '../context.js';
import { operationOutcome } from './outcome.js';

/**
 * The pipeline's spans, for one GraphQL operation: parse and validate (Apollo Server's, when the
 * document is not cached yet), one span per stage and phase in the pipeline's order
 * (`pipeline.analysis`, `pipeline.demand-control`, ..., `pipeline.usage.respond`), and what the
 * operation came to on the HTTP request's span (operation name and type, document hash, cost,
 * outcome, error codes). A stage with both hooks has two spans: `pipeline.demand-control` prices
 * and spends before execution, `pipeline.demand-control.respond` writes the RateLimit headers.
 * @apollo/gateway's own spans (gateway.request, .plan, .execute, .fetch) come from its executor.
 */
export interface OperationTracing {
  /** Starts `name`; the returned function ends it, failed under `errorType` when given an error. */
  span(name: string, errorType: string): (error?: unknown) => void;
  /** Runs one stage's hook in its span: `pipeline.<stage>` before execution, `pipeline.<stage>.respond` for the response. */
  stage<T>(stageName: string, phase: 'resolved' | 'responding', run: () => T | Promise<T>): Promise<T>;
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
              span.setAttribute('error.type', errorType);
            }
            span.end();
          };
        },
        stage: (stageName, phase, run) => inSpan(tracer, `pipeline.${stageName.replace(/\s+/g, '-')}${phase === 'responding' ? '.respond' : ''}`, {}, run),
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
