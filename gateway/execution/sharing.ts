import type { GatewayExecutor } from '@apollo/server-gateway-interface';
import type { DocumentNode } from 'graphql';
import type { Logger } from '../../lib/logger.js';
import { indexClassifications } from '../../lib/classification/index.js';
import { atOrAbove } from '../../lib/classification/model.js';
import { PLATFORM_SUBGRAPH } from '../../subgraphs/platform/index.js';
import type { GatewayConfig } from '../config.js';
import type { OperationState } from '../context.js';
import type { GatewayMetrics } from '../metrics.js';
import { cacheHeadersStage } from '../pipeline/cache-headers.js';
import type { Stage } from '../pipeline/stage.js';
import { createInflightSharing, type InflightSharing } from './inflight.js';
import { createReach } from './reach.js';
import { createResponseCache, type ResponseCache } from './response-cache.js';
import { shareExecution, type CacheOutcome } from './share.js';
import { createSharedJson, type SharedJson } from './shared-json.js';

/** What one supergraph's engine takes from the process-wide sharing: its executor wrapper and its response stage. */
export interface EngineSharing {
  readonly wrap: (execute: GatewayExecutor) => GatewayExecutor;
  /** The response headers stage; undefined when the response cache is off. */
  readonly stage: Stage | undefined;
}

/**
 * Work shared across requests, for the whole process: the runs in flight and the response cache
 * outlive a supergraph reload (the supergraph's hash is part of every key), engines come and go.
 */
export interface ExecutionSharing {
  forSupergraph(supergraph: { readonly document: DocumentNode; readonly hash: string }): EngineSharing;
  /** The catalogue's cache hit rate of a product; null before any lookup (and with the cache off). */
  hitRate(product: string): number | null;
  /** Apollo Server's `stringifyResult`: the JSON of an answer several callers share is written once. */
  readonly stringifyResult: SharedJson['stringifyResult'];
  /** The bytes of a response body: a shared body's are encoded once. */
  readonly encodeBody: SharedJson['encodeBody'];
  /** Resolves once `count` callers wait on executions at once (tests). */
  whenCallers(count: number): Promise<void>;
  ready(): Promise<void>;
  close(): Promise<void>;
}

export function createExecutionSharing(deps: {
  config: Pick<GatewayConfig, 'execution' | 'redis'>;
  logger: Logger;
  metrics: GatewayMetrics;
  now: () => number;
  freshnessMinutesOf(product: string): number | undefined;
}): ExecutionSharing {
  const { execution } = deps.config;
  const json = createSharedJson();
  const inflight: InflightSharing | undefined = execution.inboundDedup ? createInflightSharing() : undefined;
  const cache: ResponseCache | undefined = execution.responseCache
    ? createResponseCache({
        settings: execution.responseCache,
        redis: deps.config.redis,
        freshnessMinutesOf: deps.freshnessMinutesOf,
        logger: deps.logger,
        now: deps.now,
        onStoreFailure: () => deps.metrics.responseCacheStoreFailures.inc(),
        onLookup: (hit) => deps.metrics.responseCacheLookups.inc({ result: hit ? 'hit' : 'miss' }),
      })
    : undefined;
  const outcomes = new WeakMap<OperationState, CacheOutcome>();
  return {
    forSupergraph(supergraph) {
      const personalFields = new Set([...indexClassifications(supergraph.document)].filter(([, c]) => atOrAbove(c.level, 'PII')).map(([coordinate]) => coordinate));
      const reach = createReach(supergraph.document, { personalDataScopes: execution.personalDataScopes, subjectBoundSubgraphs: new Set([PLATFORM_SUBGRAPH]), personalFields });
      return {
        wrap: shareExecution({ inflight, cache, reach, generation: supergraph.hash, now: deps.now, outcomes, json, onShared: () => deps.metrics.inboundRequestsShared.inc() }),
        stage: cache ? cacheHeadersStage({ outcomeOf: (state) => outcomes.get(state), now: deps.now }) : undefined,
      };
    },
    stringifyResult: json.stringifyResult,
    encodeBody: json.encodeBody,
    hitRate: (product) => cache?.stats.hitRate(product) ?? null,
    whenCallers: (count) => inflight?.whenCallers(count) ?? Promise.reject(new Error('INBOUND_DEDUP is off')),
    ready: async () => cache?.store.ready(),
    close: async () => cache?.store.close(),
  };
}
