import type { ApolloServerPlugin } from '@apollo/server';
import { requestError } from '../../lib/errors.js';
import type { Principal } from '../../lib/principal.js';
import type { GatewayContext } from '../context.js';
import type { Budget, RateLimitPolicy } from '../limits/policy.js';
import { RateLimitStoreUnavailable } from '../limits/resilient-store.js';
import type { Decision, RateLimitStore } from '../limits/store.js';
import { checkOperation } from '../limits/operation-limits.js';
import type { OperationFactsCache } from '../operation/cache.js';

/** Whose budget a request spends: the token's client, else its subject; anonymous callers by address. */
export function callerKey(principal: Principal, clientAddress: string): string {
  if (principal.kind === 'anonymous') return `address:${clientAddress}`;
  return principal.clientId ? `client:${principal.issuer}:${principal.clientId}` : `subject:${principal.issuer}:${principal.subject}`;
}

/** RateLimit-Policy / RateLimit (IETF httpapi ratelimit headers draft); the caller is never named. */
export function rateLimitHeaders(budget: Budget, windowMs: number, decision: Decision): Record<string, string> {
  const w = Math.ceil(windowMs / 1000);
  const t = Math.ceil(decision.resetMs / 1000);
  return {
    'ratelimit-policy': `"requests";q=${budget.requests};w=${w}, "cost";q=${budget.cost};w=${w}`,
    ratelimit: `"requests";r=${decision.remainingRequests};t=${t}, "cost";r=${decision.remainingCost};t=${t}`,
  };
}

export interface DemandControlOptions {
  policy: RateLimitPolicy;
  /** Absent: rate limiting off (operation limits still apply). */
  store: RateLimitStore | undefined;
  facts: OperationFactsCache;
}

/**
 * Demand control, in order, before anything runs: the operation's variables, limits and static
 * cost (checkOperation), the batch's cost as a whole, then the caller's budget. Every request is spent from its caller's budget
 * once, in one store round trip: a resolved operation with its cost, anything refused earlier
 * (parse, validation, operation limits) with cost 0 before the response goes out. Over budget:
 * 429 RATE_LIMITED with Retry-After. Every response carries the RateLimit headers.
 */
export function demandControlPlugin(options: DemandControlOptions): ApolloServerPlugin<GatewayContext> {
  const { policy, store, facts } = options;
  const consume = async (context: GatewayContext, cost: number): Promise<{ budget: Budget; decision: Decision } | undefined> => {
    if (!store) return undefined;
    const budget = policy.budgetOf(context.principal);
    try {
      return { budget, decision: await store.consume(callerKey(context.principal, context.clientAddress), cost, budget, policy.windowMs) };
    } catch (error) {
      if (error instanceof RateLimitStoreUnavailable) throw requestError('SERVICE_UNAVAILABLE', 'Rate limiting is unavailable; retry shortly', {}, { 'retry-after': '1' });
      throw error;
    }
  };
  return {
    async requestDidStart({ contextValue }) {
      let spent: { budget: Budget; decision: Decision } | undefined;
      return {
        async didResolveOperation({ schema, document, request, requestIsBatched }) {
          // Refused here (400): charged with cost 0 below, like any other refused request.
          const cost = checkOperation(facts, policy.operation, { schema, document, operationName: request.operationName, variables: request.variables });
          if (requestIsBatched) {
            // One HTTP request is bounded as a whole: the operations of a batch share one maxCost.
            contextValue.batch.cost += cost;
            if (contextValue.batch.cost > policy.operation.maxCost) {
              throw requestError('COST_LIMIT_EXCEEDED', `The batch's cost ${contextValue.batch.cost} is over the limit of ${policy.operation.maxCost}`, {
                cost: contextValue.batch.cost,
                limit: policy.operation.maxCost,
              });
            }
          }
          spent = await consume(contextValue, cost);
          if (spent && !spent.decision.allowed) {
            const retryAfter = Math.max(1, Math.ceil(spent.decision.resetMs / 1000));
            throw requestError('RATE_LIMITED', `Rate limit reached; retry in ${retryAfter} s`, { retryAfter }, {
              'retry-after': String(retryAfter),
              ...rateLimitHeaders(spent.budget, policy.windowMs, spent.decision),
            });
          }
        },
        async willSendResponse({ response }) {
          if (!spent) {
            try {
              spent = await consume(contextValue, 0);
            } catch {
              return; // the response is already decided; a failing store must not turn it into an error
            }
          }
          if (!spent) return;
          for (const [name, value] of Object.entries(rateLimitHeaders(spent.budget, policy.windowMs, spent.decision))) response.http.headers.set(name, value);
        },
      };
    },
  };
}
