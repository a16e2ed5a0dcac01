import { GraphQLError } from 'graphql';
import { httpStatusOf } from './errors.js';
import type { Denial } from './requirements.js';

/**
 * The client-facing FORBIDDEN error for one field (or type) a caller may not read: its coordinate
 * and what is missing, never a value. The gateway answers it for the fields it removes, and every
 * data product's shield for the fields it refuses.
 */
export function forbiddenError(coordinate: string, denial: Denial, options: { path?: readonly (string | number)[]; rejectsRequest?: boolean } = {}): GraphQLError {
  const extensions: Record<string, unknown> = { code: 'FORBIDDEN', coordinate };
  let message: string;
  if (denial.reason === 'unauthenticated') {
    extensions.reason = 'authentication required';
    message = `Sign in to read ${coordinate}`;
  } else if (denial.reason === 'scopes') {
    extensions.missingScopes = [...denial.missingScopes];
    message = `Not authorized to read ${coordinate}: missing scope ${denial.missingScopes.join(', ')}`;
  } else {
    extensions.missingPolicies = [...denial.missingPolicies];
    message = `Not authorized to read ${coordinate}: policy ${denial.missingPolicies.join(', ')} not met`;
  }
  // Rejecting the whole operation: the HTTP status of FORBIDDEN rather than 200.
  if (options.rejectsRequest) extensions.http = { status: httpStatusOf('FORBIDDEN') };
  return new GraphQLError(message, { ...(options.path ? { path: [...options.path] } : {}), extensions });
}
