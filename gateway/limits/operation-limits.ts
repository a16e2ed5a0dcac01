import type { GraphQLSchema, DocumentNode } from 'graphql';
import { requestError } from '../../lib/errors.js';
import type { OperationFactsCache } from '../operation/cache.js';
import { evaluateCost } from '../operation/cost.js';
import { OperationTooLargeError } from '../operation/facts.js';
import type { OperationLimits } from './policy.js';

const exceeded = (limit: string, value: number, maximum: number) =>
  requestError('OPERATION_LIMIT_EXCEEDED', `Operation ${limit} ${value} is over the limit of ${maximum}`, { limit, value, maximum });

/**
 * Structural limits (depth, aliases, directives: counted through fragments, from the cached
 * per-document facts) and the static cost for this request's variables. Returns the cost;
 * throws OPERATION_LIMIT_EXCEEDED or COST_LIMIT_EXCEEDED (HTTP 400) before anything runs.
 */
export function checkOperation(
  facts: OperationFactsCache,
  limits: OperationLimits,
  request: { schema: GraphQLSchema; document: DocumentNode; operationName: string | null | undefined; variables: Readonly<Record<string, unknown>> | undefined },
): number {
  let operation;
  try {
    operation = facts.factsOf(request.schema, request.document, request.operationName);
  } catch (error) {
    if (error instanceof OperationTooLargeError) throw requestError('OPERATION_LIMIT_EXCEEDED', `Operation too large: ${error.message}`, { limit: 'fields' });
    throw error;
  }
  if (operation.depth > limits.maxDepth) throw exceeded('depth', operation.depth, limits.maxDepth);
  if (operation.aliases > limits.maxAliases) throw exceeded('aliases', operation.aliases, limits.maxAliases);
  if (operation.directives > limits.maxDirectives) throw exceeded('directives', operation.directives, limits.maxDirectives);
  const cost = evaluateCost(operation.cost, request.variables);
  if (cost > limits.maxCost) {
    throw requestError('COST_LIMIT_EXCEEDED', `Operation cost ${cost} is over the limit of ${limits.maxCost}`, { cost, limit: limits.maxCost });
  }
  return cost;
}
