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
