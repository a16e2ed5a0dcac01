import { readFileSync } from 'node:fs';
import { Supergraph } from '@apollo/federation-internals';
import {
  Kind,
  parse,
  valueFromASTUntyped,
  type ConstDirectiveNode,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import { parse as parseYaml } from 'yaml';

/*
 * What the property tests need to know about the supergraph and the access policy, read here from
 * the SDL and the YAML on their own terms: not through the gateway's directive indexes, so that a
 * mistake there cannot hide itself. Deliberately small: @link names, the authorization directives,
 * the cost directives and @sunset.
 */

/** A conjunction of clauses; each clause is satisfied by any one of its alternatives (each: all of). */
export interface Need {
  readonly authenticated: boolean;
  readonly scopes: readonly (readonly (readonly string[])[])[];
  readonly policies: readonly (readonly (readonly string[])[])[];
}

export const NO_NEED: Need = { authenticated: false, scopes: [], policies: [] };

export interface ListSizeFact {
  readonly assumedSize: number | undefined;
  readonly slicingArguments: readonly string[];
  readonly sizedFields: readonly string[];
}

export interface SupergraphFacts {
  /** The API schema clients see (join/link machinery removed). */
  readonly schema: GraphQLSchema;
  /** `Type.field` -> what the field's own directives require. */
  readonly fieldNeeds: ReadonlyMap<string, Need>;
  /** `Type` -> what the type's own directives require (applies wherever a value of the type is returned). */
  readonly typeNeeds: ReadonlyMap<string, Need>;
  readonly fieldWeights: ReadonlyMap<string, number>;
  readonly typeWeights: ReadonlyMap<string, number>;
  /** `Type.field(arg:)` -> weight. */
  readonly argumentWeights: ReadonlyMap<string, number>;
  readonly listSizes: ReadonlyMap<string, ListSizeFact>;
  /** `Type.field` -> when it is refused (sunset date and brownout windows), epoch ms. */
  readonly sunsets: ReadonlyMap<string, { readonly from: number; readonly brownouts: readonly (readonly [number, number])[] }>;
  /** `Type.field` -> its @classification (level, and kind when given). */
  readonly classifications: ReadonlyMap<string, { readonly level: string; readonly kind: string | undefined }>;
}

/** The core-schema naming rule: a spec's own directive is `@<as or spec name>`, others `@<as or spec name>__<name>` unless imported. */
function linkedNames(document: DocumentNode): (spec: string, directive: string) => string[] {
  const links: { spec: string; prefix: string; imports: Map<string, string> }[] = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const directive of definition.directives ?? []) {
      if (directive.name.value !== 'link') continue;
      const args = argumentsOf(directive);
      const url = typeof args.url === 'string' ? args.url : '';
      const spec = /\/([\w-]+)\/v\d+\.\d+\/?$/.exec(url)?.[1];
      if (!spec) continue;
      const imports = new Map<string, string>();
      for (const item of Array.isArray(args.import) ? args.import : []) {
        if (typeof item === 'string') imports.set(item.replace(/^@/, ''), item.replace(/^@/, ''));
        else if (item && typeof item === 'object' && 'name' in item) {
          const { name, as } = item as { name: string; as?: string };
          imports.set(name.replace(/^@/, ''), (as ?? name).replace(/^@/, ''));
        }
      }
      links.push({ spec, prefix: typeof args.as === 'string' ? args.as : spec, imports });
    }
  }
  return (spec, directive) =>
    links
      .filter((l) => l.spec === spec)
      .map((l) => l.imports.get(directive) ?? (directive === l.spec ? l.prefix : `${l.prefix}__${directive}`));
}

function argumentsOf(directive: ConstDirectiveNode): Record<string, unknown> {
  return Object.fromEntries((directive.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]));
}

function stringMatrix(value: unknown): string[][] {
  return Array.isArray(value) ? value.map((row) => (Array.isArray(row) ? row.map(String) : [String(row)])) : [];
}

export function readSupergraphFacts(supergraphFile: string): SupergraphFacts {
  const sdl = readFileSync(supergraphFile, 'utf8');
  const document = parse(sdl);
  // supportedFeatures: null: we only want the API schema, not @apollo/gateway's feature policy.
  const schema = Supergraph.build(sdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
  const names = linkedNames(document);
  const is = (spec: string, directive: string) => {
    const local = new Set(names(spec, directive));
    return (node: ConstDirectiveNode) => local.has(node.name.value);
  };
  const isAuthenticated = is('authenticated', 'authenticated');
  const isScopes = is('requiresScopes', 'requiresScopes');
  const isPolicy = is('policy', 'policy');
  const isCost = is('cost', 'cost');
  const isListSize = is('cost', 'listSize');
  const isSunset = is('lifecycle', 'sunset');
  const isClassification = is('classification', 'classification');

  const needOf = (directives: readonly ConstDirectiveNode[] | undefined): Need | undefined => {
    let need: Need = NO_NEED;
    for (const d of directives ?? []) {
      if (isAuthenticated(d)) need = { ...need, authenticated: true };
      if (isScopes(d)) need = { ...need, scopes: [...need.scopes, stringMatrix(argumentsOf(d).scopes)] };
      if (isPolicy(d)) need = { ...need, policies: [...need.policies, stringMatrix(argumentsOf(d).policies)] };
    }
    return need === NO_NEED ? undefined : need;
  };
  const weightOf = (directives: readonly ConstDirectiveNode[] | undefined): number | undefined => {
    const d = directives?.find(isCost);
    const weight = d ? argumentsOf(d).weight : undefined;
    return typeof weight === 'string' || typeof weight === 'number' ? Number(weight) : undefined;
  };

  const fieldNeeds = new Map<string, Need>();
  const typeNeeds = new Map<string, Need>();
  const fieldWeights = new Map<string, number>();
  const typeWeights = new Map<string, number>();
  const argumentWeights = new Map<string, number>();
  const listSizes = new Map<string, ListSizeFact>();
  const sunsets = new Map<string, { from: number; brownouts: [number, number][] }>();
  const classifications = new Map<string, { level: string; kind: string | undefined }>();
  for (const definition of document.definitions) {
    if (!('name' in definition) || !definition.name || !('directives' in definition)) continue;
    const type = definition.name.value;
    const typeNeed = needOf(definition.directives as readonly ConstDirectiveNode[] | undefined);
    if (typeNeed) typeNeeds.set(type, typeNeed);
    const typeWeight = weightOf(definition.directives as readonly ConstDirectiveNode[] | undefined);
    if (typeWeight !== undefined) typeWeights.set(type, typeWeight);
    if (!('fields' in definition) || !definition.fields) continue;
    for (const field of definition.fields) {
      const coordinate = `${type}.${field.name.value}`;
      const need = needOf(field.directives);
      if (need) fieldNeeds.set(coordinate, need);
      const weight = weightOf(field.directives);
      if (weight !== undefined) fieldWeights.set(coordinate, weight);
      const listSize = field.directives?.find(isListSize);
      if (listSize) {
        const args = argumentsOf(listSize);
        const strings = (v: unknown) => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);
        listSizes.set(coordinate, {
          assumedSize: args.assumedSize === undefined ? undefined : Number(args.assumedSize),
          slicingArguments: strings(args.slicingArguments),
          sizedFields: strings(args.sizedFields),
        });
      }
      const sunset = field.directives?.find(isSunset);
      if (sunset) {
        const args = argumentsOf(sunset);
        const windows = (Array.isArray(args.brownouts) ? args.brownouts : []).map((w) => String(w).split('/').map((t) => Date.parse(t)) as [number, number]);
        sunsets.set(coordinate, { from: Date.parse(String(args.date)), brownouts: windows });
      }
      const classification = field.directives?.find(isClassification);
      if (classification) {
        const args = argumentsOf(classification);
        classifications.set(coordinate, { level: String(args.level), kind: args.kind === undefined ? undefined : String(args.kind) });
      }
      if ('arguments' in field) {
        for (const argument of field.arguments ?? []) {
          const w = weightOf(argument.directives);
          if (w !== undefined) argumentWeights.set(`${coordinate}(${argument.name.value}:)`, w);
        }
      }
    }
  }
  return { schema, fieldNeeds, typeNeeds, fieldWeights, typeWeights, argumentWeights, listSizes, sunsets, classifications };
}

/** policies/access.yaml, as a human wrote it. */
export interface AccessFile {
  readonly roles: Readonly<Record<string, readonly string[]>>;
  /** Role -> `LEVEL` or `LEVEL.KIND` -> clear, pseudonymized, masked or denied. */
  readonly treatments?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly policies: Readonly<Record<string, { readonly anyOf: readonly { readonly roles?: readonly string[]; readonly scopes?: readonly string[] }[] }>>;
}

export function readAccessFile(file: string): AccessFile {
  return parseYaml(readFileSync(file, 'utf8')) as AccessFile;
}

/**
 * Whether a caller holding exactly `role` (null: anonymous) satisfies a need, by the rules the
 * YAML's header states: a role grants its scopes; a policy passes when any `anyOf` entry passes,
 * an entry when all its conditions hold (roles: has one of; scopes: has all of).
 */
export function satisfies(access: AccessFile, role: string | null, need: Need): boolean {
  const empty = !need.authenticated && need.scopes.length === 0 && need.policies.length === 0;
  if (empty) return true;
  if (role === null) return false;
  const scopes = new Set(access.roles[role] ?? []);
  const policy = (name: string) =>
    (access.policies[name]?.anyOf ?? []).some((entry) => (!entry.roles || entry.roles.includes(role)) && (!entry.scopes || entry.scopes.every((s) => scopes.has(s))));
  const clauseHolds = (clause: readonly (readonly string[])[], holds: (item: string) => boolean) => clause.some((all) => all.every(holds));
  return need.scopes.every((c) => clauseHolds(c, (s) => scopes.has(s))) && need.policies.every((c) => clauseHolds(c, policy));
}

/**
 * What a caller holding exactly `role` gets of a classified field whose own rule it misses, by the
 * YAML's header: the role's `LEVEL.KIND` entry, else its `LEVEL` entry, else denied.
 */
export function treatmentOf(access: AccessFile, role: string | null, classification: { readonly level: string; readonly kind: string | undefined }): string {
  if (role === null) return 'denied';
  const byKey = access.treatments?.[role] ?? {};
  return (classification.kind ? byKey[`${classification.level}.${classification.kind}`] : undefined) ?? byKey[classification.level] ?? 'denied';
}

/**
 * The shapes a treated value may have (README, Personal data): anything else from a treated field
 * is a leak of the clear value. Written out here, not taken from lib/classification.
 */
export const TREATED_SHAPES: Readonly<Record<string, RegExp>> = {
  pseudonymized: /^pse_[A-Za-z0-9_-]{22}$/,
  'masked.EMAIL': /^(?:[^@]{0,8}\*\*\*@[^@]+|\*{4})$/u,
  'masked.PHONE': /^(?:(?:\+\d{1,3} )?\*{6} \d{3}|\*{4})$/,
  'masked.NAME': /^(?:(?:\S{1,8}\.)(?: \S{1,8}\.)*|\*{4})$/u,
  masked: /^\*{4}$/,
};

export function combineNeeds(...needs: readonly (Need | undefined)[]): Need {
  let out: Need = NO_NEED;
  for (const n of needs) {
    if (!n) continue;
    out = { authenticated: out.authenticated || n.authenticated, scopes: [...out.scopes, ...n.scopes], policies: [...out.policies, ...n.policies] };
  }
  return out;
}
