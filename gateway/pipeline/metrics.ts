import type { GatewayMetrics } from '../metrics.js';
import { createCap, normalizeName } from '../usage/clients.js';
import { operationOutcome } from './outcome.js';
import type { Stage } from './stage.js';

/** Distinct operation names labelled per process before newcomers become `other`. */
export const MAX_OPERATION_LABELS = 1_000;

/** Requests and latency by operation and outcome, for Prometheus. */
export function metricsStage(metrics: GatewayMetrics): Stage {
  const capOperation = createCap(MAX_OPERATION_LABELS);
  return {
    name: 'metrics',
    responding({ context, state, response, operationName }) {
      const outcome = operationOutcome(state, response);
      const operation = capOperation(normalizeName(operationName) ?? 'anonymous');
      metrics.requests.inc({ operation, outcome });
      metrics.requestDuration.observe({ operation, outcome }, (performance.now() - context.startedAt) / 1000);
      if (outcome === 'rate_limited' || outcome === 'rejected') metrics.rateLimitRejections.inc({ kind: outcome });
    },
  };
}
