/**
 * The order of the targets in a round: rotated by one each round, and reversed every other cycle, so
 * that no target always goes first or always runs right after the same other one (with three
 * targets, six rounds run every order once; with n targets, 2n rounds put every target in every
 * position twice, once in each direction).
 */
export function roundOrder<T>(names: readonly T[], round: number): T[] {
  const shift = round % names.length;
  const rotated = [...names.slice(shift), ...names.slice(0, shift)];
  return Math.floor(round / names.length) % 2 === 0 ? rotated : rotated.reverse();
}

/** Fewest requests per connection in a round, so a slow target's round is not just its ramp-up and tail. */
const MIN_REQUESTS_PER_CONNECTION = 5;

/** Requests in one measured round: about roundS seconds at the warm-up's rate, at least MIN_REQUESTS_PER_CONNECTION per connection. */
export function roundAmount(warmupRequestsPerS: number, roundS: number, connections: number): number {
  const atRate = Number.isFinite(warmupRequestsPerS) ? Math.round(warmupRequestsPerS * roundS) : 0;
  return Math.max(connections * MIN_REQUESTS_PER_CONNECTION, atRate);
}
