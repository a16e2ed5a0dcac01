import type { GraphQLFormattedError } from 'graphql';
import type { Outcome } from './usage/model.js';

/** How an operation ended, from its errors: one label for metrics and usage alike. */
export function operationOutcome(errors: readonly GraphQLFormattedError[] | undefined): Outcome {
  if (!errors?.length) return 'ok';
  const codes = new Set(errors.map((e) => e.extensions?.code));
  if (codes.has('RATE_LIMITED')) return 'rate_limited';
  if (codes.has('COST_LIMIT_EXCEEDED') || codes.has('OPERATION_LIMIT_EXCEEDED')) return 'rejected';
  if ([...codes].every((c) => c === 'FORBIDDEN')) return 'forbidden';
  return 'error';
}
