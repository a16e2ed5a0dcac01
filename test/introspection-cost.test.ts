import { describe, expect, it } from 'vitest';
import { buildSchema, execute, getIntrospectionQuery, Kind, parse, type FieldNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { introspectionCost } from '../gateway/operation/introspection-cost.js';

/** A schema of `types` object types, each with `fields` fields pointing at the next types, plus an input, an enum, a union. */
function syntheticSchema(types: number, fields: number): GraphQLSchema {
  const defs: string[] = ['type Query { t0: T0 u: U e: E search(where: In, old: Int @deprecated): [T0] }', 'input In { a: Int b: [In] c: E }', 'enum E { A B C @deprecated }', 'union U = T0 | T1'];
  for (let t = 0; t < types; t++) {
    const body = Array.from({ length: fields }, (_, f) => `f${f}(x: Int, y: [String!]): ${f % 2 ? `[T${(t + f) % types}!]` : `T${(t + f) % types}`}`).join(' ');
    defs.push(`type T${t} { ${body} old: Int @deprecated(reason: "no") }`);
  }
  return buildSchema(defs.join('\n'));
}

/** What introspection actually returns, counted the way the cost is defined: objects, and items of lists of leaves. */
function countReturned(value: unknown): number {
  if (Array.isArray(value)) return value.reduce<number>((n, item) => n + (item !== null && typeof item === 'object' ? countReturned(item) : 1), 0);
  if (value === null || typeof value !== 'object') return 0;
  return 1 + Object.values(value).reduce<number>((n, child) => n + countReturned(child), 0);
}

function costAndActual(schema: GraphQLSchema, query: string, variables?: Record<string, unknown>): { cost: number; actual: number } {
  const document = parse(query);
  const operation = document.definitions[0] as OperationDefinitionNode;
  const field = operation.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD)!;
  const result = execute({ schema, document, variableValues: variables }) as { data: Record<string, unknown> };
  return { cost: introspectionCost(schema, field), actual: countReturned(result.data[field.alias?.value ?? field.name.value]) };
}

describe('introspection cost', () => {
  const schema = syntheticSchema(12, 6);

  it.each([
    ['the types', '{ __schema { types { name kind } } }'],
    ['nested type references', '{ __schema { types { fields { name type { name ofType { name ofType { name } } } } } } }'],
    ['arguments, input fields, enum values, possible types, interfaces', '{ __schema { types { inputFields { name } enumValues { name } possibleTypes { name } interfaces { name } fields { args { name type { kind } } } } } }'],
    ['deprecated entries when asked for', '{ __schema { types { fields(includeDeprecated: true) { name } enumValues(includeDeprecated: true) { name } } } }'],
    ['directives and their locations', '{ __schema { directives { name locations args { name } } } }'],
    ['the root types', '{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }'],
    ['one type by name', '{ __type(name: "T3") { name fields { name type { name } } } }'],
    ['a type that does not exist', '{ __type(name: "Nope") { name } }'],
    ['inline fragments on introspection types', '{ __schema { types { ... on __Type { name fields { ... on __Field { name } } } } } }'],
    ['the standard introspection query', getIntrospectionQuery({ inputValueDeprecation: true }).replace(/fragment[\s\S]*/, '').replace(/\.\.\.FullType/, 'name kind fields(includeDeprecated: true) { name args { name } }')],
  ])('is exactly what it returns: %s', (_, query) => {
    const { cost, actual } = costAndActual(schema, query);
    expect(cost).toBe(actual);
  });

  it('prices the largest answer a variable could ask for', () => {
    const query = 'query($name: String!) { __type(name: $name) { fields { name } } }';
    const answers = Object.keys(schema.getTypeMap()).map((name) => costAndActual(schema, query, { name }).actual);
    const field = (parse(query).definitions[0] as OperationDefinitionNode).selectionSet.selections[0] as FieldNode;
    // The largest is __Type itself (11 fields), larger than any Tn (7 with the deprecated one hidden).
    expect(introspectionCost(schema, field)).toBe(Math.max(...answers));
    expect(Math.max(...answers)).toBe(12);
  });

  it('counts a huge answer without building it', () => {
    // 300 types x 40 fields, four levels of fields: about 300 x 40^4 = 768 million objects.
    const big = syntheticSchema(300, 40);
    const query = '{ __schema { types { fields { type { ofType { fields { type { ofType { name } } } } } } } } }';
    const field = (parse(query).definitions[0] as OperationDefinitionNode).selectionSet.selections[0] as FieldNode;
    const cost = introspectionCost(big, field);
    // Lists of T are [T!]: type -> NonNull -> ofType T (fields); plain T: type -> T, ofType null.
    expect(cost).toBeGreaterThan(300 * 40);
    expect(Number.isFinite(cost)).toBe(true);
  });
});
