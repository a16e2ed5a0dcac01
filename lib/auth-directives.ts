import { Kind, type ConstDirectiveNode, type ConstValueNode, type DocumentNode } from 'graphql';
import { combineRequirements, NO_REQUIREMENT, type Requirement } from './requirements.js';
import { argumentsOf, directiveLocalNames, FEDERATION_URL } from './spec-links.js';

/**
 * Federation's authorization directives as a schema document declares them: `@authenticated`,
 * `@requiresScopes`, `@policy`, on fields and on types. Works on a subgraph's SDL (names imported
 * from the federation spec, possibly renamed) and on a supergraph (names from their own
 * specs.apollo.dev links, possibly renamed with `as:`).
 */
export interface RequirementIndex {
  /** `Type` -> what any field returning this type requires. */
  readonly types: ReadonlyMap<string, Requirement>;
  /** `Type.field` -> what this field requires itself. */
  readonly fields: ReadonlyMap<string, Requirement>;
}

type Feature = 'authenticated' | 'requiresScopes' | 'policy';
const FEATURES: readonly Feature[] = ['authenticated', 'requiresScopes', 'policy'];
export const AUTHORIZATION_SPEC_URLS: Readonly<Record<Feature, string>> = {
  authenticated: 'https://specs.apollo.dev/authenticated/',
  requiresScopes: 'https://specs.apollo.dev/requiresScopes/',
  policy: 'https://specs.apollo.dev/policy/',
};

/**
 * Our access spec, linked like the lifecycle spec and composed with `@composeDirective`: `@public`
 * marks a field its owner means anyone to read. It requires nothing, so the gateway and the
 * subgraphs' shield need nothing from it (a field without a rule is open to them either way); it
 * tells the schema lint (scripts/schema-lint.ts) that the missing rule is a decision, not an oversight.
 */
export const ACCESS_SPEC_URL = 'https://specs.data-product-gateway.dev/access/';

/** The local names of `@public` in this document (imported, renamed with `as:`, or `@access__public`). */
export function publicDirectiveNames(document: DocumentNode): Set<string> {
  return directiveLocalNames(document, ACCESS_SPEC_URL, 'public');
}

/** The local directive name of each authorization feature in this document. */
export function authorizationDirectiveNames(document: DocumentNode): Map<string, Feature> {
  const names = new Map<string, Feature>();
  for (const feature of FEATURES) {
    // In a supergraph each feature has its own spec; in a subgraph it comes with federation's.
    for (const spec of [AUTHORIZATION_SPEC_URLS[feature], FEDERATION_URL]) {
      for (const name of directiveLocalNames(document, spec, feature)) names.set(name, feature);
    }
  }
  return names;
}

/** Reads every authorization directive of a schema document into an index. */
export function indexRequirements(document: DocumentNode): RequirementIndex {
  const names = authorizationDirectiveNames(document);
  const types = new Map<string, Requirement>();
  const fields = new Map<string, Requirement>();
  const add = (map: Map<string, Requirement>, key: string, requirement: Requirement) => {
    map.set(key, combineRequirements([map.get(key) ?? NO_REQUIREMENT, requirement]));
  };
  for (const definition of document.definitions) {
    switch (definition.kind) {
      case Kind.OBJECT_TYPE_DEFINITION:
      case Kind.OBJECT_TYPE_EXTENSION:
      case Kind.INTERFACE_TYPE_DEFINITION:
      case Kind.INTERFACE_TYPE_EXTENSION: {
        const type = definition.name.value;
        const own = requirementOf(definition.directives, names);
        if (own) add(types, type, own);
        for (const field of definition.fields ?? []) {
          const requirement = requirementOf(field.directives, names);
          if (requirement) add(fields, `${type}.${field.name.value}`, requirement);
        }
        break;
      }
      case Kind.SCALAR_TYPE_DEFINITION:
      case Kind.SCALAR_TYPE_EXTENSION:
      case Kind.ENUM_TYPE_DEFINITION:
      case Kind.ENUM_TYPE_EXTENSION: {
        const own = requirementOf(definition.directives, names);
        if (own) add(types, definition.name.value, own);
        break;
      }
      default:
        break;
    }
  }
  return { types, fields };
}

function requirementOf(directives: readonly ConstDirectiveNode[] | undefined, names: ReadonlyMap<string, Feature>): Requirement | undefined {
  const parts: Requirement[] = [];
  for (const directive of directives ?? []) {
    const feature = names.get(directive.name.value);
    if (!feature) continue;
    if (feature === 'authenticated') {
      parts.push({ authenticated: true, scopes: [], policies: [] });
      continue;
    }
    const argName = feature === 'requiresScopes' ? 'scopes' : 'policies';
    const value = argumentsOf(directive.arguments).get(argName);
    const alternatives = value ? stringMatrix(value) : [];
    parts.push(feature === 'requiresScopes' ? { authenticated: true, scopes: [alternatives], policies: [] } : { authenticated: true, scopes: [], policies: [alternatives] });
  }
  return parts.length ? combineRequirements(parts) : undefined;
}


/** `[["a", "b"], ["c"]]` -> [["a","b"],["c"]]; anything malformed contributes nothing (and so is never satisfiable). */
function stringMatrix(value: ConstValueNode): string[][] {
  if (value.kind !== Kind.LIST) return [];
  return value.values.map((inner) =>
    inner.kind === Kind.LIST ? inner.values.flatMap((v) => (v.kind === Kind.STRING ? [v.value] : [])) : inner.kind === Kind.STRING ? [inner.value] : [],
  );
}
