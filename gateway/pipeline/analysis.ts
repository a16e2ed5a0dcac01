import { getVariableValues } from 'graphql';
import { requestError } from '../../lib/errors.js';
import type { OperationFactsCache } from '../operation/cache.js';
import { OperationTooLargeError } from '../operation/inline.js';
import type { Stage } from './stage.js';

/** At most this many variable problems are reported (graphql-js stops coercing after them). */
const MAX_VARIABLE_ERRORS = 10;

/**
 * The first stage: the operation's analysis (cached per document and operation name) and its
 * variables, coerced as execution would coerce them. This is the one place where an operation
 * that cannot be analysed is refused: an unknown operation name (OPERATION_RESOLUTION_FAILURE),
 * too many selections once fragments are expanded (OPERATION_LIMIT_EXCEEDED), an invalid
 * variable (BAD_USER_INPUT, before anything is priced). Later stages read `state.resolved`.
 */
export function analysisStage(facts: OperationFactsCache): Stage {
  return {
    name: 'analysis',
    resolved({ state, schema, document, request }) {
      let analysis;
      try {
        analysis = facts.factsOf(schema, document, request.operationName);
      } catch (error) {
        if (error instanceof OperationTooLargeError) {
          state.refusal = 'rejected';
          throw requestError('OPERATION_LIMIT_EXCEEDED', `Operation too large: ${error.message}`, { limit: 'fields', maximum: error.maximum });
        }
        throw error;
      }
      const coerced = getVariableValues(schema, analysis.operation.variableDefinitions ?? [], { ...request.variables }, { maxErrors: MAX_VARIABLE_ERRORS });
      if (coerced.errors) throw requestError('BAD_USER_INPUT', coerced.errors.map((e) => e.message).join('\n'));
      state.resolved = { analysis, variables: coerced.coerced };
    },
  };
}
