import type { BudgetView } from '../../subgraphs/platform/index.js';
import { requestError } from '../../lib/errors.js';
import type { Principal } from '../../lib/principal.js';
import type { GatewayContext, OperationState } from '../context.js';
import type { RateLimitPolicy } from '../limits/policy.js';
import { RateLimitStoreUnavailable } from '../limits/resilient-store.js';
import type { Bucket, Decision, RateLimitStore } from '../limits/store.js';
import { checkOperation } from '../limits/operation-limits.js';
import type { Stage } from './stage.js';

/**
 * Whose budget a request spends: the principal (issuer + subject; a client-credentials token's
 * subject is its client), never the OAuth client its users share; anonymous callers by address.
 */
export function callerKey(principal: Principal, clientAddress: string): string {
  if (principal.kind === 'anonymous') return `address:${clientAddress}`;
  return `principal:${principal.issuer}:${principal.subject}`;
}

/** The buckets one request spends from: its caller's budget, then its client's ceiling when there is one (widest last). */
export function bucketsOf(policy: RateLimitPolicy, principal: Principal, clientAddress: string): Bucket[] {
  const buckets: Bucket[] = [{ key: callerKey(principal, clientAddress), budget: policy.budgetOf(principal) }];
  const ceiling = policy.ceilingOf(principal);
  if (ceiling && principal.kind === 'authenticated') buckets.push({ key: `client:${principal.issuer}:${principal.clientId}`, budget: ceiling });
  return buckets;
}

const POLICY_NAMES = [
  ['requests', 'cost'],
  ['client-requests', 'client-cost'],
] as const;

/** RateLimit-Policy / RateLimit (IETF httpapi ratelimit headers draft), one pair of policies per bucket; the caller is never named. */
export function rateLimitHeaders(buckets: readonly Bucket[], windowMs: number, decision: Decision): Record<string, string> {
  const w = Math.ceil(windowMs / 1000);
  const policies: string[] = [];
  const states: string[] = [];
  buckets.forEach((bucket, i) => {
    const [requests, cost] = POLICY_NAMES[Math.min(i, POLICY_NAMES.length - 1)]!;
    const state = decision.buckets[i]!;
    const t = Math.ceil(state.resetMs / 1000);
    policies.push(`"${requests}";q=${bucket.budget.requests};w=${w}`, `"${cost}";q=${bucket.budget.cost};w=${w}`);
    states.push(`"${requests}";r=${state.remainingRequests};t=${t}`, `"${cost}";r=${state.remainingCost};t=${t}`);
  });
  return { 'ratelimit-policy': policies.join(', '), ratelimit: states.join(', ') };
}

/** The budgets a request spent, as the platform API's `myAccess.budgets` shows them (bucket 0 the caller's, 1 the client's ceiling). */
export function budgetViewsOf(spent: NonNullable<OperationState['spent']>, windowMs: number, now: number): BudgetView[] {
  return spent.buckets.map((bucket, i) => {
    const state = spent.decision.buckets[i]!;
    return {
      scope: i === 0 ? 'caller' : 'client',
      requests: bucket.budget.requests,
      remainingRequests: state.remainingRequests,
      cost: bucket.budget.cost,
      remainingCost: state.remainingCost,
      windowSeconds: Math.ceil(windowMs / 1000),
      resetsAt: new Date(now + state.resetMs),
    };
  });
}

export interface DemandControlOptions {
  policy: RateLimitPolicy;
  /** Absent: rate limiting off (operation limits still apply). */
  store: RateLimitStore | undefined;
}

/**
 * Demand control, before anything runs: the operation's limits and static cost (checkOperation),
 * the batch's cost as a whole, then the caller's budgets. Every request is spent from its caller's
 * budgets once, in one store round trip: a resolved operation with its cost, anything refused
 * earlier (parse, validation, analysis, operation limits) with cost 0 as its response goes out.
 * Over budget: 429 RATE_LIMITED with Retry-After. Every response carries the RateLimit headers.
 */
export function demandControlStage(options: DemandControlOptions): Stage {
  const { policy, store } = options;
  const consume = async (context: GatewayContext, cost: number): Promise<OperationState['spent']> => {
    if (!store) return undefined;
    const buckets = bucketsOf(policy, context.principal, context.clientAddress);
    try {
      return { buckets, decision: await store.consume(buckets, cost, policy.windowMs) };
    } catch (error) {
      if (error instanceof RateLimitStoreUnavailable) throw requestError('SERVICE_UNAVAILABLE', 'Rate limiting is unavailable; retry shortly', {}, { 'retry-after': '1' });
      throw error;
    }
  };
  return {
    name: 'demand control',
    async resolved({ context, state, requestIsBatched }) {
      const { analysis, variables } = state.resolved!;
      let cost: number;
      try {
        cost = checkOperation(analysis, policy.operation, variables);
        if (requestIsBatched) {
          // One HTTP request is bounded as a whole: the operations of a batch share one maxCost
          // (an operation refused here adds nothing to it).
          const total = context.batch.cost + cost;
          if (total > policy.operation.maxCost) {
            throw requestError('COST_LIMIT_EXCEEDED', `The batch's cost ${total} is over the limit of ${policy.operation.maxCost}`, { cost: total, limit: policy.operation.maxCost });
          }
          context.batch.cost = total;
        }
      } catch (error) {
        state.refusal = 'rejected'; // charged with cost 0 as the response goes out, like any other refused request
        throw error;
      }
      state.cost = cost;
      state.spent = await consume(context, cost);
      if (state.spent && !state.spent.decision.allowed) {
        state.refusal = 'rate_limited';
        const retryAfter = Math.max(1, Math.ceil(state.spent.decision.retryAfterMs / 1000));
        throw requestError('RATE_LIMITED', `Rate limit reached; retry in ${retryAfter} s`, { retryAfter }, {
          'retry-after': String(retryAfter),
          ...rateLimitHeaders(state.spent.buckets, policy.windowMs, state.spent.decision),
        });
      }
    },
    async responding({ context, state, response }) {
      if (!state.spent) {
        try {
          state.spent = await consume(context, 0);
        } catch {
          return; // the response is already decided; a failing store must not turn it into an error
        }
      }
      if (!state.spent) return;
      for (const [name, value] of Object.entries(rateLimitHeaders(state.spent.buckets, policy.windowMs, state.spent.decision))) response.http.headers.set(name, value);
    },
  };
}
