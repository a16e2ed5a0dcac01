import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../context.js';
import type { GatewayMetrics } from '../metrics.js';
import { operationOutcome } from '../outcome.js';
import { createCap, normalizeName } from '../usage/clients.js';

/** Distinct operation names labelled per process before newcomers become `other`. */
export const MAX_OPERATION_LABELS = 1_000;

/** Requests and latency by operation and outcome, for Prometheus. */
export function metricsPlugin(metrics: GatewayMetrics): ApolloServerPlugin<GatewayContext> {
  const capOperation = createCap(MAX_OPERATION_LABELS);
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ response, operationName }) {
          const outcome = operationOutcome(response.body.kind === 'single' ? response.body.singleResult.errors : undefined);
          const operation = capOperation(normalizeName(operationName) ?? 'anonymous');
          metrics.requests.inc({ operation, outcome });
          metrics.requestDuration.observe({ operation, outcome }, (performance.now() - started) / 1000);
          if (outcome === 'rate_limited' || outcome === 'rejected') metrics.rateLimitRejections.inc({ kind: outcome });
        },
      };
    },
  };
}
