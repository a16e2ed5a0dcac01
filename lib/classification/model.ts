/**
 * The vocabulary of data classification, shared by the schema directive (`@classification`), the
 * policy file (treatments per role), the gateway (masking, audit) and the audit trail.
 */

/** Sensitivity levels, ascending. A field without `@classification` is unclassified: never treated, never audited. */
export const CLASSIFICATION_LEVELS = ['PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'PII', 'SENSITIVE_PII'] as const;
export type ClassificationLevel = (typeof CLASSIFICATION_LEVELS)[number];

/** What kind of personal data a field holds: decides how it is masked. */
export const PERSONAL_DATA_KINDS = ['EMAIL', 'PHONE', 'NAME', 'ADDRESS', 'DATE_OF_BIRTH', 'FREE_TEXT', 'ID'] as const;
export type PersonalDataKind = (typeof PERSONAL_DATA_KINDS)[number];

/**
 * What a caller sees of a classified field, from most to least revealing:
 * - clear: the value as the data product returns it;
 * - pseudonymized: a stable keyed hash (HMAC) of it, equal for equal values, so values can be
 *   joined and counted without being seen;
 * - masked: a partial value of the same type (`j***@example.com`, `+44 ****** 789`, initials);
 * - denied: null and a FORBIDDEN error, as for any field the caller may not read.
 */
export const TREATMENTS = ['clear', 'pseudonymized', 'masked', 'denied'] as const;
export type Treatment = (typeof TREATMENTS)[number];

export interface Classification {
  readonly level: ClassificationLevel;
  readonly kind: PersonalDataKind | undefined;
}

/** Whether `level` is at or above `threshold`. */
export function atOrAbove(level: ClassificationLevel, threshold: ClassificationLevel): boolean {
  return CLASSIFICATION_LEVELS.indexOf(level) >= CLASSIFICATION_LEVELS.indexOf(threshold);
}

/** The more revealing of two treatments (a caller with several roles gets the most revealing one any grants). */
export function moreRevealing(a: Treatment, b: Treatment): Treatment {
  return TREATMENTS.indexOf(a) <= TREATMENTS.indexOf(b) ? a : b;
}
