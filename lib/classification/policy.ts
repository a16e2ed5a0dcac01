import { Kind, type DocumentNode, type TypeNode } from 'graphql';
import { PolicyError, type AccessPolicies } from '../policies.js';
import { classificationDirectiveNames, describeClassification, indexClassifications } from './index.js';
import { moreRevealing, type Classification, type Treatment } from './model.js';

/**
 * What one role grants for a classification: its `LEVEL.KIND` entry, else its `LEVEL` entry, else
 * nothing (denied). A more specific entry wins even when it reveals less: an owner who writes
 * `PII: masked` and `PII.EMAIL: denied` means emails are never shown.
 */
export function roleTreatment(policies: AccessPolicies, role: string, classification: Classification): Treatment {
  const byKey = policies.treatments.get(role);
  if (!byKey) return 'denied';
  if (classification.kind) {
    const specific = byKey.get(`${classification.level}.${classification.kind}`);
    if (specific) return specific;
  }
  return byKey.get(classification.level) ?? 'denied';
}

/**
 * What a caller who does NOT meet a classified field's access rule sees of it: the most revealing
 * treatment any of its roles grants; denied when none grants one. (A caller who meets the rule
 * reads the field clear; that is decided by the access rule, not here.) Gateway and data products
 * both call this, from the same policy file, so they agree on who gets a treated value.
 */
export function grantedTreatment(policies: AccessPolicies, roles: Iterable<string>, classification: Classification): Treatment {
  let best: Treatment = 'denied';
  for (const role of roles) {
    best = moreRevealing(best, roleTreatment(policies, role, classification));
    if (best === 'clear') break;
  }
  return best;
}

/** Scalars a masked or pseudonymized value can stand in for: both produce strings. */
const STRING_TYPES: ReadonlySet<string> = new Set(['String', 'ID']);

function namedType(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedType(type.type);
}

/**
 * At start, against the schema served: `masked` and `pseudonymized` replace a value with a string,
 * so every field they apply to (through any role's entry) must be a String or ID (or a list of
 * them). Throws a PolicyError naming the policy file, the entry and the field.
 */
export function validateTreatments(policies: AccessPolicies, schema: DocumentNode): void {
  if (policies.treatments.size === 0 || classificationDirectiveNames(schema).size === 0) return;
  const classified = indexClassifications(schema);
  const types = new Map<string, string>();
  for (const definition of schema.definitions) {
    if (!('fields' in definition) || !definition.fields || !('name' in definition) || !definition.name) continue;
    for (const field of definition.fields) if ('type' in field) types.set(`${definition.name.value}.${field.name.value}`, namedType(field.type));
  }
  const problems: string[] = [];
  for (const [role, byKey] of policies.treatments) {
    for (const [coordinate, classification] of classified) {
      const treatment = roleTreatment(policies, role, classification);
      if (treatment !== 'masked' && treatment !== 'pseudonymized') continue;
      const type = types.get(coordinate) ?? '?';
      if (STRING_TYPES.has(type)) continue;
      const key = classification.kind && byKey.has(`${classification.level}.${classification.kind}`) ? `${classification.level}.${classification.kind}` : classification.level;
      problems.push(`${policies.file}: treatments.${role}.${key}: ${treatment} applies to ${coordinate} (${describeClassification(classification)}), a ${type}; only String and ID fields can be ${treatment}`);
    }
  }
  if (problems.length) throw new PolicyError(problems.join('\n'));
}
