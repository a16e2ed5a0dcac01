import {
  getNamedType,
  getNullableType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DirectiveNode,
  type FieldNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type GraphQLType,
  type OperationDefinitionNode,
  type ValueNode,
} from 'graphql';
import type { Classification } from '../../lib/classification/model.js';
import { combineRequirements, isEmptyRequirement, NO_REQUIREMENT, type Requirement } from '../../lib/requirements.js';

/** What the authorization pass needs to know about requirements (from the supergraph's directives). */
export interface RequirementLookup {
  /** Selecting `Parent.field`: the field's own rule, its return type's, and for interfaces every implementation's. */
  field(parent: GraphQLCompositeType, field: string): Requirement;
  /** A type's own rule (type-level directive). */
  type(name: string): Requirement;
  /** Selecting `Parent.field`: what its value is classified as (`@classification`), if anything. */
  classification?(parent: GraphQLCompositeType, field: string): Classification | undefined;
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

/**
 * A selection some callers may not read, or whose value is classified, with everything enforcement
 * needs to deny it or treat its value.
 */
export interface GuardedField {
  readonly id: number;
  /** Response keys from the root (aliases, no list indices). */
  readonly path: readonly string[];
  readonly coordinate: string;
  readonly requirement: Requirement;
  readonly conditions: readonly Condition[];
  readonly target: NullTarget;
  /** What the field's value is classified as; undefined for an unclassified field. */
  readonly classification: Classification | undefined;
  /**
   * The part of `requirement` a treatment never lifts: the rules of the type the field returns and
   * of a type condition narrowing to its parent. A caller who misses only the field's own rule may
   * still read a treated value (policies/access.yaml `treatments`); one who misses these may not.
   */
  readonly residual: Requirement;
  /** Concrete types of the object holding the field, when narrower than its parent field's type (see NullTarget). */
  readonly onTypes: readonly string[] | undefined;
}

/** A field of the operation, as null propagation sees it. */
interface FieldContext {
  readonly node: FieldNode;
  readonly type: GraphQLType;
  readonly path: readonly string[];
  readonly parent: FieldContext | undefined;
  /** Concrete types of the object holding this field, when its parent returns an abstract type and a type condition narrowed it. */
  readonly onTypes: readonly string[] | undefined;
}

/**
 * The authorization pass, over an operation whose fragments are inlined: every classified field,
 * and every field with a requirement (its own, its type's, every implementation's through an interface, a union member's
 * reached through `... on`), with its path, its @skip/@include conditions and where null would go.
 * Targets name nodes of `operation` itself, which enforcement removes when a field is denied.
 * Nothing here depends on who asks: the per-request check is `decideAccess` (authz/enforce.ts).
 */
export function guardedFieldsOf(schema: GraphQLSchema, operation: OperationDefinitionNode, requirements: RequirementLookup): GuardedField[] {
  const guarded: GuardedField[] = [];
  const pending: (Pick<GuardedField, 'coordinate' | 'requirement' | 'conditions' | 'classification' | 'residual'> | undefined)[] = [];
  const fields: (FieldContext | undefined)[] = [undefined];
  const conditions: (readonly Condition[])[] = [[]];
  /** The type-level rule a type condition on an abstract type brings (no field returns that type). */
  const narrowed: Requirement[] = [NO_REQUIREMENT];
  const top = <T>(stack: T[]): T => stack[stack.length - 1]!;

  /** Which concrete types the object holding a field may be, if that is narrower than what its parent field returns. */
  const holderTypes = (parentType: GraphQLCompositeType, parent: FieldContext | undefined): readonly string[] | undefined => {
    if (!parent) return undefined;
    const returned = getNamedType(parent.type);
    if (returned === parentType || isObjectType(returned)) return undefined;
    return isObjectType(parentType) ? [parentType.name] : schema.getPossibleTypes(parentType).map((t) => t.name);
  };

  const typeInfo = new TypeInfo(schema);
  visit(
    operation,
    visitWithTypeInfo(typeInfo, {
      Field: {
        enter(node) {
          const name = node.name.value;
          const parentType = typeInfo.getParentType();
          const definition = typeInfo.getFieldDef();
          // Meta fields carry no rule, and what introspection returns is the schema, not data.
          if (name.startsWith('__') || !parentType || !definition) return false;
          const parent = top(fields);
          const own = [...top(conditions), ...conditionsOf(node.directives)];
          const context: FieldContext = { node, type: definition.type, path: [...(parent?.path ?? []), node.alias?.value ?? name], parent, onTypes: holderTypes(parentType, parent) };
          const requirement = combineRequirements([requirements.field(parentType, name), top(narrowed)]);
          const classification = requirements.classification?.(parentType, name);
          const residual = combineRequirements([requirements.type(getNamedType(definition.type).name), top(narrowed)]);
          pending.push(
            isEmptyRequirement(requirement) && !classification ? undefined : { coordinate: `${parentType.name}.${name}`, requirement, conditions: own, classification, residual },
          );
          fields.push(context);
          conditions.push(own);
          narrowed.push(NO_REQUIREMENT);
          return undefined;
        },
        leave() {
          // Recorded on the way out, innermost first: the order FORBIDDEN errors have always come in.
          const field = fields.pop()!;
          const entry = pending.pop();
          if (entry) guarded.push({ id: guarded.length, path: field.path, ...entry, target: nullTarget(field), onTypes: field.onTypes });
          conditions.pop();
          narrowed.pop();
        },
      },
      InlineFragment: {
        enter(node) {
          const from = typeInfo.getParentType();
          const to = typeInfo.getType();
          conditions.push([...top(conditions), ...conditionsOf(node.directives)]);
          const narrowing = to && from && to !== from && !isObjectType(from) && node.typeCondition;
          narrowed.push(narrowing ? combineRequirements([top(narrowed), requirements.type(getNamedType(to).name)]) : top(narrowed));
        },
        leave() {
          conditions.pop();
          narrowed.pop();
        },
      },
    }),
  );
  return guarded;
}

/** GraphQL null propagation from a field upwards to the first position that may hold null. */
function nullTarget(field: FieldContext): NullTarget {
  let current = field;
  for (;;) {
    if (!isNonNullType(current.type)) return { kind: 'value', node: current.node, path: current.path, onTypes: current.onTypes };
    const parent = current.parent;
    if (!parent) return { kind: 'root' };
    // The object holding `current` sits at the innermost item position of the parent's type.
    let item: GraphQLType = parent.type;
    while (isListType(getNullableType(item))) item = (getNullableType(item) as { ofType: GraphQLType }).ofType;
    if (!isNonNullType(item)) return { kind: 'items', removed: current.node, path: parent.path, onTypes: current.onTypes };
    // A non-null item inside a list: the list value itself must become null; continue with the parent.
    current = parent;
  }
}

function conditionsOf(directives: readonly DirectiveNode[] | undefined): Condition[] {
  const out: Condition[] = [];
  for (const directive of directives ?? []) {
    const name = directive.name.value;
    if (name !== 'skip' && name !== 'include') continue;
    const value: ValueNode | undefined = directive.arguments?.find((a) => a.name.value === 'if')?.value;
    if (!value) continue;
    if (value.kind === Kind.BOOLEAN) out.push({ directive: name, literal: value.value });
    else if (value.kind === Kind.VARIABLE) out.push({ directive: name, variable: value.name.value });
  }
  return out;
}

/** Boolean defaults of an operation's variables, for @skip/@include on omitted variables. */
export function booleanDefaultsOf(operation: OperationDefinitionNode): ReadonlyMap<string, boolean> {
  const defaults = new Map<string, boolean>();
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue?.kind === Kind.BOOLEAN) defaults.set(definition.variable.name.value, definition.defaultValue.value);
  }
  return defaults;
}

