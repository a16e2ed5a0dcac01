import {
  Kind,
  type ConstArgumentNode,
  type ConstDirectiveNode,
  type ConstValueNode,
  type DocumentNode,
} from 'graphql';
import { combineRequirements, NO_REQUIREMENT, type Requirement } from './requirements.js';

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
const FEDERATION_URL = 'https://specs.apollo.dev/federation/';

export interface LinkInfo {
  readonly node: ConstDirectiveNode;
  readonly url: string;
  readonly as: string | undefined;
  readonly for: string | undefined;
  readonly imports: readonly { name: string; as: string | undefined }[];
}

/** Every `@link` applied to the schema (definition or extensions). */
export function linksOf(document: DocumentNode): LinkInfo[] {
  const links: LinkInfo[] = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const directive of definition.directives ?? []) {
      if (directive.name.value !== 'link') continue;
      const args = argumentsOf(directive.arguments);
      const url = args.get('url');
      if (url?.kind !== Kind.STRING) continue;
      const imports: { name: string; as: string | undefined }[] = [];
      const list = args.get('import');
      if (list?.kind === Kind.LIST) {
        for (const item of list.values) {
          if (item.kind === Kind.STRING) imports.push({ name: item.value, as: undefined });
          if (item.kind === Kind.OBJECT) {
            const fields = new Map(item.fields.map((f) => [f.name.value, f.value]));
            const name = fields.get('name');
            const as = fields.get('as');
            if (name?.kind === Kind.STRING) imports.push({ name: name.value, as: as?.kind === Kind.STRING ? as.value : undefined });
          }
        }
      }
      const as = args.get('as');
      const purpose = args.get('for');
      links.push({
        node: directive,
        url: url.value,
        as: as?.kind === Kind.STRING ? as.value : undefined,
        for: purpose?.kind === Kind.ENUM ? purpose.value : undefined,
        imports,
      });
    }
  }
  return links;
}

/** The local directive name of each authorization feature in this document. */
export function authorizationDirectiveNames(document: DocumentNode): Map<string, Feature> {
  const names = new Map<string, Feature>();
  for (const link of linksOf(document)) {
    for (const feature of FEATURES) {
      if (link.url.startsWith(AUTHORIZATION_SPEC_URLS[feature])) names.set(link.as ?? feature, feature);
    }
    if (link.url.startsWith(FEDERATION_URL)) {
      const prefix = link.as ?? 'federation';
      for (const feature of FEATURES) {
        names.set(`${prefix}__${feature}`, feature);
        const imported = link.imports.find((i) => i.name === `@${feature}`);
        if (imported) names.set((imported.as ?? imported.name).replace(/^@/, ''), feature);
      }
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

function argumentsOf(args: readonly ConstArgumentNode[] | undefined): Map<string, ConstValueNode> {
  return new Map((args ?? []).map((a) => [a.name.value, a.value]));
}

/** `[["a", "b"], ["c"]]` -> [["a","b"],["c"]]; anything malformed contributes nothing (and so is never satisfiable). */
function stringMatrix(value: ConstValueNode): string[][] {
  if (value.kind !== Kind.LIST) return [];
  return value.values.map((inner) =>
    inner.kind === Kind.LIST ? inner.values.flatMap((v) => (v.kind === Kind.STRING ? [v.value] : [])) : inner.kind === Kind.STRING ? [inner.value] : [],
  );
}
