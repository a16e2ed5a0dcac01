import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLInterfaceType,
  type GraphQLUnionType,
  type GraphQLSchema,
  type GraphQLType,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  type ValueNode,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
} from 'graphql';
import { combineRequirements, isEmptyRequirement, NO_REQUIREMENT, type Requirement } from '../../lib/requirements.js';
import type { CostIndex, CostNode, ListSize, SizeSource } from './cost.js';
import { introspectionCost } from './introspection-cost.js';

/** What the analysis needs to know about requirements (from the supergraph's directives). */
export interface RequirementLookup {
  /** Selecting `Parent.field`: the field's own rule, its return type's, and for interfaces every implementation's. */
  field(parent: GraphQLCompositeType, field: string): Requirement;
  /** A type's own rule (type-level directive). */
  type(name: string): Requirement;
}

/** An @skip/@include condition on a selection, evaluated per request against its variables. */
export type Condition =
  | { readonly directive: 'skip' | 'include'; readonly literal: boolean }
  | { readonly directive: 'skip' | 'include'; readonly variable: string };

/** Where null goes when a guarded field is denied: GraphQL's null propagation, computed once. */
export type NullTarget =
  /** The whole `data` becomes null: nothing is executed. */
  | { readonly kind: 'root' }
  /** `node` is removed from the operation and set to null in every object at `path`'s parent (of `onTypes`, when given). */
  | { readonly kind: 'value'; readonly node: FieldNode; readonly path: readonly string[]; readonly onTypes: readonly string[] | undefined }
  /** `removed` (a non-null child) is removed; every object (of `onTypes`, when given) in the value at `path` becomes null. */
  | { readonly kind: 'items'; readonly removed: FieldNode; readonly path: readonly string[]; readonly onTypes: readonly string[] | undefined };

export interface GuardedField {
  readonly id: number;
  /** Response keys from the root (aliases, no list indices). */
  readonly path: readonly string[];
  readonly coordinate: string;
  readonly requirement: Requirement;
  readonly conditions: readonly Condition[];
  readonly target: NullTarget;
}

/** What the one walk over an operation needs from the supergraph. */
export interface SchemaFacts {
  readonly requirements: RequirementLookup;
  readonly cost: CostIndex;
  /** Size assumed for a list with neither a slicing argument nor `@listSize(assumedSize:)`. */
  readonly defaultListSize: number;
  /** Most field selections an operation may have once its fragments are expanded. */
  readonly maxFields: number;
}

export interface OperationAnalysis {
  /** Deepest field nesting (root fields are depth 1; introspection and __typename count like any field). */
  readonly depth: number;
  /** Fields selected under an alias (introspection and __typename included). */
  readonly aliases: number;
  /** Directives applied anywhere in the operation (fragments counted where used). */
  readonly directives: number;
  /** Schema coordinates referenced: `Type.field` and `Type.field(arg:)`, sorted, without duplicates. */
  readonly coordinates: readonly string[];
  /** Where each coordinate is selected: response paths (keys joined by '.'), for per-field outcomes. */
  readonly coordinatePaths: ReadonlyMap<string, readonly string[]>;
  /** The static cost plan; evaluate per request with `evaluateCost`. */
  readonly cost: readonly CostNode[];
  /** The operation with every fragment spread inlined: one AST node per selection in context. */
  readonly operation: OperationDefinitionNode;
  readonly guarded: readonly GuardedField[];
  /** Selects `__schema` or `__type` at the root. */
  readonly introspection: boolean;
  /** Boolean defaults of the operation's variables, for @skip/@include on omitted variables. */
  readonly variableDefaults: ReadonlyMap<string, boolean>;
  /** Filtered variants already built, by the set of denied field ids. */
  readonly filtered: Map<string, unknown>;
}

/** Refused while walking: more field selections, after expanding fragments, than `SchemaFacts.maxFields`. */
export class OperationTooLargeError extends Error {
  override readonly name = 'OperationTooLargeError';
  constructor(readonly maximum: number) {
    super(`more than ${maximum} field selections after expanding fragments`);
  }
}

interface FieldContext {
  readonly node: FieldNode;
  readonly type: GraphQLType;
  readonly path: readonly string[];
  readonly parent: FieldContext | undefined;
  /** Concrete types of the object holding this field, when its parent returns an abstract type and a type condition narrowed it. */
  readonly onTypes: readonly string[] | undefined;
}

/** Where the walk is: the state one selection set is visited with. */
interface Frame {
  readonly parentType: GraphQLCompositeType;
  /** The field owning this selection set; undefined at the root. */
  readonly parent: FieldContext | undefined;
  /** @skip/@include conditions on the way here. */
  readonly conditions: readonly Condition[];
  /** Fragment names being expanded (a cycle is skipped; validation refuses it anyway). */
  readonly visiting: ReadonlySet<string>;
  /**
   * The type-level rule of a type reached through a type condition on an abstract type
   * (`... on Author` inside a union): no field returns that type, so its rule applies to the
   * fields selected inside the condition.
   */
  readonly narrowed: Requirement;
  /** Where the cost nodes of this selection set go. */
  readonly costOut: CostNode[];
  /** Field nesting of this selection set's fields (root fields: 1). */
  readonly level: number;
  /** A parent list's size that multiplies some of these fields (`@listSize(sizedFields:)`). */
  readonly sized: { readonly fields: readonly string[]; readonly size: SizeSource } | undefined;
  /** Inside `__schema` / `__type`. */
  readonly introspective: boolean;
}

/**
 * One walk over an operation: inline its fragments, and for every field with an authorization
 * requirement record its path, coordinate, requirement, @skip/@include conditions and where null
 * would go. Cached per (document, operation name) by the caller; nothing here depends on who asks.
 */
export function analyzeOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  facts: SchemaFacts,
): OperationAnalysis {
  const { requirements } = facts;
  const coordinatePaths = new Map<string, string[]>();
  const addCoordinate = (coordinate: string, path: readonly string[]) => {
    const joined = path.join('.');
    const paths = coordinatePaths.get(coordinate);
    if (!paths) coordinatePaths.set(coordinate, [joined]);
    else if (!paths.includes(joined)) paths.push(joined);
  };
  let depth = 0;
  let aliases = 0;
  let directives = operation.directives?.length ?? 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const guarded: GuardedField[] = [];
  let introspection = false;
  let fieldCount = 0;

  const root = schema.getRootType(operation.operation);
  if (!root) throw new Error(`schema has no ${operation.operation} type`);

  function walk(set: SelectionSetNode, frame: Frame): SelectionSetNode {
    const { parentType, parent, conditions, visiting, narrowed, costOut, level, sized, introspective } = frame;
    const selections: SelectionNode[] = [];
    for (const selection of set.selections) {
      const own = [...conditions, ...conditionsOf(selection)];
      directives += selection.directives?.length ?? 0;
      if (selection.kind === Kind.FIELD) {
        // Checked while expanding, so a fragment bomb is stopped before it is built.
        if (++fieldCount > facts.maxFields) throw new OperationTooLargeError(facts.maxFields);
        const name = selection.name.value;
        // Every selection counts toward the structural limits, introspection and __typename included.
        if (selection.alias) aliases += 1;
        depth = Math.max(depth, level);
        if (name === '__typename') {
          selections.push(selection);
          continue;
        }
        if (!parent && (name === '__schema' || name === '__type')) {
          introspection = true;
          const meta = name === '__schema' ? SchemaMetaFieldDef : TypeMetaFieldDef;
          const inner = getNamedType(meta.type) as GraphQLCompositeType;
          const node: FieldNode = selection.selectionSet
            ? { ...selection, selectionSet: walk(selection.selectionSet, { ...frame, parentType: inner, conditions: own, costOut: [], level: level + 1, sized: undefined, introspective: true }) }
            : selection;
          // Its size is known from the schema: priced exactly, once per document.
          costOut.push({ weight: introspectionCost(schema, node), argumentWeight: 0, size: undefined, children: [] });
          selections.push(node);
          continue;
        }
        const definition = 'getFields' in parentType ? (parentType.getFields()[name] as GraphQLField<unknown, unknown> | undefined) : undefined;
        if (!definition) {
          selections.push(selection); // validation already refused unknown fields; keep the node as is
          continue;
        }
        if (introspective) {
          // Inside __schema/__type: counted above and priced by introspectionCost; no rule, no usage.
          const named = getNamedType(definition.type);
          selections.push(
            selection.selectionSet && isCompositeType(named)
              ? { ...selection, selectionSet: walk(selection.selectionSet, { ...frame, parentType: named, conditions: own, level: level + 1 }) }
              : selection,
          );
          continue;
        }
        const key = selection.alias?.value ?? name;
        const coordinate = `${parentType.name}.${name}`;
        const fieldPath = [...(parent?.path ?? []), key];
        addCoordinate(coordinate, fieldPath);
        for (const argument of selection.arguments ?? []) addCoordinate(`${coordinate}(${argument.name.value}:)`, fieldPath);
        const context: { -readonly [K in keyof FieldContext]: FieldContext[K] } = {
          node: selection,
          type: definition.type,
          path: [...(parent?.path ?? []), key],
          parent,
          onTypes: holderTypes(parentType, parent),
        };
        let node: FieldNode = selection;
        const named = getNamedType(definition.type);
        const listSize = facts.cost.listSizes.get(coordinate);
        const ownSize = isListType(getNullableType(definition.type)) ? sizeSource(definition, selection, listSize) : undefined;
        const children: CostNode[] = [];
        if (selection.selectionSet && isCompositeType(named)) {
          node = { ...selection, selectionSet: undefined as unknown as SelectionSetNode };
          context.node = node;
          const sizedChildren = listSize?.sizedFields.length ? { fields: listSize.sizedFields, size: sizeSource(definition, selection, listSize) } : undefined;
          (node as { selectionSet: SelectionSetNode }).selectionSet = walk(selection.selectionSet, {
            parentType: named,
            parent: context,
            conditions: own,
            visiting,
            narrowed: NO_REQUIREMENT,
            costOut: children,
            level: level + 1,
            sized: sizedChildren,
            introspective,
          });
        }
        let argumentWeight = 0;
        for (const argument of selection.arguments ?? []) argumentWeight += facts.cost.argumentWeights.get(`${coordinate}(${argument.name.value}:)`) ?? 0;
        costOut.push({
          weight: facts.cost.fieldWeights.get(coordinate) ?? facts.cost.typeWeights.get(named.name) ?? (isCompositeType(named) ? 1 : 0),
          argumentWeight,
          // With sizedFields the parent's size multiplies the named children instead of the parent.
          size: sized?.fields.includes(name) ? sized.size : listSize?.sizedFields.length ? undefined : ownSize,
          children,
        });
        const requirement = combineRequirements([requirements.field(parentType, name), narrowed]);
        if (!isEmptyRequirement(requirement)) {
          guarded.push({ id: guarded.length, path: context.path, coordinate: `${parentType.name}.${name}`, requirement, conditions: own, target: nullTarget(context) });
        }
        selections.push(node);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const typeName = selection.typeCondition?.name.value;
        const type = typeName ? schema.getType(typeName) : parentType;
        if (!type || !isCompositeType(type)) {
          selections.push(selection);
          continue;
        }
        selections.push({ ...selection, selectionSet: walk(selection.selectionSet, { ...frame, parentType: type, conditions: own, narrowed: narrowTo(type, parentType, narrowed) }) });
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        const type = fragment ? schema.getType(fragment.typeCondition.name.value) : undefined;
        if (!fragment || !type || !isCompositeType(type) || visiting.has(name)) continue;
        selections.push({
          kind: Kind.INLINE_FRAGMENT,
          typeCondition: fragment.typeCondition,
          directives: selection.directives ?? [],
          selectionSet: walk(fragment.selectionSet, { ...frame, parentType: type, conditions: own, visiting: new Set([...visiting, name]), narrowed: narrowTo(type, parentType, narrowed) }),
        });
      }
    }
    return { ...set, selections };
  }

  // The fields of a guarded field's node are rewritten after it is recorded, so targets must point
  // at the final nodes: record contexts by reference (nullTarget reads context.node lazily below).
  /** Which concrete types the object holding a field may be, if that is narrower than what its parent field returns. */
  function holderTypes(parentType: GraphQLCompositeType, parent: FieldContext | undefined): readonly string[] | undefined {
    if (!parent) return undefined;
    const returned = getNamedType(parent.type);
    if (returned === parentType || isObjectType(returned)) return undefined;
    return isObjectType(parentType) ? [parentType.name] : schema.getPossibleTypes(parentType as GraphQLInterfaceType | GraphQLUnionType).map((t) => t.name);
  }

  function narrowTo(type: GraphQLCompositeType, from: GraphQLCompositeType, current: Requirement): Requirement {
    if (type === from || isObjectType(from)) return current;
    return combineRequirements([current, requirements.type(type.name)]);
  }

  /** Where a list field's size comes from: slicing arguments (literal, variable or schema default), else assumedSize, else the default. */
  function sizeSource(definition: GraphQLField<unknown, unknown>, selection: FieldNode, listSize: ListSize | undefined): SizeSource {
    const fallback = listSize?.assumedSize ?? facts.defaultListSize;
    const slicing = listSize?.slicingArguments ?? [];
    if (slicing.length === 0) return { kind: 'fixed', size: fallback };
    const values: ({ literal: number } | { variable: string; default: number | undefined })[] = [];
    for (const name of slicing) {
      const given = selection.arguments?.find((a) => a.name.value === name)?.value;
      const schemaDefault = definition.args.find((a) => a.name === name)?.defaultValue;
      const fromSchema = typeof schemaDefault === 'number' ? schemaDefault : undefined;
      if (given?.kind === Kind.INT) values.push({ literal: Number.parseInt(given.value, 10) });
      else if (given?.kind === Kind.VARIABLE) values.push({ variable: given.name.value, default: variableDefaultOf(given.name.value) ?? fromSchema });
      else if (fromSchema !== undefined) values.push({ literal: fromSchema });
    }
    return { kind: 'arguments', values, fallback };
  }

  function variableDefaultOf(name: string): number | undefined {
    const value = operation.variableDefinitions?.find((d) => d.variable.name.value === name)?.defaultValue;
    return value?.kind === Kind.INT ? Number.parseInt(value.value, 10) : undefined;
  }

  const cost: CostNode[] = [];
  const inlined: OperationDefinitionNode = {
    ...operation,
    selectionSet: walk(operation.selectionSet, {
      parentType: root,
      parent: undefined,
      conditions: [],
      visiting: new Set(),
      narrowed: NO_REQUIREMENT,
      costOut: cost,
      level: 1,
      sized: undefined,
      introspective: false,
    }),
  };
  const variableDefaults = new Map<string, boolean>();
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue?.kind === Kind.BOOLEAN) variableDefaults.set(definition.variable.name.value, definition.defaultValue.value);
  }
  return {
    depth,
    aliases,
    directives,
    coordinates: [...coordinatePaths.keys()].sort(),
    coordinatePaths,
    cost,
    operation: inlined,
    guarded: guarded.map((g) => ({ ...g, target: resolveTarget(g.target) })),
    introspection,
    variableDefaults,
    filtered: new Map(),
  };
}

/** Targets hold contexts whose node may have been replaced while walking children; read the final one. */
function resolveTarget(target: NullTarget | PendingTarget): NullTarget {
  if (!('pending' in target)) return target;
  const { context, kind, removed } = target.pending;
  if (kind === 'value') return { kind, node: context.node, path: context.path, onTypes: context.onTypes };
  return { kind, removed: removed!.node, path: context.path, onTypes: removed!.onTypes };
}

type PendingTarget = { readonly pending: { kind: 'value' | 'items'; context: FieldContext; removed?: FieldContext } };

/** GraphQL null propagation from a field upwards to the first position that may hold null. */
function nullTarget(field: FieldContext): NullTarget {
  let current = field;
  for (;;) {
    if (!isNonNullType(current.type)) return { pending: { kind: 'value', context: current } } as unknown as NullTarget;
    const parent = current.parent;
    if (!parent) return { kind: 'root' };
    // The object holding `current` sits at the innermost item position of the parent's type.
    let item: GraphQLType = parent.type;
    while (isListType(getNullableType(item))) item = (getNullableType(item) as { ofType: GraphQLType }).ofType;
    if (!isNonNullType(item)) return { pending: { kind: 'items', context: parent, removed: current } } as unknown as NullTarget;
    current = parent;
    // A non-null item inside a list: the list value itself must become null; continue with the parent.
  }
}

function conditionsOf(selection: SelectionNode): Condition[] {
  const out: Condition[] = [];
  for (const directive of selection.directives ?? []) {
    const name = directive.name.value;
    if (name !== 'skip' && name !== 'include') continue;
    const value: ValueNode | undefined = directive.arguments?.find((a) => a.name.value === 'if')?.value;
    if (!value) continue;
    if (value.kind === Kind.BOOLEAN) out.push({ directive: name, literal: value.value });
    else if (value.kind === Kind.VARIABLE) out.push({ directive: name, variable: value.name.value });
  }
  return out;
}
