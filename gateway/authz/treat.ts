import type { PersonalDataKind } from '../../lib/classification/model.js';
import { mask } from '../../lib/classification/mask.js';
import type { Pseudonymizer } from '../../lib/classification/pseudonym.js';
import type { OperationAnalysis } from '../operation/analysis.js';
import { TYPENAME_ALIAS, type TreatedField } from './enforce.js';

/** One field to treat in every object at its parent's response path. */
interface Leaf {
  readonly key: string;
  /** Only objects of these concrete types (read from the `__typename` enforcement adds); all when undefined. */
  readonly onTypes: readonly string[] | undefined;
  readonly treatment: TreatedField['treatment'];
  readonly kind: PersonalDataKind | undefined;
}

/** The response paths to treat, as a tree of response keys: one walk of the result treats them all. */
interface PlanNode {
  readonly children: Map<string, PlanNode>;
  readonly leaves: Leaf[];
}

export interface TreatmentPlan {
  readonly root: PlanNode;
  /** Parent paths whose objects must carry their `__typename` (a treated field narrowed by a type condition). */
  readonly typedPaths: readonly (readonly string[])[];
  readonly pseudonymizes: boolean;
}

/**
 * Builds (once per document, operation and set of treated fields with their treatments) which
 * response paths get which treatment. Aliases are in the paths already, fragments are inlined by
 * the analysis, lists are walked item by item, and entities another product resolved sit at their
 * place in the result like any other object: the plan knows response paths, not subgraphs.
 */
export function treatmentPlan(analysis: OperationAnalysis, treated: readonly TreatedField[]): TreatmentPlan {
  const key = treated.map((t) => `${t.field.id}${t.treatment[0]}`).join(',');
  const cached = analysis.treatments.get(key) as TreatmentPlan | undefined;
  if (cached) return cached;
  const root: PlanNode = { children: new Map(), leaves: [] };
  const typed = new Map<string, readonly string[]>();
  for (const { field, treatment } of treated) {
    const parentPath = field.path.slice(0, -1);
    let node = root;
    for (const step of parentPath) {
      let child = node.children.get(step);
      if (!child) node.children.set(step, (child = { children: new Map(), leaves: [] }));
      node = child;
    }
    const leaf: Leaf = { key: field.path[field.path.length - 1]!, onTypes: field.onTypes, treatment, kind: field.classification?.kind };
    // The same field selected twice (two fragments) is one value in the result: treat it once.
    if (node.leaves.some((l) => l.key === leaf.key && String(l.onTypes) === String(leaf.onTypes))) continue;
    node.leaves.push(leaf);
    if (leaf.onTypes) typed.set(parentPath.join('\u0000'), parentPath);
  }
  const plan: TreatmentPlan = { root, typedPaths: [...typed.values()], pseudonymizes: treated.some((t) => t.treatment === 'pseudonymized') };
  analysis.treatments.set(key, plan);
  return plan;
}

/**
 * The result with every treated value replaced: one walk along the plan's paths. Copy on write:
 * the objects on those paths are copied, the rest shared, and the result given is never changed,
 * since execution may share it (identical operations of callers with the same grants read the
 * same clear values; each gets its own treated copy).
 */
export function applyTreatments(data: Record<string, unknown>, plan: TreatmentPlan, pseudonyms: Pseudonymizer): Record<string, unknown> {
  const treat = (value: unknown, leaf: Leaf): unknown => {
    if (value === null || value === undefined) return null;
    if (Array.isArray(value)) return value.map((item) => treat(item, leaf));
    if (leaf.treatment === 'masked') return mask(value, leaf.kind);
    // Strings and IDs only (checked at start); anything else is never shown in the clear.
    return typeof value === 'string' ? pseudonyms.pseudonymize(value) : null;
  };
  const walk = (value: unknown, node: PlanNode): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((item) => walk(item, node));
    const object = value as Record<string, unknown>;
    const copy: Record<string, unknown> = { ...object };
    for (const leaf of node.leaves) {
      if (!(leaf.key in object)) continue;
      if (leaf.onTypes && !leaf.onTypes.includes(object[TYPENAME_ALIAS] as string)) continue;
      copy[leaf.key] = treat(object[leaf.key], leaf);
    }
    for (const [key, child] of node.children) if (key in object) copy[key] = walk(object[key], child);
    return copy;
  };
  return walk(data, plan.root) as Record<string, unknown>;
}
