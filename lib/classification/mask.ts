import type { PersonalDataKind } from './model.js';

/**
 * Masked values: partial values of the same type (strings stay strings) that keep what a reader
 * without the clear value may still use, per kind of personal data, and nothing else:
 *
 * | kind | keeps | example |
 * | --- | --- | --- |
 * | EMAIL | first character of the local part, the domain | `j***@example.com` |
 * | PHONE | the country code, the last 3 digits | `+44 ****** 789` |
 * | NAME | initials | `J. S.` |
 * | ADDRESS | the last component (city or country), when there are several | `Berlin` |
 * | DATE_OF_BIRTH | the year | `1984-**-**` |
 * | FREE_TEXT | its length in characters | `[redacted 42 chars]` |
 * | ID | the last 4 characters, when there are more | `****0042` |
 * | (none) | nothing | `****` |
 *
 * Masks never reveal a value's length (a fixed run of `*`), work on user-perceived characters
 * (an emoji or a letter with combining marks is one character), never throw, and anything that
 * does not have the expected shape is fully masked.
 */
export const FULL_MASK = '****';

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Printable ASCII only: every character is a grapheme of its own (segmenting costs ~15 µs; this, nothing). */
const PLAIN_ASCII = /^[\x20-\x7e]*$/;

/** User-perceived characters (grapheme clusters). */
function graphemes(value: string): string[] {
  if (PLAIN_ASCII.test(value)) return value.split('');
  return Array.from(segmenter.segment(value), (s) => s.segment);
}

/** The first user-perceived character, without segmenting the rest. */
function firstGrapheme(value: string): string | undefined {
  // Two printable ASCII characters never join into one grapheme.
  const a = value.charCodeAt(0);
  const b = value.charCodeAt(1);
  if (a >= 0x20 && a < 0x7f && (value.length === 1 || (b >= 0x20 && b < 0x7f))) return value[0];
  for (const { segment } of segmenter.segment(value)) return segment;
  return undefined;
}

function maskEmail(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) return FULL_MASK;
  const domain = value.slice(at + 1);
  const first = firstGrapheme(value.slice(0, at)) ?? '';
  if (!domain || /\s/.test(domain)) return FULL_MASK;
  return `${first}***@${domain}`;
}

/** The digits of a phone number (ASCII only: anything else is not a phone number we can keep digits of). */
function maskPhone(value: string): string {
  const trimmed = value.trim();
  const digits = trimmed.replace(/[\s().-]/g, '');
  if (!/^\+?\d+$/.test(digits)) return FULL_MASK;
  const international = digits.startsWith('+');
  const number = international ? digits.slice(1) : digits;
  // The country code is the first group of an international number written with separators
  // (`+44 20 ...`); written without, it cannot be told apart from the number, so none is kept.
  const group = international ? /^\+(\d{1,3})[\s(.-]/.exec(trimmed)?.[1] : undefined;
  const rest = number.length - (group?.length ?? 0);
  // Fewer than 7 digits besides the country code: keeping 3 of them would give away too much.
  if (rest < 7) return FULL_MASK;
  const last = number.slice(-3);
  return group ? `+${group} ****** ${last}` : `****** ${last}`;
}

function maskName(value: string): string {
  const initials = value
    .split(/\s+/)
    .map((word) => firstGrapheme(word.replace(/^[^\p{L}\p{N}]+/u, '')))
    .filter((initial): initial is string => initial !== undefined && /[\p{L}\p{N}]/u.test(initial));
  return initials.length ? initials.map((initial) => `${initial}.`).join(' ') : FULL_MASK;
}

function maskAddress(value: string): string {
  const parts = value.split(/[,\n;]/).map((part) => part.trim()).filter(Boolean);
  // A single component may be the street itself: nothing of it is kept.
  return parts.length >= 2 ? parts[parts.length - 1]! : FULL_MASK;
}

function maskDateOfBirth(value: string): string {
  const iso = /^\s*(\d{4})-\d{2}-\d{2}/.exec(value);
  if (iso) return `${iso[1]}-**-**`;
  const year = /(?:^|\D)(1[89]\d{2}|2\d{3})(?:\D|$)/.exec(value);
  return year ? year[1]! : FULL_MASK;
}

function maskFreeText(value: string): string {
  return `[redacted ${Array.from(value).length} chars]`;
}

function maskId(value: string): string {
  const chars = graphemes(value);
  return chars.length > 4 ? `${FULL_MASK}${chars.slice(-4).join('')}` : FULL_MASK;
}

const BY_KIND: Readonly<Record<PersonalDataKind, (value: string) => string>> = {
  EMAIL: maskEmail,
  PHONE: maskPhone,
  NAME: maskName,
  ADDRESS: maskAddress,
  DATE_OF_BIRTH: maskDateOfBirth,
  FREE_TEXT: maskFreeText,
  ID: maskId,
};

/**
 * The masked form of one value of a field of this kind. null and undefined stay null; a value that
 * is not a string (which the start-up check of the policy file rules out) is fully masked.
 */
export function mask(value: unknown, kind: PersonalDataKind | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') return FULL_MASK;
  if (!kind) return FULL_MASK;
  try {
    return BY_KIND[kind](value);
  } catch {
    // Never throw on a caller's data: a mask that fails hides everything.
    return FULL_MASK;
  }
}
