import {
  assertValidSchema,
  getNamedType,
  GraphQLBoolean,
  GraphQLDirective,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLUnionType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isSpecifiedDirective,
  isSpecifiedScalarType,
  isUnionType,
  type GraphQLArgumentConfig,
  type GraphQLFieldConfig,
  type GraphQLFieldConfigArgumentMap,
  type GraphQLNamedType,
  type GraphQLType,
} from 'graphql';
import type { SchemaAccess } from './schema-access.js';

/**
 * The query root of a view in which the caller may read no field: a schema needs one field on its
 * query type, so this one stands in, and its description says why. It is not in the graph:
 * selecting it fails validation like any unknown field.
 */
export const EMPTY_VIEW_FIELD = '_noReadableFields';
const EMPTY_VIEW_DESCRIPTION =
  'You may read no field of this graph: a token whose roles grant access shows the fields they allow (see the gateway\'s README, "Access control"). This field stands in for them and cannot be queried.';

type FieldHolder = GraphQLObjectType | GraphQLInterfaceType;

/**
 * The schema as one caller may see it: every field it may not read removed, then every type left
 * without fields (a union without members) or that its own rule hides, every field returning such
 * a type, and every type no longer reachable from the roots. Interfaces stay consistent: a field
 * of an interface is kept only while every visible implementation keeps it. Arguments, input
 * types and enum values carry no access rule (Federation's directives do not apply to them): they
 * go with the fields and types that hold them. Descriptions, deprecations and directive
 * definitions are kept as the full schema has them, and types keep the full schema's order.
 * The result is a valid schema (checked: a bug here throws rather than serving an invalid one).
 */
export function grantedSchema(schema: GraphQLSchema, access: SchemaAccess): GraphQLSchema {
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter((t): t is GraphQLObjectType => t != null).map((t) => t.name));
  const all = Object.values(schema.getTypeMap()).filter((t) => !isIntrospectionType(t));
  const holders = all.filter((t): t is FieldHolder => isObjectType(t) || isInterfaceType(t));
  const unions = all.filter(isUnionType);

  // Readable fields, then a fixpoint: everything only shrinks, so it ends.
  const kept = new Map<string, Set<string>>(holders.map((t) => [t.name, new Set(Object.keys(t.getFields()).filter((f) => access.field(t, f)))]));
  // Root types carry no rule of their own (enforcement never applies one to root fields); the
  // query root always stays, the others only while they keep a field.
  const query = schema.getQueryType()?.name;
  const live = new Set<string>([...holders, ...unions].filter((t) => roots.has(t.name) || access.type(t.name)).map((t) => t.name));
  for (let changed = true; changed; ) {
    changed = false;
    const drop = (type: string) => {
      if (live.delete(type)) changed = true;
    };
    for (const type of holders) if (type.name !== query && kept.get(type.name)!.size === 0) drop(type.name);
    for (const union of unions) if (!union.getTypes().some((member) => live.has(member.name))) drop(union.name);
    for (const type of holders) {
      const fields = kept.get(type.name)!;
      for (const name of [...fields]) {
        const returned = getNamedType(type.getFields()[name]!.type);
        if (isCompositeType(returned) && !live.has(returned.name) && fields.delete(name)) changed = true;
      }
      if (!live.has(type.name)) continue;
      // An implementation must have every field of its interfaces: a field one visible
      // implementation lacks leaves the interface.
      for (const iface of type.getInterfaces()) {
        if (!live.has(iface.name)) continue;
        const required = kept.get(iface.name)!;
        for (const name of [...required]) if (!fields.has(name) && required.delete(name)) changed = true;
      }
    }
  }

  // Types the full schema itself leaves unreferenced (the enums of a directive definition the API
  // schema dropped, say) are there to be read, not reached: they stay unless the view hides them.
  const everything = new Set([...holders, ...unions].map((t) => t.name));
  const allFields = new Map(holders.map((t) => [t.name, new Set(Object.keys(t.getFields()))]));
  const referenced = reachable(schema, [...roots], everything, allFields);
  const orphans = all.filter((t) => !referenced.has(t.name)).map((t) => t.name);
  const visible = reachable(schema, [...roots, ...orphans], live, kept);
  const rebuilt = rebuild(schema, visible, live, kept);
  assertValidSchema(rebuilt);
  return rebuilt;
}

/** Named types reachable from `from` (and the directives) through what the view keeps; hidden composites are never reached. */
function reachable(schema: GraphQLSchema, from: readonly string[], live: ReadonlySet<string>, kept: ReadonlyMap<string, ReadonlySet<string>>): Set<string> {
  const seen = new Set<string>();
  const queue: GraphQLNamedType[] = [];
  const add = (type: GraphQLNamedType) => {
    if (seen.has(type.name) || (isCompositeType(type) && !live.has(type.name))) return;
    seen.add(type.name);
    queue.push(type);
  };
  const addArguments = (args: readonly { type: GraphQLType }[]) => {
    for (const arg of args) add(getNamedType(arg.type));
  };
  for (const name of from) add(schema.getType(name)!);
  for (const directive of schema.getDirectives()) addArguments(directive.args);
  for (let type = queue.shift(); type; type = queue.shift()) {
    if (isObjectType(type) || isInterfaceType(type)) {
      const fields = type.getFields();
      for (const name of kept.get(type.name) ?? []) {
        add(getNamedType(fields[name]!.type));
        addArguments(fields[name]!.args);
      }
      for (const iface of type.getInterfaces()) add(iface);
      // Objects of an interface's visible implementations can be reached through `... on`.
      if (isInterfaceType(type)) for (const implementation of schema.getPossibleTypes(type)) add(implementation);
    } else if (isUnionType(type)) {
      for (const member of type.getTypes()) add(member);
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) add(getNamedType(field.type));
    }
  }
  return seen;
}

/** A new schema of the visible types, each rebuilt with only what the view keeps. */
function rebuild(schema: GraphQLSchema, visible: ReadonlySet<string>, live: ReadonlySet<string>, kept: ReadonlyMap<string, ReadonlySet<string>>): GraphQLSchema {
  const built = new Map<string, GraphQLNamedType>();
  const named = <T extends GraphQLNamedType>(type: T): T => {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) return type;
    const replacement = built.get(type.name);
    if (!replacement) throw new Error(`granted view: ${type.name} is referenced but not visible`);
    return replacement as T;
  };
  const ref = (type: GraphQLType): GraphQLType => {
    if (isListType(type)) return new GraphQLList(ref(type.ofType));
    if (isNonNullType(type)) return new GraphQLNonNull(ref(type.ofType) as GraphQLList<GraphQLType>);
    return named(type);
  };
  // Output and input references are rebuilt with the types they had: the casts only restore what `ref` keeps.
  const args = (map: GraphQLFieldConfigArgumentMap): GraphQLFieldConfigArgumentMap =>
    Object.fromEntries(Object.entries(map).map(([name, arg]): [string, GraphQLArgumentConfig] => [name, { ...arg, type: ref(arg.type) as GraphQLArgumentConfig['type'] }]));
  const fields = (type: FieldHolder) => () => {
    const config = type.toConfig().fields;
    const keep = kept.get(type.name)!;
    const out: Record<string, GraphQLFieldConfig<unknown, unknown>> = {};
    for (const [name, field] of Object.entries(config)) {
      if (keep.has(name)) out[name] = { ...field, type: ref(field.type) as GraphQLFieldConfig<unknown, unknown>['type'], args: args(field.args ?? {}) };
    }
    if (Object.keys(out).length === 0 && type === schema.getQueryType()) out[EMPTY_VIEW_FIELD] = { type: GraphQLBoolean, description: EMPTY_VIEW_DESCRIPTION };
    return out;
  };
  const interfaces = (type: FieldHolder) => () => type.getInterfaces().filter((i) => live.has(i.name) && visible.has(i.name)).map(named);

  const order = Object.values(schema.getTypeMap()).filter((t) => visible.has(t.name) && !isIntrospectionType(t) && !isSpecifiedScalarType(t));
  for (const type of order) {
    if (isObjectType(type)) built.set(type.name, new GraphQLObjectType({ ...type.toConfig(), fields: fields(type), interfaces: interfaces(type) }));
    else if (isInterfaceType(type)) built.set(type.name, new GraphQLInterfaceType({ ...type.toConfig(), fields: fields(type), interfaces: interfaces(type) }));
    else if (isUnionType(type)) built.set(type.name, new GraphQLUnionType({ ...type.toConfig(), types: () => type.getTypes().filter((m) => visible.has(m.name)).map(named) }));
    else if (isInputObjectType(type)) {
      const config = type.toConfig();
      built.set(type.name, new GraphQLInputObjectType({ ...config, fields: () => Object.fromEntries(Object.entries(config.fields).map(([name, field]) => [name, { ...field, type: ref(field.type) as typeof field.type }])) }));
    } else if (isEnumType(type)) built.set(type.name, new GraphQLEnumType(type.toConfig()));
    else if (isScalarType(type)) built.set(type.name, new GraphQLScalarType(type.toConfig()));
  }
  const root = (type: GraphQLObjectType | null | undefined) => (type && visible.has(type.name) ? named(type) : undefined);
  return new GraphQLSchema({
    description: schema.description,
    query: root(schema.getQueryType()),
    mutation: root(schema.getMutationType()),
    subscription: root(schema.getSubscriptionType()),
    types: order.map(named),
    directives: schema.getDirectives().map((d) => (isSpecifiedDirective(d) ? d : new GraphQLDirective({ ...d.toConfig(), args: args(d.toConfig().args) }))),
    extensions: schema.extensions,
  });
}
