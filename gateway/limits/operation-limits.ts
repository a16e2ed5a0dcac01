import { requestError } from '../../lib/errors.js';
import type { OperationAnalysis } from '../operation/analysis.js';
import { evaluateCost } from '../operation/cost.js';
import type { OperationLimits } from './policy.js';

const exceeded = (limit: string, value: number, maximum: number) =>
  requestError('OPERATION_LIMIT_EXCEEDED', `Operation ${limit} ${value} is over the limit of ${maximum}`, { limit, value, maximum });

/**
 * The structural limits of one analysed operation (depth, aliases, directives: counted through
 * fragments) and then its static cost for these (coerced) variables. Returns the cost; throws
 * OPERATION_LIMIT_EXCEEDED or COST_LIMIT_EXCEEDED (HTTP 400) before anything runs.
 */
export function checkOperation(analysis: OperationAnalysis, limits: OperationLimits, variables: Readonly<Record<string, unknown>>): number {
  if (analysis.depth > limits.maxDepth) throw exceeded('depth', analysis.depth, limits.maxDepth);
  if (analysis.aliases > limits.maxAliases) throw exceeded('aliases', analysis.aliases, limits.maxAliases);
  if (analysis.directives > limits.maxDirectives) throw exceeded('directives', analysis.directives, limits.maxDirectives);
  const cost = evaluateCost(analysis.cost, variables);
  if (cost > limits.maxCost) {
    throw requestError('COST_LIMIT_EXCEEDED', `Operation cost ${cost} is over the limit of ${limits.maxCost}`, { cost, limit: limits.maxCost });
  }
  return cost;
}
