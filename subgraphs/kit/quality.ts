import { z } from 'zod';
import type { Db } from './db.js';
import { DESCRIPTOR_LIMITS, type DataProductDescriptor, type QualityRule } from './descriptor.js';

/** What a quality check reports: the same schema where a product publishes it and where the gateway receives it. */
export const qualityReportSchema = z
  .object({
    checkedAt: z.string().datetime(),
    /** Rules that passed / rules, 0..1. */
    passRate: z.number().min(0).max(1),
    rules: z
      .array(
        z
          .object({
            name: z.string(),
            field: z.string(),
            check: z.enum(['notNull', 'unique', 'email', 'range']),
            description: z.string().nullable(),
            passed: z.boolean(),
            totalRows: z.number().int().nonnegative(),
            failingRows: z.number().int().nonnegative(),
            /** Share of rows that pass, 0..1 (1 for an empty table). */
            passRate: z.number().min(0).max(1),
          })
          .strict(),
      )
      .max(DESCRIPTOR_LIMITS.qualityRules),
    completeness: z
      .array(z.object({ field: z.string(), totalRows: z.number().int().nonnegative(), nonNullRows: z.number().int().nonnegative(), ratio: z.number().min(0).max(1) }).strict())
      .max(DESCRIPTOR_LIMITS.storedFields),
  })
  .strict();

export type QualityReport = z.infer<typeof qualityReportSchema>;
export type RuleResult = QualityReport['rules'][number];
export type FieldCompleteness = QualityReport['completeness'][number];

type Storage = Readonly<Record<string, { readonly table: string; readonly column: string }>>;

const IDENTIFIER = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;
const EMAIL = '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$';

function failingSql(rule: QualityRule, table: string, column: string): { sql: string; params: unknown[] } {
  switch (rule.check) {
    case 'notNull':
      return { sql: `select count(*)::int as total, count(*) filter (where ${column} is null)::int as failing from ${table}`, params: [] };
    case 'unique':
      return { sql: `select count(*)::int as total, (count(${column}) - count(distinct ${column}))::int as failing from ${table}`, params: [] };
    case 'email':
      return { sql: `select count(*)::int as total, count(*) filter (where ${column} is not null and ${column} !~ $1)::int as failing from ${table}`, params: [EMAIL] };
    case 'range':
      return { sql: `select count(*)::int as total, count(*) filter (where ${column} is not null and (${column} < $1 or ${column} > $2))::int as failing from ${table}`, params: [rule.min, rule.max] };
  }
}

/**
 * Runs the descriptor's quality rules over the product's own tables (one aggregate statement
 * per rule and per field for completeness). The rules are the product's promises: a failing rule
 * is reported with its counts, never hidden.
 */
export async function checkQuality(db: Db, descriptor: DataProductDescriptor, storage: Storage, now = new Date()): Promise<QualityReport> {
  const rules: RuleResult[] = [];
  for (const rule of descriptor.spec.qualityRules) {
    const target = storage[rule.field];
    if (!target || !IDENTIFIER.test(target.table) || !IDENTIFIER.test(target.column)) {
      throw new Error(`quality rule ${rule.name}: no storage known for ${rule.field}`);
    }
    const { sql, params } = failingSql(rule, target.table, target.column);
    const [row] = await db.query<{ total: number; failing: number }>(sql, params);
    const total = row?.total ?? 0;
    const failing = row?.failing ?? 0;
    rules.push({ name: rule.name, field: rule.field, check: rule.check, description: rule.description ?? null, passed: failing === 0, totalRows: total, failingRows: failing, passRate: total === 0 ? 1 : (total - failing) / total });
  }
  const completeness: FieldCompleteness[] = [];
  for (const [field, target] of Object.entries(storage)) {
    if (!IDENTIFIER.test(target.table) || !IDENTIFIER.test(target.column)) continue;
    const [row] = await db.query<{ total: number; present: number }>(`select count(*)::int as total, count(${target.column})::int as present from ${target.table}`);
    const total = row?.total ?? 0;
    completeness.push({ field, totalRows: total, nonNullRows: row?.present ?? 0, ratio: total === 0 ? 1 : (row?.present ?? 0) / total });
  }
  const passed = rules.filter((r) => r.passed).length;
  return { checkedAt: now.toISOString(), passRate: rules.length === 0 ? 1 : passed / rules.length, rules, completeness };
}

/** When the product's data was last loaded (its data_product_meta row), or null. */
export async function refreshedAt(db: Db, schemaName: string): Promise<string | null> {
  if (!IDENTIFIER.test(schemaName)) throw new Error(`bad schema name ${schemaName}`);
  try {
    const [row] = await db.query<{ refreshed_at: Date }>(`select refreshed_at from ${schemaName}.data_product_meta where id = 1`);
    return row ? row.refreshed_at.toISOString() : null;
  } catch {
    return null; // table not there yet (never loaded)
  }
}

/** Records that the product's data was (re)loaded now. */
export async function markRefreshed(db: Db, schemaName: string): Promise<void> {
  if (!IDENTIFIER.test(schemaName)) throw new Error(`bad schema name ${schemaName}`);
  // The table is the product's migration 1 (subgraphs/<product>/migrations/).
  await db.query(`insert into ${schemaName}.data_product_meta (id, refreshed_at) values (1, now()) on conflict (id) do update set refreshed_at = excluded.refreshed_at`);
}
