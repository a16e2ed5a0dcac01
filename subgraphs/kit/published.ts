import { z } from 'zod';
import { descriptorSchema } from './descriptor.js';
import { qualityReportSchema } from './quality.js';

/** Most applied migrations a product lists (the latest ones); the SDL's `@listSize` says the same. */
export const MAX_LISTED_MIGRATIONS = 100;

/** The product's migration state (subgraphs/kit/migrations.ts: migrationState). */
export const migrationStateSchema = z
  .object({
    applied: z
      .array(z.object({ name: z.string().min(1).max(255), appliedAt: z.string().datetime({ offset: true }) }).strict())
      .max(MAX_LISTED_MIGRATIONS),
    latest: z.string().min(1).max(255).nullable(),
    pending: z.number().int().min(0),
  })
  .strict();

/**
 * What a data product publishes at GET /data-product: its descriptor, its latest quality report,
 * when its data was loaded. One schema, checked where the product publishes it and again where
 * the gateway receives it (a product answering another shape is shown as unavailable, with the
 * reason, and never breaks the catalogue for the others).
 */
export const publishedProductSchema = z
  .object({
    descriptor: descriptorSchema,
    quality: qualityReportSchema.nullable(),
    refreshedAt: z.string().datetime({ offset: true }).nullable(),
    // Optional: a product of an older version publishes none (shown as null, not as invalid).
    migrations: migrationStateSchema.optional(),
  })
  .strict();

export type PublishedProduct = z.infer<typeof publishedProductSchema>;

/** Our words for what is wrong (the reason reaches catalogue readers: no library's text). */
const WHAT: Readonly<Record<string, string>> = {
  invalid_type: 'missing or of the wrong type',
  invalid_value: 'not an allowed value',
  invalid_format: 'not in the expected format',
  too_big: 'too large or too long',
  too_small: 'too small or too short',
  unrecognized_keys: 'has fields the specification does not know',
};

/** The received document, or why it is not one (the first few problems, with their paths). */
export function readPublishedProduct(raw: unknown): { ok: true; product: PublishedProduct } | { ok: false; problem: string } {
  const parsed = publishedProductSchema.safeParse(raw);
  if (parsed.success) return { ok: true, product: parsed.data };
  const problems = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(document)'}: ${WHAT[issue.code] ?? 'invalid'}`);
  return { ok: false, problem: `its descriptor does not match the data product specification (${problems.join('; ')})` };
}
