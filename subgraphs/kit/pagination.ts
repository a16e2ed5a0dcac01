import { gqlError } from '../../lib/errors.js';

/** Largest page any list field returns. Larger requests are refused, never silently truncated. */
export const MAX_PAGE_SIZE = 100;

/** Validates a `first` argument; explicit null is refused as well (the SDL default covers omission). */
export function pageSize(first: number | null | undefined): number {
  if (typeof first !== 'number' || !Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw gqlError('BAD_USER_INPUT', `first must be an integer from 1 to ${MAX_PAGE_SIZE}`, {
      argument: 'first',
      maximum: MAX_PAGE_SIZE,
    });
  }
  return first;
}
