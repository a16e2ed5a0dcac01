import { getVariableValues, type DocumentNode, type GraphQLSchema } from 'graphql';
import { requestError } from '../../lib/errors.js';
import type { OperationFactsCache } from '../operation/cache.js';
import { evaluateCost } from '../operation/cost.js';
import { OperationTooLargeError } from '../operation/inline.js';
import type { OperationLimits } from './policy.js';

/** At most this many variable problems are reported (graphql-js stops coercing after them). */
const MAX_VARIABLE_ERRORS = 10;

const exceeded = (limit: string, value: number, maximum: number) =>
  requestError('OPERATION_LIMIT_EXCEEDED', `Operation ${limit} ${value} is over the limit of ${maximum}`, { limit, value, maximum });

/**
 * Checks one resolved operation before anything runs, in this order: its variables (coerced as
 * execution would: an invalid value is BAD_USER_INPUT, never priced), its structural limits
 * (depth, aliases, directives: counted through fragments, from the cached per-document facts),
 * then its static cost for the coerced variables. Returns the cost; throws BAD_USER_INPUT,
 * OPERATION_LIMIT_EXCEEDED or COST_LIMIT_EXCEEDED (HTTP 400).
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
    if (error instanceof OperationTooLargeError) throw requestError('OPERATION_LIMIT_EXCEEDED', `Operation too large: ${error.message}`, { limit: 'fields', maximum: error.maximum });
    throw error;
  }
  const coerced = getVariableValues(request.schema, operation.operation.variableDefinitions ?? [], { ...request.variables }, { maxErrors: MAX_VARIABLE_ERRORS });
  if (coerced.errors) {
    throw requestError('BAD_USER_INPUT', coerced.errors.map((e) => e.message).join('\n'));
  }
  if (operation.depth > limits.maxDepth) throw exceeded('depth', operation.depth, limits.maxDepth);
  if (operation.aliases > limits.maxAliases) throw exceeded('aliases', operation.aliases, limits.maxAliases);
  if (operation.directives > limits.maxDirectives) throw exceeded('directives', operation.directives, limits.maxDirectives);
  const cost = evaluateCost(operation.cost, coerced.coerced);
  if (cost > limits.maxCost) {
    throw requestError('COST_LIMIT_EXCEEDED', `Operation cost ${cost} is over the limit of ${limits.maxCost}`, { cost, limit: limits.maxCost });
  }
  return cost;
}
