import {
  getNamedType,
  isEnumType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  Kind,
  typeFromAST,
  validate,
  type FieldNode,
  type GraphQLEnumType,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLScalarType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import type { RestRoute } from './routes.js';

/** What a parameter's variable is in the schema served: a scalar or an enum, nullable or not. */
export interface BoundParameter {
  readonly type: GraphQLScalarType | GraphQLEnumType;
  readonly nonNull: boolean;
}

/** A route checked against the schema served: ready to answer, or why it cannot. */
export type BoundRoute =
  | {
      readonly state: 'ready';
      readonly route: RestRoute;
      readonly schema: GraphQLSchema;
      /** By parameter name. */
      readonly parameters: ReadonlyMap<string, BoundParameter>;
      /** The answered value's field: its type and the selection made of it (for the OpenAPI document). */
      readonly result: { readonly field: GraphQLField<unknown, unknown>; readonly node: FieldNode };
    }
  | { readonly state: 'invalid'; readonly route: RestRoute; readonly problems: readonly string[] };

/**
 * Checks a route's operation against a schema (the API schema of the supergraph served): it must
 * validate, its parameters' variables must be scalars or enums, and `result` must name fields it
 * selects. A route that does not bind is reported and answers SERVICE_UNAVAILABLE until a schema
 * (or a declaration) fixes it; the others keep serving.
 */
export function bindRoute(route: RestRoute, schema: GraphQLSchema): BoundRoute {
  const problems = validate(schema, route.document, undefined, { maxErrors: 10 }).map((e) => `does not validate: ${e.message}`);
  if (problems.length) return { state: 'invalid', route, problems };
  const parameters = new Map<string, BoundParameter>();
  for (const parameter of route.parameters) {
    const type = typeFromAST(schema, parameter.type);
    const named = type && getNamedType(type);
    if (!type || !named || isListType(isNonNullType(type) ? type.ofType : type) || !isLeafType(named)) {
      problems.push(`parameter ${parameter.name}: $${parameter.variable} must be a scalar or an enum`);
      continue;
    }
    parameters.set(parameter.name, { type: named, nonNull: isNonNullType(type) });
  }
  const result = resultField(schema, route);
  if (typeof result === 'string') problems.push(result);
  if (problems.length || typeof result === 'string') return { state: 'invalid', route, problems };
  return { state: 'ready', route, schema, parameters, result };
}

/** Follows `result` (response names) through the operation's plain field selections. */
function resultField(schema: GraphQLSchema, route: RestRoute): { field: GraphQLField<unknown, unknown>; node: FieldNode } | string {
  let parent: GraphQLOutputType = schema.getQueryType()!;
  let selections: SelectionSetNode | undefined = route.operation.selectionSet;
  let found: { field: GraphQLField<unknown, unknown>; node: FieldNode } | undefined;
  for (const name of route.result) {
    const named: GraphQLNamedType = getNamedType(parent);
    const node: FieldNode | undefined = selections?.selections.find((s): s is FieldNode => s.kind === Kind.FIELD && (s.alias?.value ?? s.name.value) === name);
    if (!node || !(isObjectType(named) || isInterfaceType(named))) return `result: "${route.result.join('.')}" is not a field the operation selects`;
    const field: GraphQLField<unknown, unknown> | undefined = named.getFields()[node.name.value];
    if (!field) return `result: "${route.result.join('.')}" is not a field the operation selects`;
    found = { field, node };
    parent = field.type;
    selections = node.selectionSet;
  }
  return found ?? 'result: names no field';
}

export const isEnumParameter = (parameter: BoundParameter): parameter is BoundParameter & { type: GraphQLEnumType } => isEnumType(parameter.type);
