import { getNamedType, type GraphQLInterfaceType, type GraphQLObjectType } from 'graphql';
import { grantedTreatment } from '../../lib/classification/policy.js';
import type { AccessPolicies } from '../../lib/policies.js';
import type { Principal } from '../../lib/principal.js';
import { checkRequirement, type Requirement } from '../../lib/requirements.js';
import type { RequirementLookup } from '../operation/authorization.js';

/** What one principal may read of a schema, element by element (what a granted view keeps). */
export interface SchemaAccess {
  /**
   * Whether the principal may select `parent.field`, clear or treated: the field's own rule, the
   * rule of the type it returns, through an interface every implementation's (as enforcement
   * checks a selection). A classified field whose own rule the principal misses is readable when
   * one of its roles grants a treatment other than `denied` and it meets the rest.
   */
  field(parent: GraphQLObjectType | GraphQLInterfaceType, field: string): boolean;
  /**
   * Whether the type's own rule lets the principal reach objects of the type at all: every field
   * returning it, and every `... on` it, carries that rule.
   */
  type(name: string): boolean;
}

/**
 * The per-field decision of `decideAccess` (authz/enforce.ts), asked of the schema instead of an
 * operation: a field is readable when a selection of it alone would be neither denied nor
 * refused for lack of rights. The audit gate is left out on purpose: it closes for a while, the
 * view is cached per grant set. test/granted-introspection.test.ts checks the two agree.
 */
export function schemaAccess(lookup: RequirementLookup, principal: Principal, policies: AccessPolicies): SchemaAccess {
  const decided = new Map<Requirement, boolean>();
  const meets = (requirement: Requirement): boolean => {
    let held = decided.get(requirement);
    if (held === undefined) decided.set(requirement, (held = checkRequirement(requirement, principal, policies) === undefined));
    return held;
  };
  return {
    field(parent, field) {
      if (meets(lookup.field(parent, field))) return true;
      const classification = lookup.classification?.(parent, field);
      if (!classification) return false;
      const definition = parent.getFields()[field];
      if (!definition) return false;
      // A treatment lifts the field's own rule only, never the rule of the type it returns.
      if (!meets(lookup.type(getNamedType(definition.type).name))) return false;
      return grantedTreatment(policies, principal.roles, classification) !== 'denied';
    },
    type: (name) => meets(lookup.type(name)),
  };
}
