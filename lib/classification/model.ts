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

/** One classified field an operation read or was refused, with what the caller saw of it. */
export interface ClassifiedAccess {
  /** Schema coordinate, `Type.field`. */
  readonly coordinate: string;
  readonly classification: Classification;
  readonly treatment: Treatment;
}

/** What the audit trail tells authorization before an operation executes (see gateway/audit). */
export interface AuditGate {
  /** Reads of fields classified at or above this level are audited. */
  readonly level: ClassificationLevel;
  /** False when a record could not be kept now (store down, queue full). */
  accepting(): boolean;
  /** closed: while not accepting, audited fields are refused (FORBIDDEN, code AUDIT_UNAVAILABLE); open: served, and the gap is counted. */
  readonly failMode: 'closed' | 'open';
}
