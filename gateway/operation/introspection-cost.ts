import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
  Kind,
  type FieldNode,
  type GraphQLArgument,
  type GraphQLDirective,
  type GraphQLEnumValue,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLSchema,
  type GraphQLType,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

/**
 * The exact cost of an introspection field (`__schema` or `__type`), from the schema itself: what
 * introspection returns depends on nothing but the schema, so its size is known before it runs.
 * Like any other selection it costs 1 per object returned and 1 per item of a list of leaves
 * (`locations`); scalars cost 0. Where a request could ask for more (an `includeDeprecated` or a
 * `__type(name:)` given as a variable) the largest answer is priced.
 *
 * `types { fields { type { fields { ... } } } }` would return billions of objects on a schema of a
 * hundred types; the count is memoized per (introspection value, selection set), so computing it
 * takes (values x selection sets) steps, never the size of the answer.
 */
export function introspectionCost(schema: GraphQLSchema, field: FieldNode): number {
  const memo = new Map<object, Map<SelectionSetNode, number>>();
  const set = field.selectionSet;
  if (!set) return 0;
  if (field.name.value === '__schema') return 1 + costOf(schema, set, 'schema');
  const name = argument(field, 'name');
  if (name?.kind === Kind.STRING) {
    const type = schema.getType(name.value);
    return type ? 1 + costOf(type, set, 'type') : 0;
  }
  let largest = 0;
  for (const type of Object.values(schema.getTypeMap())) largest = Math.max(largest, 1 + costOf(type, set, 'type'));
  return largest;

  function costOf(value: Introspected, selections: SelectionSetNode, kind: Kind_): number {
    let bySet = memo.get(value);
    if (!bySet) memo.set(value, (bySet = new Map()));
    const known = bySet.get(selections);
    if (known !== undefined) return known;
    bySet.set(selections, 0); // a value never contains itself through one selection set; guards anyway
    let total = 0;
    for (const selection of selections.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += costOf(value, selection.selectionSet, kind);
        continue;
      }
      if (selection.kind !== Kind.FIELD) continue; // fragments are inlined before this runs
      const child = childOf(value, kind, selection);
      if (!child) continue;
      if (child.leaves !== undefined) {
        total += child.leaves;
        continue;
      }
      const nested = selection.selectionSet;
      for (const item of child.objects) total += 1 + (nested ? costOf(item.value, nested, item.kind) : 0);
    }
    bySet.set(selections, total);
    return total;
  }

  /** What one introspection field returns for a value: objects (with their kind), or a count of leaf list items. */
  function childOf(value: Introspected, kind: Kind_, node: FieldNode): { objects: readonly Item[]; leaves?: undefined } | { objects?: undefined; leaves: number } | undefined {
    const name = node.name.value;
    const includeDeprecated = argument(node, 'includeDeprecated');
    // Deprecated entries are hidden by default (`includeDeprecated: false`); a variable may say true.
    const withDeprecated = includeDeprecated !== undefined && !(includeDeprecated.kind === Kind.BOOLEAN && !includeDeprecated.value);
    const visible = <T extends { deprecationReason?: string | null | undefined }>(list: readonly T[]) =>
      withDeprecated ? list : list.filter((entry) => entry.deprecationReason == null);
    switch (kind) {
      case 'schema': {
        const s = value as GraphQLSchema;
        if (name === 'types') return items(Object.values(s.getTypeMap()), 'type');
        if (name === 'queryType') return items(maybe(s.getQueryType()), 'type');
        if (name === 'mutationType') return items(maybe(s.getMutationType()), 'type');
        if (name === 'subscriptionType') return items(maybe(s.getSubscriptionType()), 'type');
        if (name === 'directives') return items(s.getDirectives(), 'directive');
        return undefined;
      }
      case 'type': {
        const t = value as GraphQLType;
        if (name === 'ofType') return items(isListType(t) || isNonNullType(t) ? [t.ofType as GraphQLType] : [], 'type');
        if (name === 'fields') return items(isObjectType(t) || isInterfaceType(t) ? visible(Object.values(t.getFields())) : [], 'field');
        if (name === 'interfaces') return items(isObjectType(t) || isInterfaceType(t) ? t.getInterfaces() : [], 'type');
        if (name === 'possibleTypes') return items(isInterfaceType(t) || isUnionType(t) ? schema.getPossibleTypes(t) : [], 'type');
        if (name === 'enumValues') return items(isEnumType(t) ? visible(t.getValues()) : [], 'enumValue');
        if (name === 'inputFields') return items(isInputObjectType(t) ? visible(Object.values(t.getFields())) : [], 'inputValue');
        return undefined;
      }
      case 'field': {
        const f = value as GraphQLField<unknown, unknown>;
        if (name === 'args') return items(visible(f.args), 'inputValue');
        if (name === 'type') return items([f.type], 'type');
        return undefined;
      }
      case 'inputValue':
        return name === 'type' ? items([(value as GraphQLArgument | GraphQLInputField).type], 'type') : undefined;
      case 'directive': {
        const d = value as GraphQLDirective;
        if (name === 'args') return items(visible(d.args), 'inputValue');
        if (name === 'locations') return { leaves: d.locations.length };
        return undefined;
      }
      case 'enumValue':
        return undefined;
    }
  }
}

type Kind_ = 'schema' | 'type' | 'field' | 'inputValue' | 'enumValue' | 'directive';
type Introspected = GraphQLSchema | GraphQLType | GraphQLField<unknown, unknown> | GraphQLArgument | GraphQLInputField | GraphQLEnumValue | GraphQLDirective;
interface Item {
  readonly value: Introspected;
  readonly kind: Kind_;
}

function items(values: readonly Introspected[], kind: Kind_): { objects: readonly Item[] } {
  return { objects: values.map((value) => ({ value, kind })) };
}

function maybe<T>(value: T | null | undefined): T[] {
  return value ? [value] : [];
}

function argument(node: FieldNode, name: string): ValueNode | undefined {
  return node.arguments?.find((a) => a.name.value === name)?.value;
}
