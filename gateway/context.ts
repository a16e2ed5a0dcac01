import type { BaseContext } from '@apollo/server';
import type { ClassifiedAccess } from '../lib/classification/model.js';
import type { Logger } from '../lib/logger.js';
import type { Principal } from '../lib/principal.js';
import type { DeniedField } from './authz/enforce.js';
import type { RequestClient } from './documents/admission.js';
import type { Deprecation } from './deprecation/index.js';
import type { Bucket, Decision } from './limits/store.js';
import type { OperationAnalysis } from './operation/analysis.js';

/**
 * What the stages of one GraphQL operation know and decide, created when the operation starts and
 * filled in as it goes: each fact is computed once, by the stage that owns it, and read by the
 * others. Nothing is derived back from error messages or codes.
 */
export interface OperationState {
  /** The per-document analysis and this request's coerced variables; unset when the document did not parse or validate. */
  resolved: { readonly analysis: OperationAnalysis; readonly variables: Readonly<Record<string, unknown>> } | undefined;
  /** Static cost for these variables, once demand control priced it. */
  cost: number | undefined;
  /** What was spent from the caller's budgets (for the RateLimit headers). */
  spent: { readonly buckets: readonly Bucket[]; readonly decision: Decision } | undefined;
  /** Deprecated fields and arguments the operation uses. */
  deprecations: readonly Deprecation[];
  /** Fields the executor removed because the caller may not read them. */
  denied: readonly DeniedField[];
  /** How many FORBIDDEN errors the executor answered for them (one per denied path and coordinate). */
  forbiddenErrors: number;
  /** Classified fields the operation read or was refused, with the treatment applied (set by authorization). */
  classified: readonly ClassifiedAccess[];
  /** Set by the stage that refused the whole operation, for usage and metrics. */
  refusal: 'rate_limited' | 'rejected' | undefined;
  /** The fetches of the operation's query plan nothing waits for (gateway/subgraph/final-fetches.ts); set when the plan is resolved. */
  finalFetches: ReadonlySet<string> | undefined;
}

export function newOperationState(): OperationState {
  return { resolved: undefined, cost: undefined, spent: undefined, deprecations: [], denied: [], forbiddenErrors: 0, classified: [], refusal: undefined, finalFetches: undefined };
}

/**
 * Per-request state: created by the HTTP layer for each request, never shared between requests.
 * A batch runs its operations over shallow copies of one context: what belongs to the HTTP request
 * (`batch`) is shared by them, what belongs to one operation (`operation`) is set on each copy.
 */
export interface GatewayContext extends BaseContext {
  readonly requestId: string;
  /** A child logger that stamps every line with the request id. */
  readonly logger: Logger;
  /** Who is asking, authenticated before GraphQL runs. */
  readonly principal: Principal;
  /** Which client sends the request and what it may send (trusted-only or open): computed once, before the request is admitted. */
  readonly client: RequestClient;
  /** The peer address, which budgets anonymous callers. */
  readonly clientAddress: string;
  /** When the HTTP request arrived (performance.now()), for durations. */
  readonly startedAt: number;
  /** The summed cost of a batch's operations, which together may not exceed one operation's maxCost. */
  readonly batch: { cost: number };
  /** This operation's facts; set when it starts (see the pipeline). */
  operation: OperationState;
  /** The identity forwarded to one subgraph (its own audience): signed on first use, then reused by every call of the request to it. */
  identityToken(subgraph: string): Promise<string>;
}

export function isGatewayContext(value: unknown): value is GatewayContext {
  return typeof value === 'object' && value !== null && 'principal' in value && 'identityToken' in value;
}
