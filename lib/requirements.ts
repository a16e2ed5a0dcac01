import {
  getNamedType,
  isInterfaceType,
  isUnionType,
  type GraphQLCompositeType,
  type GraphQLInterfaceType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import type { RequirementIndex } from './auth-directives.js';
import type { AccessPolicies } from './policies.js';
import { evaluatePolicy } from './policies.js';
import type { Principal } from './principal.js';

/**
 * What reading one schema element requires, as Federation's authorization directives say it:
 * `@authenticated`, `@requiresScopes(scopes: [[a, b], [c]])` (a AND b, OR c) and
 * `@policy(policies: [[p, q], [r]])`. Several sources (the field, its type, an interface's
 * implementations) are combined by AND: every clause must be satisfied.
 */
export interface Requirement {
  readonly authenticated: boolean;
  /** Conjunction of clauses; each clause is a disjunction of scope sets (each set: all of). */
  readonly scopes: readonly (readonly (readonly string[])[])[];
  readonly policies: readonly (readonly (readonly string[])[])[];
}

export const NO_REQUIREMENT: Requirement = Object.freeze({ authenticated: false, scopes: [], policies: [] });

export function isEmptyRequirement(r: Requirement): boolean {
  return !r.authenticated && r.scopes.length === 0 && r.policies.length === 0;
}

export function combineRequirements(parts: readonly Requirement[]): Requirement {
  const nonEmpty = parts.filter((p) => !isEmptyRequirement(p));
  if (nonEmpty.length === 0) return NO_REQUIREMENT;
  if (nonEmpty.length === 1) return nonEmpty[0]!;
  return {
    authenticated: nonEmpty.some((p) => p.authenticated),
    scopes: nonEmpty.flatMap((p) => p.scopes),
    policies: nonEmpty.flatMap((p) => p.policies),
  };
}

export type Denial =
  | { readonly reason: 'unauthenticated' }
  | { readonly reason: 'scopes'; readonly missingScopes: readonly string[] }
  | { readonly reason: 'policy'; readonly missingPolicies: readonly string[] };

/**
 * Checks a requirement against a principal. Denied: the closest way to satisfy it is named
 * (the alternative with the fewest missing scopes or policies). Exact string matching only.
 */
export function checkRequirement(requirement: Requirement, principal: Principal, policies: AccessPolicies): Denial | undefined {
  const needsIdentity = requirement.authenticated || requirement.scopes.length > 0 || requirement.policies.length > 0;
  if (needsIdentity && principal.kind === 'anonymous') return { reason: 'unauthenticated' };
  for (const clause of requirement.scopes) {
    const missing = closest(clause, (scope) => principal.scopes.has(scope));
    if (missing) return { reason: 'scopes', missingScopes: missing };
  }
  for (const clause of requirement.policies) {
    const missing = closest(clause, (name) => evaluatePolicy(policies, name, principal));
    if (missing) return { reason: 'policy', missingPolicies: missing };
  }
  return undefined;
}

/** undefined when some alternative is fully held; else the smallest set of missing items. */
function closest(alternatives: readonly (readonly string[])[], holds: (item: string) => boolean): readonly string[] | undefined {
  let best: string[] | undefined;
  for (const alternative of alternatives) {
    const missing = alternative.filter((item) => !holds(item));
    if (missing.length === 0) return undefined;
    if (!best || missing.length < best.length) best = missing;
  }
  // An empty disjunction can never be satisfied.
  return best ?? ['(none satisfiable)'];
}

/** Builds (and memoizes) what selecting `Parent.field` requires in a schema, from a requirement index. */
export function fieldRequirements(
  schema: GraphQLSchema,
  index: RequirementIndex,
): (parent: GraphQLCompositeType, field: string) => Requirement {
  const memo = new Map<string, Requirement>();
  const direct = (type: GraphQLObjectType | GraphQLInterfaceType, field: string): Requirement[] => {
    const definition = type.getFields()[field];
    if (!definition) return [];
    const returned = getNamedType(definition.type).name;
    return [index.fields.get(`${type.name}.${field}`) ?? NO_REQUIREMENT, index.types.get(returned) ?? NO_REQUIREMENT];
  };
  return (parent, field) => {
    if (field.startsWith('__')) return NO_REQUIREMENT;
    const key = `${parent.name}.${field}`;
    let requirement = memo.get(key);
    if (requirement) return requirement;
    if (isUnionType(parent)) requirement = NO_REQUIREMENT;
    else if (isInterfaceType(parent)) {
      // Selected through an interface, the field may resolve on any implementation: all must allow it.
      const parts = direct(parent, field);
      for (const implementation of schema.getPossibleTypes(parent)) parts.push(...direct(implementation, field));
      requirement = combineRequirements(parts);
    } else requirement = combineRequirements(direct(parent, field));
    memo.set(key, requirement);
    return requirement;
  };
}
