import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import type { GatewayContext } from '../context.js';
import type { OperationFactsCache } from '../operation/cache.js';
import { operationOutcome } from '../outcome.js';
import { clientIdentity, createClientLabels, type OverflowReason } from '../usage/clients.js';
import type { Outcome } from '../usage/model.js';
import type { UsageRecorder } from '../usage/recorder.js';

/**
 * Records every resolved operation's schema coordinates (from the per-document facts, so aliases
 * and fragments are already folded) with its client and outcome. A field the caller was not allowed
 * to read counts as `forbidden`, the rest of the operation as it ended.
 */
export function usagePlugin(options: {
  recorder: UsageRecorder;
  facts: OperationFactsCache;
  /** Distinct client name + version pairs counted per hour; the rest as `other`. */
  maxClientsPerHour: number;
  onClientOverflow?: (reason: OverflowReason) => void;
}): ApolloServerPlugin<GatewayContext> {
  const labelOf = createClientLabels({ maxPerHour: options.maxClientsPerHour, onOverflow: options.onClientOverflow });
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, document, operation, schema, request, contextValue }) {
          // Counted once the operation is resolved: documents that fail to parse or validate selected nothing.
          if (!document || !operation) return;
          let facts;
          try {
            facts = options.facts.factsOf(schema, document, request.operationName);
          } catch {
            return; // refused as too large before it could be analyzed
          }
          const errors: readonly GraphQLFormattedError[] | undefined = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const outcome = operationOutcome(errors);
          const denied = (errors ?? []).filter((e) => e.extensions?.code === 'FORBIDDEN' && e.path).map((e) => e.path!.join('.'));
          const under = (path: string) => denied.some((d) => path === d || path.startsWith(`${d}.`));
          const outcomeOf = (coordinate: string): Outcome => {
            if (outcome === 'rate_limited' || outcome === 'rejected') return outcome;
            const paths = facts.coordinatePaths.get(coordinate) ?? [];
            if (denied.length && paths.length && paths.every(under)) return 'forbidden';
            return outcome === 'forbidden' ? 'ok' : outcome;
          };
          const client = labelOf(clientIdentity({ get: (name) => request.http?.headers.get(name) }, contextValue.principal), outcome === 'rate_limited' || outcome === 'rejected');
          options.recorder.record({ coordinates: facts.coordinates, outcomeOf, client: client.name, version: client.version });
        },
      };
    },
  };
}
