import { isInputObjectType, isInterfaceType, isObjectType, Kind, type ConstDirectiveNode, type DocumentNode, type GraphQLSchema } from 'graphql';

/** Which data product serves each schema coordinate, and what the schema says about it. */
export interface SchemaCatalog {
  /** Subgraph names, in supergraph order, without the ones served by the gateway itself. */
  readonly products: readonly string[];
  /** Every coordinate a product serves (fields, then their arguments), sorted. */
  coordinatesOf(product: string): readonly CatalogEntry[];
  entry(coordinate: string): CatalogEntry | undefined;
}

export interface CatalogEntry {
  readonly coordinate: string;
  /** The product that serves it (the first, when several can). */
  readonly product: string;
  readonly deprecationReason: string | null;
}

function argString(directive: ConstDirectiveNode, name: string): string | undefined {
  const value = directive.arguments?.find((a) => a.name.value === name)?.value;
  return value?.kind === Kind.STRING ? value.value : value?.kind === Kind.ENUM ? value.value : undefined;
}

function argBool(directive: ConstDirectiveNode, name: string): boolean {
  const value = directive.arguments?.find((a) => a.name.value === name)?.value;
  return value?.kind === Kind.BOOLEAN && value.value;
}

/**
 * Reads ownership from the supergraph's join directives (`@join__graph`, `@join__type`,
 * `@join__field`) and deprecations from the API schema, once per supergraph.
 */
export function buildSchemaCatalog(document: DocumentNode, apiSchema: GraphQLSchema, excluded: readonly string[] = []): SchemaCatalog {
  const graphNames = new Map<string, string>();
  const typeGraphs = new Map<string, string[]>();
  const fieldGraphs = new Map<string, string[]>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.ENUM_TYPE_DEFINITION && definition.name.value === 'join__Graph') {
      for (const value of definition.values ?? []) {
        const directive = value.directives?.find((d) => d.name.value === 'join__graph');
        const name = directive && argString(directive, 'name');
        if (name) graphNames.set(value.name.value, name);
      }
    }
  }
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION && definition.kind !== Kind.INTERFACE_TYPE_DEFINITION) continue;
    const type = definition.name.value;
    const graphs = (definition.directives ?? []).filter((d) => d.name.value === 'join__type').map((d) => graphNames.get(argString(d, 'graph') ?? '')).filter((g): g is string => Boolean(g));
    typeGraphs.set(type, [...new Set(graphs)]);
    for (const field of definition.fields ?? []) {
      const joins = (field.directives ?? []).filter((d) => d.name.value === 'join__field' && !argBool(d, 'external'));
      const owners = joins.map((d) => graphNames.get(argString(d, 'graph') ?? '')).filter((g): g is string => Boolean(g));
      if (owners.length) fieldGraphs.set(`${type}.${field.name.value}`, [...new Set(owners)]);
    }
  }

  const byProduct = new Map<string, CatalogEntry[]>();
  const byCoordinate = new Map<string, CatalogEntry>();
  const products = [...new Set(graphNames.values())].filter((name) => !excluded.includes(name));
  for (const product of products) byProduct.set(product, []);
  for (const type of Object.values(apiSchema.getTypeMap())) {
    if (type.name.startsWith('__') || isInputObjectType(type) || !(isObjectType(type) || isInterfaceType(type))) continue;
    for (const field of Object.values(type.getFields())) {
      const coordinate = `${type.name}.${field.name}`;
      const owner = (fieldGraphs.get(coordinate) ?? typeGraphs.get(type.name) ?? []).find((g) => byProduct.has(g));
      if (!owner) continue;
      const add = (entry: CatalogEntry) => {
        byProduct.get(owner)!.push(entry);
        byCoordinate.set(entry.coordinate, entry);
      };
      add({ coordinate, product: owner, deprecationReason: field.deprecationReason ?? null });
      for (const arg of field.args) add({ coordinate: `${coordinate}(${arg.name}:)`, product: owner, deprecationReason: arg.deprecationReason ?? null });
    }
  }
  for (const entries of byProduct.values()) entries.sort((a, b) => a.coordinate.localeCompare(b.coordinate));
  return {
    products,
    coordinatesOf: (product) => byProduct.get(product) ?? [],
    entry: (coordinate) => byCoordinate.get(coordinate),
  };
}
