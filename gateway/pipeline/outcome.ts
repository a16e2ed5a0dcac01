import type { GraphQLResponse } from '@apollo/server';
import type { OperationState } from '../context.js';
import type { Outcome } from '../usage/model.js';

/**
 * How an operation ended, one label for metrics and usage alike, from what the stages recorded:
 * refused by a stage (rate limited, over a limit), answered without the fields the executor denied
 * and nothing else wrong (forbidden), with other errors (error), or clean (ok).
 */
export function operationOutcome(state: OperationState, response: GraphQLResponse): Outcome {
  if (state.refusal) return state.refusal;
  const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
  if (!errors?.length) return 'ok';
  return state.forbiddenErrors > 0 && errors.length === state.forbiddenErrors ? 'forbidden' : 'error';
}
