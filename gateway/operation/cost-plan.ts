import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type FieldNode,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { CostIndex, CostNode, ListSize, SizeSource } from './cost.js';
import { introspectionCost } from './introspection-cost.js';

/**
 * The cost pass: the operation's static cost as a plan (cached per document), evaluated per
 * request against its coerced variables with `evaluateCost`. Introspection fields are priced
 * exactly from the schema (introspectionCost); everything else per the IBM cost spec (cost.ts).
 */
export function costPlanOf(schema: GraphQLSchema, operation: OperationDefinitionNode, index: CostIndex, defaultListSize: number): CostNode[] {
  const root: CostNode[] = [];
  /** One entry per open field: where its children's nodes go, and the size it gives named children (`sizedFields`). */
  const stack: { children: CostNode[]; sized: { fields: readonly string[]; size: SizeSource } | undefined }[] = [{ children: root, sized: undefined }];
  const variableDefault = (name: string): number | undefined => {
    const value = operation.variableDefinitions?.find((d) => d.variable.name.value === name)?.defaultValue;
    return value?.kind === Kind.INT ? Number.parseInt(value.value, 10) : undefined;
  };
  /** Where a list's size comes from: slicing arguments (literal, variable or schema default), else assumedSize, else the default. */
  const sizeSource = (definition: GraphQLField<unknown, unknown>, node: FieldNode, listSize: ListSize | undefined): SizeSource => {
    const fallback = listSize?.assumedSize ?? defaultListSize;
    const slicing = listSize?.slicingArguments ?? [];
    if (slicing.length === 0) return { kind: 'fixed', size: fallback };
    const values: ({ literal: number } | { variable: string; default: number | undefined })[] = [];
    for (const name of slicing) {
      const given = node.arguments?.find((a) => a.name.value === name)?.value;
      const schemaDefault = definition.args.find((a) => a.name === name)?.defaultValue;
      const fromSchema = typeof schemaDefault === 'number' ? schemaDefault : undefined;
      if (given?.kind === Kind.INT) values.push({ literal: Number.parseInt(given.value, 10) });
      else if (given?.kind === Kind.VARIABLE) values.push({ variable: given.name.value, default: variableDefault(given.name.value) ?? fromSchema });
      else if (fromSchema !== undefined) values.push({ literal: fromSchema });
    }
    return { kind: 'arguments', values, fallback };
  };

  const typeInfo = new TypeInfo(schema);
  visit(
    operation,
    visitWithTypeInfo(typeInfo, {
      Field: {
        enter(node) {
          const name = node.name.value;
          const { children: siblings } = stack[stack.length - 1]!;
          if (name === '__schema' || name === '__type') {
            // Its size is known from the schema: priced exactly, once per document.
            siblings.push({ weight: introspectionCost(schema, node), argumentWeight: 0, size: undefined, children: [] });
            return false;
          }
          const parent = typeInfo.getParentType();
          const definition = typeInfo.getFieldDef();
          if (name === '__typename' || !parent || !definition) return false; // a leaf of weight 0
          const coordinate = `${parent.name}.${name}`;
          const named = getNamedType(definition.type);
          const listSize = index.listSizes.get(coordinate);
          const ownSize = isListType(getNullableType(definition.type)) ? sizeSource(definition, node, listSize) : undefined;
          const sized = stack[stack.length - 1]!.sized;
          let argumentWeight = 0;
          for (const argument of node.arguments ?? []) argumentWeight += index.argumentWeights.get(`${coordinate}(${argument.name.value}:)`) ?? 0;
          const children: CostNode[] = [];
          siblings.push({
            weight: index.fieldWeights.get(coordinate) ?? index.typeWeights.get(named.name) ?? (isCompositeType(named) ? 1 : 0),
            argumentWeight,
            // With sizedFields the parent's size multiplies the named children instead of the parent.
            size: sized?.fields.includes(name) ? sized.size : listSize?.sizedFields.length ? undefined : ownSize,
            children,
          });
          stack.push({ children, sized: listSize?.sizedFields.length ? { fields: listSize.sizedFields, size: sizeSource(definition, node, listSize) } : undefined });
          return undefined;
        },
        leave() {
          stack.pop();
        },
      },
    }),
  );
  return root;
}
