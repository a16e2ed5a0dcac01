import type { Outcome } from '../usage/model.js';
import { createClientLabels, type OverflowReason } from '../usage/clients.js';
import { createOperationLabeler } from '../usage/operations.js';
import type { UsageRecorder } from '../usage/recorder.js';
import { operationOutcome } from './outcome.js';
import type { Stage } from './stage.js';

/**
 * Records every resolved operation's schema coordinates (from its analysis, so aliases and
 * fragments are already folded) with its client and outcome. A field the executor denied counts
 * as `forbidden` (every place the operation selected it was denied), the rest as the operation ended.
 */
export function usageStage(options: {
  recorder: UsageRecorder;
  /** Distinct client name + version pairs counted per hour; the rest as `other`. */
  maxClientsPerHour: number;
  /** The clock of the hourly label cap (the recorder's own). */
  now?: () => number;
  onClientOverflow?: (reason: OverflowReason) => void;
}): Stage {
  const labelOf = createClientLabels({ maxPerHour: options.maxClientsPerHour, now: options.now, onOverflow: options.onClientOverflow });
  // The operation's label (name and document hash), once per analysed document.
  const operationOf = createOperationLabeler();
  return {
    name: 'usage',
    responding({ context, state, response, queryHash }) {
      // Counted once the operation is resolved: documents that fail to parse or validate selected nothing.
      if (!state.resolved) return;
      const { analysis } = state.resolved;
      const outcome = operationOutcome(state, response);
      const denied = state.denied.map((d) => d.field.path.join('.'));
      const under = (path: string) => denied.some((d) => path === d || path.startsWith(`${d}.`));
      const outcomeOf = (coordinate: string): Outcome => {
        if (outcome === 'rate_limited' || outcome === 'rejected') return outcome;
        const paths = analysis.coordinatePaths.get(coordinate) ?? [];
        if (denied.length && paths.length && paths.every(under)) return 'forbidden';
        return outcome === 'forbidden' ? 'ok' : outcome;
      };
      // The client as the request's context names it (computed once, when the request was admitted).
      const client = labelOf(context.client, outcome === 'rate_limited' || outcome === 'rejected');
      options.recorder.record({ coordinates: analysis.coordinates, outcomeOf, client: client.name, version: client.version, operation: operationOf(analysis, queryHash) });
    },
  };
}
