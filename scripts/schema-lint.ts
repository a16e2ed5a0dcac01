import {
  Kind,
  parse,
  type ConstDirectiveNode,
  type ConstValueNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
  type TypeNode,
} from 'graphql';
import { indexRequirements, publicDirectiveNames, type RequirementIndex } from '../lib/auth-directives.js';
import { isEmptyRequirement } from '../lib/requirements.js';
import { argumentsOf, directiveLocalNames, FEDERATION_URL, linksOf } from '../lib/spec-links.js';

/**
 * House rules for a subgraph's SDL that composition does not check, run by `npm run compose` and
 * `npm run schema:check` over every subgraph (a pure function of its document, so renamed imports
 * resolve exactly as the gateway resolves them):
 *
 * - `listSize`: a list field that takes a page-size argument declares `@listSize` naming it, so the
 *   gateway prices `first: 100` as 100 items, not as the default list size.
 * - `access`: no field can be read without an access rule unless its owner says so with `@public`.
 */
export type SchemaLintRule = 'listSize' | 'access';

export type SchemaLintCode =
  /** A list field takes a slicing-style argument that no `@listSize(slicingArguments:)` names. */
  | 'LIST_SIZE_MISSING'
  /** `@listSize` insists on exactly one slicing argument that the schema lets clients omit. */
  | 'LIST_SIZE_REQUIRES_OPTIONAL_ARGUMENT'
  /** A field can be read without passing any access rule, and is not marked `@public`. */
  | 'ACCESS_UNCOVERED'
  /** A field is marked `@public` yet an access rule applies to it. */
  | 'ACCESS_PUBLIC_CONFLICT';

export interface SchemaLintProblem {
  readonly rule: SchemaLintRule;
  readonly code: SchemaLintCode;
  /** `Type.field`. */
  readonly coordinate: string;
  readonly message: string;
}

/**
 * Argument names (compared in lower case) that size the list a field returns. Only `Int`
 * arguments count: `@listSize` can name nothing else (composition refuses other types).
 */
export const SLICING_ARGUMENT_NAMES: ReadonlySet<string> = new Set(['first', 'last', 'limit', 'take', 'top', 'pagesize', 'size', 'count']);

/** Fields Federation adds to a subgraph; the subgraph's shield guards them itself. */
const FEDERATION_FIELDS: ReadonlySet<string> = new Set(['_service', '_entities']);

const COST_SPEC_URL = 'https://specs.apollo.dev/cost/';

interface CompositeType {
  readonly name: string;
  readonly kind: 'object' | 'interface';
  readonly fields: FieldDefinitionNode[];
  readonly directives: ConstDirectiveNode[];
  readonly interfaces: string[];
}

interface SchemaModel {
  readonly composites: ReadonlyMap<string, CompositeType>;
  readonly unions: ReadonlyMap<string, readonly string[]>;
  readonly roots: ReadonlySet<string>;
}

/** A problem and where its field starts in the document, to report in document order. */
type Located = { readonly at: number; readonly problem: SchemaLintProblem };

const at = (field: FieldDefinitionNode, problem: SchemaLintProblem): Located => ({ at: field.loc?.start ?? 0, problem });

/** Every problem of one subgraph's SDL, in document order. */
export function lintSubgraphSchema(document: DocumentNode): SchemaLintProblem[] {
  const model = modelOf(document);
  return [...listSizeProblems(document, model), ...accessProblems(document, model)].sort((a, b) => a.at - b.at).map((l) => l.problem);
}

/** One line per problem, naming the file and the coordinate: `schema/finance.graphql: Query.transactions: ...`. */
export function formatLintProblem(file: string, problem: SchemaLintProblem): string {
  return `${file}: ${problem.coordinate}: ${problem.message} [${problem.code}]`;
}

function modelOf(document: DocumentNode): SchemaModel {
  const composites = new Map<string, CompositeType>();
  const unions = new Map<string, string[]>();
  let roots: Set<string> | undefined;
  for (const definition of document.definitions) {
    switch (definition.kind) {
      case Kind.OBJECT_TYPE_DEFINITION:
      case Kind.OBJECT_TYPE_EXTENSION:
      case Kind.INTERFACE_TYPE_DEFINITION:
      case Kind.INTERFACE_TYPE_EXTENSION: {
        const name = definition.name.value;
        const kind = definition.kind === Kind.OBJECT_TYPE_DEFINITION || definition.kind === Kind.OBJECT_TYPE_EXTENSION ? 'object' : 'interface';
        const type = composites.get(name) ?? { name, kind, fields: [], directives: [], interfaces: [] };
        type.fields.push(...(definition.fields ?? []));
        type.directives.push(...(definition.directives ?? []));
        type.interfaces.push(...(definition.interfaces ?? []).map((i) => i.name.value));
        composites.set(name, type);
        break;
      }
      case Kind.UNION_TYPE_DEFINITION:
      case Kind.UNION_TYPE_EXTENSION:
        unions.set(definition.name.value, [...(unions.get(definition.name.value) ?? []), ...(definition.types ?? []).map((t) => t.name.value)]);
        break;
      case Kind.SCHEMA_DEFINITION:
      case Kind.SCHEMA_EXTENSION:
        for (const operation of definition.operationTypes ?? []) (roots ??= new Set()).add(operation.type.name.value);
        break;
      default:
        break;
    }
  }
  return { composites, unions, roots: roots ?? new Set(['Query', 'Mutation', 'Subscription']) };
}

function namedTypeOf(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedTypeOf(type.type);
}

function isListType(type: TypeNode): boolean {
  return type.kind === Kind.LIST_TYPE || (type.kind === Kind.NON_NULL_TYPE && type.type.kind === Kind.LIST_TYPE);
}

/** Clients may leave it out: nullable, or with a default. */
function isOptional(argument: InputValueDefinitionNode): boolean {
  return argument.type.kind !== Kind.NON_NULL_TYPE || argument.defaultValue !== undefined;
}

function isIntArgument(argument: InputValueDefinitionNode): boolean {
  const type = argument.type.kind === Kind.NON_NULL_TYPE ? argument.type.type : argument.type;
  return type.kind === Kind.NAMED_TYPE && type.name.value === 'Int';
}

function strings(value: ConstValueNode | undefined): string[] {
  if (value?.kind === Kind.STRING) return [value.value];
  if (value?.kind !== Kind.LIST) return [];
  return value.values.flatMap((v) => (v.kind === Kind.STRING ? [v.value] : []));
}

// --- listSize -------------------------------------------------------------------------------

/**
 * A field sized by an argument: it returns a list, or an object holding lists (a connection,
 * whose `@listSize` then names them in `sizedFields`), and takes an `Int` argument named like a
 * page size. Without `@listSize` naming that argument the gateway prices every call at the
 * default list size, whatever the caller asks for.
 */
function listSizeProblems(document: DocumentNode, model: SchemaModel): Located[] {
  const names = new Set([...directiveLocalNames(document, FEDERATION_URL, 'listSize'), ...directiveLocalNames(document, COST_SPEC_URL, 'listSize')]);
  const problems: Located[] = [];
  for (const type of model.composites.values()) {
    for (const field of type.fields) {
      const slicing = (field.arguments ?? []).filter((a) => SLICING_ARGUMENT_NAMES.has(a.name.value.toLowerCase()) && isIntArgument(a));
      if (slicing.length === 0) continue;
      const returned = model.composites.get(namedTypeOf(field.type));
      const connection = !isListType(field.type) && returned !== undefined && returned.fields.some((f) => isListType(f.type));
      if (!isListType(field.type) && !connection) continue;
      const coordinate = `${type.name}.${field.name.value}`;
      const directive = (field.directives ?? []).find((d) => names.has(d.name.value));
      const args = argumentsOf(directive?.arguments);
      const declared = strings(args.get('slicingArguments'));
      const missing = slicing.filter((a) => !declared.includes(a.name.value)).map((a) => a.name.value);
      if (missing.length > 0) {
        const list = missing.map((m) => `"${m}"`).join(', ');
        problems.push(at(field, {
          rule: 'listSize',
          code: 'LIST_SIZE_MISSING',
          coordinate,
          message: directive
            ? `@listSize does not name ${list} in slicingArguments, so the gateway prices the list without it`
            : `takes ${list} but declares no @listSize, so the gateway prices it at the default list size whatever the caller asks for: add ${suggestListSize(slicing, connection)}`,
        }));
        continue;
      }
      // Apollo Router refuses an operation that gives no slicing argument when this is true (the
      // spec's default), even when the argument has a default: a contract clients cannot see.
      const requireOne = args.get('requireOneSlicingArgument');
      const only = declared.length === 1 ? slicing.find((a) => a.name.value === declared[0]) : undefined;
      if (only && isOptional(only) && !(requireOne?.kind === Kind.BOOLEAN && !requireOne.value)) {
        problems.push(at(field, {
          rule: 'listSize',
          code: 'LIST_SIZE_REQUIRES_OPTIONAL_ARGUMENT',
          coordinate,
          message: `"${only.name.value}" may be omitted, but @listSize requires exactly one slicing argument (requireOneSlicingArgument defaults to true): add requireOneSlicingArgument: false${only.defaultValue ? ` and assumedSize: ${printDefault(only)}` : ''}`,
        }));
      }
    }
  }
  return problems;
}

function printDefault(argument: InputValueDefinitionNode): string {
  return argument.defaultValue?.kind === Kind.INT ? argument.defaultValue.value : '<its default>';
}

/** The declaration that satisfies this rule, for the message. */
function suggestListSize(slicing: readonly InputValueDefinitionNode[], connection: boolean): string {
  const args = [`slicingArguments: [${slicing.map((a) => `"${a.name.value}"`).join(', ')}]`];
  const only = slicing.length === 1 ? slicing[0] : undefined;
  if (only?.defaultValue) args.push(`assumedSize: ${printDefault(only)}`);
  if (only && isOptional(only)) args.push('requireOneSlicingArgument: false');
  if (connection) args.push('sizedFields: [<its list fields>]');
  return `@listSize(${args.join(', ')})`;
}

// --- access ---------------------------------------------------------------------------------

/**
 * Every field is guarded by an access rule or marked `@public`. A field is guarded by its own
 * `@authenticated` / `@requiresScopes` / `@policy`, or one on the type it returns (the gateway
 * applies both), or by its parent type when that type cannot be reached without passing a rule.
 * A type can be reached without one as a root type (the gateway applies a type's rule only to
 * fields returning it, never to the fields of `Query`), as an entity this subgraph resolves for
 * anyone (`_entities` checks the type's own rule and nothing else), or through a field that is
 * itself unguarded or `@public`. So value types reached only through guarded fields (a
 * customer's `segments`) need no rules of their own, and a new open path to them is reported at
 * each field it opens.
 *
 * Exempt: Federation's `_service` and `_entities`; the key fields of an entity, which whoever
 * asks for the entity already holds (the gateway sends them in the representation) and which the
 * planner needs to join products. Other fields of an entity stub still need a rule.
 */
function accessProblems(document: DocumentNode, model: SchemaModel): Located[] {
  const requirements = indexRequirements(document);
  const publicNames = publicDirectiveNames(document);
  const keyNames = directiveLocalNames(document, FEDERATION_URL, 'key');
  // A Federation 1 subgraph has no @link: its directives go by their bare names.
  if (!linksOf(document).some((l) => l.url.startsWith(FEDERATION_URL))) keyNames.add('key');
  const ruleOf = (key: string, map: RequirementIndex['types'] | RequirementIndex['fields']) => {
    const requirement = map.get(key);
    return requirement !== undefined && !isEmptyRequirement(requirement);
  };
  const typeRule = (name: string) => ruleOf(name, requirements.types);
  const isPublic = (field: FieldDefinitionNode) => (field.directives ?? []).some((d) => publicNames.has(d.name.value));

  const problems: Located[] = [];
  // `@public` that something overrides would tell readers a lie.
  for (const type of model.composites.values()) {
    for (const field of type.fields) {
      if (!isPublic(field)) continue;
      const coordinate = `${type.name}.${field.name.value}`;
      const returned = namedTypeOf(field.type);
      const conflict = ruleOf(coordinate, requirements.fields)
        ? 'it has an access rule of its own'
        : typeRule(returned)
          ? `the type it returns, ${returned}, has an access rule`
          : !model.roots.has(type.name) && typeRule(type.name)
            ? `its type ${type.name} has an access rule, which the subgraph enforces on each of its fields`
            : undefined;
      if (conflict) problems.push(at(field, { rule: 'access', code: 'ACCESS_PUBLIC_CONFLICT', coordinate, message: `marked @public, but ${conflict}: drop one or the other` }));
    }
  }

  // Types readable without passing a rule, and how (for the message).
  const openVia = new Map<string, string>();
  const queue: string[] = [];
  const open = (name: string, via: string) => {
    if (openVia.has(name) || typeRule(name)) return;
    const members = model.unions.get(name);
    if (members) {
      for (const member of members) open(member, via);
      return;
    }
    const type = model.composites.get(name);
    if (!type) return;
    openVia.set(name, via);
    queue.push(name);
    if (type.kind === 'interface') {
      for (const other of model.composites.values()) if (other.interfaces.includes(name)) open(other.name, via);
    }
  };
  for (const root of model.roots) {
    if (!model.composites.has(root)) continue;
    openVia.set(root, 'root');
    queue.push(root);
  }
  const keysOf = new Map<string, Set<string>>();
  for (const type of model.composites.values()) {
    const keys = entityKeys(type, keyNames);
    if (!keys) continue;
    keysOf.set(type.name, keys.fields);
    if (keys.resolvable) open(type.name, '_entities');
  }

  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const type = model.composites.get(next)!;
    const via = openVia.get(next)!;
    const isRoot = via === 'root';
    for (const field of type.fields) {
      const name = field.name.value;
      if (isRoot && FEDERATION_FIELDS.has(name)) continue;
      const coordinate = `${type.name}.${name}`;
      const returned = namedTypeOf(field.type);
      if (ruleOf(coordinate, requirements.fields) || typeRule(returned)) continue;
      if (!isPublic(field) && !keysOf.get(type.name)?.has(name)) {
        problems.push(at(field, { rule: 'access', code: 'ACCESS_UNCOVERED', coordinate, message: uncoveredMessage(type, returned, via, typeRule(type.name)) }));
      }
      open(returned, coordinate);
    }
  }
  return problems;
}

const RULES = '@authenticated, @requiresScopes or @policy';

function uncoveredMessage(type: CompositeType, returned: string, via: string, rootTypeRule: boolean): string {
  if (via === 'root') {
    return `no access rule: a root field needs its own (${RULES}) or one on the type it returns (${returned}), or @public to say anyone may read it${rootTypeRule ? `; the rule on type ${type.name} guards nothing, since the gateway applies a type's rule only to fields returning it` : ''}`;
  }
  const how = via === '_entities' ? `${type.name} is an entity this subgraph resolves (_entities) without a rule of its own` : `${type.name} can be reached without one through ${via}`;
  return `no access rule, and ${how}: add ${RULES} to the field or to type ${type.name}${via === '_entities' ? '' : ` (or guard ${via})`}, or mark the field @public`;
}

/** The fields named by an object's or interface's `@key`s, and whether any key is resolvable here. */
function entityKeys(type: CompositeType, keyNames: ReadonlySet<string>): { fields: Set<string>; resolvable: boolean } | undefined {
  let keys: { fields: Set<string>; resolvable: boolean } | undefined;
  for (const directive of type.directives) {
    if (!keyNames.has(directive.name.value)) continue;
    keys ??= { fields: new Set(), resolvable: false };
    const args = argumentsOf(directive.arguments);
    const resolvable = args.get('resolvable');
    if (!(resolvable?.kind === Kind.BOOLEAN && !resolvable.value)) keys.resolvable = true;
    const selection = args.get('fields');
    if (selection?.kind !== Kind.STRING) continue;
    try {
      // Only the top-level key fields: a nested key's object still needs rules for its fields.
      const operation = parse(`{ ${selection.value} }`).definitions[0];
      if (operation?.kind !== Kind.OPERATION_DEFINITION) continue;
      for (const s of operation.selectionSet.selections) if (s.kind === Kind.FIELD) keys.fields.add(s.name.value);
    } catch {
      // A malformed key is composition's to report.
    }
  }
  return keys;
}
