import type { GatewayExecutionResult, GatewayExecutor } from '@apollo/server-gateway-interface';
import { GraphQLError } from 'graphql';
import { isGatewayContext, type OperationState } from '../context.js';
import type { OperationAnalysis } from '../operation/analysis.js';
import type { CachedAnswer } from './freshness.js';
import type { InflightSharing } from './inflight.js';
import { executionKey, grantSetOf, subjectOf } from './key.js';
import type { OperationReach } from './reach.js';
import type { ResponseCache } from './response-cache.js';
import type { SharedJson } from './shared-json.js';

/** What the response cache did for one operation, for its response headers. */
export type CacheOutcome =
  /** Answered from the cache. */
  | { readonly kind: 'hit'; readonly answer: Pick<CachedAnswer, 'fetchedAt' | 'expiresAt'> }
  /** Executed, and kept for the next callers. */
  | { readonly kind: 'stored'; readonly answer: Pick<CachedAnswer, 'fetchedAt' | 'expiresAt'> }
  /** Executed and not kept (not cacheable, an error in the answer, too large). */
  | { readonly kind: 'not-stored' };

export interface ShareExecutionOptions {
  /** Absent: INBOUND_DEDUP=off. */
  readonly inflight: InflightSharing | undefined;
  /** Absent: RESPONSE_CACHE=off. */
  readonly cache: ResponseCache | undefined;
  readonly reach: (analysis: OperationAnalysis) => OperationReach;
  /** The supergraph being served (its hash). */
  readonly generation: string;
  readonly now: () => number;
  /** Where the operation's cache outcome is written (one entry per operation state). */
  readonly outcomes: WeakMap<OperationState, CacheOutcome>;
  /** Called once per caller that joined another's execution. */
  onShared(): void;
  /** Told about data delivered to several callers, whose JSON is then written once. */
  readonly json: Pick<SharedJson, 'markShared'>;
}

type Answer = { readonly result: GatewayExecutionResult; readonly outcome: CacheOutcome };

/**
 * The shared part of an operation: the execution of what authorization allowed, after every stage
 * of the caller's own pipeline ran (analysis, demand control, deprecation: each caller is charged,
 * counted and answered with its own headers). Identical queries of callers with equal grants that
 * are in flight at once execute once; with the response cache on, a fresh kept answer is served
 * instead of executing. Mutations always execute, once per caller. Every caller gets its own copy.
 */
export function shareExecution(options: ShareExecutionOptions): (execute: GatewayExecutor) => GatewayExecutor {
  const { inflight, cache, now } = options;
  return (execute) => async (request) => {
    const context = request.context;
    const state = isGatewayContext(context) ? context.operation : undefined;
    if (!isGatewayContext(context) || !state?.resolved || request.operation.operation !== 'query') return execute(request);
    const reach = options.reach(state.resolved.analysis);
    const key = executionKey({
      generation: options.generation,
      queryHash: request.queryHash,
      operationName: request.operationName,
      variables: request.request.variables,
      grants: grantSetOf(context.principal),
      subject: reach.subjectBound ? subjectOf(context.principal) : undefined,
    });
    const cacheability = cache?.cacheability(reach.products);
    const ttlMs = cacheability?.cacheable ? cacheability.ttlMs : undefined;

    const work = async (): Promise<Answer> => {
      if (cache && ttlMs !== undefined) {
        const kept = await cache.lookup(options.generation, key, ttlMs);
        if (kept) return { result: { data: kept.data }, outcome: { kind: 'hit', answer: kept } };
      }
      const fetchedAt = now();
      const result = await execute(request);
      // An answer with errors is never kept: a failure would be served for the whole window.
      if (cache && ttlMs !== undefined && result.data && !result.errors?.length && !result.extensions) {
        const saved = await cache.save(options.generation, key, result.data, fetchedAt, ttlMs);
        if (saved) return { result, outcome: { kind: 'stored', answer: saved } };
      }
      return { result, outcome: { kind: 'not-stored' } };
    };

    const { value, shared, callers } = inflight ? await inflight.run(key, work) : { value: await work(), shared: false, callers: 1 };
    if (shared) options.onShared();
    if (cache) {
      options.outcomes.set(state, value.outcome);
      if (ttlMs !== undefined) cache.stats.record(reach.products, value.outcome.kind === 'hit');
    }
    // Authorization writes into the data it gets back when it removed fields (nulls where they
    // were): such a caller gets its own copy. Otherwise nothing writes into the data (treatments
    // copy on write), and a large answer is not cloned once per caller.
    if (callers === 1) return value.result;
    const copy = copyOf(value.result, state.denied.length > 0);
    if (copy.data === value.result.data) options.json.markShared(copy.data);
    return copy;
  };
}

/** A copy of an execution result: the data deep (JSON-like) when the caller writes into it, else shared; extensions copied, errors rebuilt. */
function copyOf(result: GatewayExecutionResult, copyData: boolean): GatewayExecutionResult {
  return {
    ...(result.data !== undefined ? { data: result.data === null || !copyData ? result.data : structuredClone(result.data) } : {}),
    ...(result.errors ? { errors: result.errors.map(copyError) } : {}),
    ...(result.extensions ? { extensions: structuredClone(result.extensions) } : {}),
  };
}

function copyError(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path ? [...error.path] : undefined,
    originalError: error.originalError,
    extensions: cloned(error.extensions),
  });
}

/** Extensions are plain data in practice; anything structuredClone refuses is copied one level deep. */
function cloned(extensions: GraphQLError['extensions']): Record<string, unknown> {
  try {
    return structuredClone(extensions);
  } catch {
    return { ...extensions };
  }
}
