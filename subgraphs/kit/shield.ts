import { applyMiddleware } from 'graphql-middleware';
import { allow, deny, rule, shield, type IRules } from 'graphql-shield';
type ShieldRule = Parameters<typeof shield>[1] extends infer O ? (O extends { fallbackRule?: infer R } ? NonNullable<R> : never) : never;
import { getNamedType, GraphQLError, isIntrospectionType, isObjectType, type DocumentNode, type GraphQLSchema } from 'graphql';
import { indexRequirements } from '../../lib/auth-directives.js';
import { indexClassifications } from '../../lib/classification/index.js';
import type { Classification } from '../../lib/classification/model.js';
import { grantedTreatment } from '../../lib/classification/policy.js';
import { forbiddenError } from '../../lib/forbidden.js';
import type { AccessPolicies } from '../../lib/policies.js';
import type { Principal } from '../../lib/principal.js';
import {
  checkRequirement,
  combineRequirements,
  fieldRequirements,
  isEmptyRequirement,
  NO_REQUIREMENT,
  type Requirement,
} from '../../lib/requirements.js';

/** What the shield needs from a subgraph's request context. */
export interface ShieldContext {
  readonly principal: Principal;
}


/**
 * Defense in depth: the subgraph enforces the same @authenticated / @requiresScopes / @policy
 * rules as the gateway, generated from its own SDL and policies/access.yaml (never written twice).
 * Deny by default: any field not in the generated tree is refused. Entity resolution is covered
 * twice: every field of an entity has its rule, and `_entities` checks each representation's type.
 * A classified field (`@classification`) is also served to a caller who misses only its own rule
 * when one of the caller's roles grants a treatment for it (policies/access.yaml `treatments`):
 * the gateway masks or pseudonymizes the value before it reaches the client.
 */
export function protectSchema(schema: GraphQLSchema, typeDefs: DocumentNode, policies: AccessPolicies): GraphQLSchema {
  const index = indexRequirements(typeDefs);
  const requirementOf = fieldRequirements(schema, index);
  const rules = new Map<Requirement, ShieldRule>();
  const ruleFor = (coordinate: string, requirement: Requirement): ShieldRule => {
    if (isEmptyRequirement(requirement)) return allow;
    const existing = rules.get(requirement);
    if (existing) return existing;
    const made = rule(`requires:${coordinate}`, { cache: 'no_cache' })((_parent, _args, context: ShieldContext) => {
      const denial = checkRequirement(requirement, context.principal, policies);
      return denial ? forbiddenError(coordinate, denial) : true;
    });
    rules.set(requirement, made);
    return made;
  };

  // A classified field whose own rule the caller misses is still served when one of the caller's
  // roles grants it a treatment: the gateway masks or pseudonymizes the value on the way out.
  // The rest of the rule (the type's, the returned type's) still holds, and a denied one is refused.
  const classifications = indexClassifications(typeDefs);
  const treatedRuleFor = (coordinate: string, requirement: Requirement, residual: Requirement, classification: Classification): ShieldRule =>
    rule(`treated:${coordinate}`, { cache: 'no_cache' })((_parent, _args, context: ShieldContext) => {
      const denial = checkRequirement(requirement, context.principal, policies);
      if (!denial) return true;
      if (checkRequirement(residual, context.principal, policies)) return forbiddenError(coordinate, denial);
      return grantedTreatment(policies, context.principal.roles, classification) === 'denied' ? forbiddenError(coordinate, denial) : true;
    });

  const tree: IRules = {};
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || isIntrospectionType(type)) continue;
    const fields: Record<string, ShieldRule> = {};
    // In a subgraph an object can be reached without a field returning it (`_entities`), so the
    // type's own requirement also guards each of its fields.
    const ownType = index.types.get(type.name) ?? NO_REQUIREMENT;
    for (const [name, field] of Object.entries(type.getFields())) {
      const coordinate = `${type.name}.${name}`;
      const requirement = combineRequirements([requirementOf(type, name), ownType]);
      const classification = classifications.get(coordinate);
      if (classification && !isEmptyRequirement(requirement)) {
        const residual = combineRequirements([index.types.get(getNamedType(field.type).name) ?? NO_REQUIREMENT, ownType]);
        fields[name] = treatedRuleFor(coordinate, requirement, residual, classification);
      } else fields[name] = ruleFor(coordinate, requirement);
    }
    tree[type.name] = fields;
  }
  const query = schema.getQueryType();
  if (query?.getFields()._entities) {
    tree[query.name] = {
      ...(tree[query.name] as Record<string, ShieldRule>),
      _entities: rule('entities', { cache: 'no_cache' })((_parent, args: { representations?: { __typename?: unknown }[] }, context: ShieldContext) => {
        for (const representation of args.representations ?? []) {
          const typename = String(representation.__typename);
          const denial = checkRequirement(index.types.get(typename) ?? NO_REQUIREMENT, context.principal, policies);
          if (denial) return forbiddenError(typename, denial);
        }
        return true;
      }),
    };
  }
  const permissions = shield(tree, {
    fallbackRule: deny,
    fallbackError: () => new GraphQLError('Not authorized', { extensions: { code: 'FORBIDDEN' } }),
    // Resolver errors (BAD_USER_INPUT, ...) pass through to the subgraph's own error mask.
    allowExternalErrors: true,
    debug: false,
  });
  return applyMiddleware(schema, permissions);
}
