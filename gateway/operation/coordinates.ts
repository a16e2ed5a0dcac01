import { TypeInfo, visit, visitWithTypeInfo, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';

/** The schema coordinates an operation selects, for usage and deprecation. */
export interface Coordinates {
  /** `Type.field` and `Type.field(arg:)`, sorted, without duplicates; introspection and __typename left out. */
  readonly coordinates: readonly string[];
  /** Where each coordinate is selected: response paths (keys joined by '.'), for per-field outcomes. */
  readonly coordinatePaths: ReadonlyMap<string, readonly string[]>;
}

/** The coordinates pass, over an operation whose fragments are inlined. */
export function coordinatesOf(schema: GraphQLSchema, operation: OperationDefinitionNode): Coordinates {
  const paths = new Map<string, string[]>();
  const add = (coordinate: string, path: string) => {
    const known = paths.get(coordinate);
    if (!known) paths.set(coordinate, [path]);
    else if (!known.includes(path)) known.push(path);
  };
  const keys: string[] = [];
  const typeInfo = new TypeInfo(schema);
  visit(
    operation,
    visitWithTypeInfo(typeInfo, {
      Field: {
        enter(node) {
          const name = node.name.value;
          // Meta fields belong to no data product; what is under __schema/__type neither.
          if (name.startsWith('__')) return false;
          const parent = typeInfo.getParentType();
          if (!parent || !typeInfo.getFieldDef()) return false;
          keys.push(node.alias?.value ?? name);
          const coordinate = `${parent.name}.${name}`;
          const path = keys.join('.');
          add(coordinate, path);
          for (const argument of node.arguments ?? []) add(`${coordinate}(${argument.name.value}:)`, path);
          return undefined;
        },
        leave() {
          keys.pop();
        },
      },
    }),
  );
  return { coordinates: [...paths.keys()].sort(), coordinatePaths: paths };
}
