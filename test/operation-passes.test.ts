import { describe, expect, it } from 'vitest';
import { buildSchema, getOperationAST, parse, print, type GraphQLCompositeType } from 'graphql';
import { booleanDefaultsOf, guardedFieldsOf, type RequirementLookup } from '../gateway/operation/authorization.js';
import { coordinatesOf } from '../gateway/operation/coordinates.js';
import { evaluateCost, indexCost } from '../gateway/operation/cost.js';
import { costPlanOf } from '../gateway/operation/cost-plan.js';
import { inlineFragments, OperationTooLargeError } from '../gateway/operation/inline.js';
import { structureOf } from '../gateway/operation/structure.js';
import { NO_REQUIREMENT, type Requirement } from '../lib/requirements.js';

/*
 * The analysis of an operation, one pass at a time, over a small schema of our own: each pass
 * sees the operation with its fragments inlined and computes one concern.
 */
const SDL = /* GraphQL */ `
  directive @cost(weight: Int!) on FIELD_DEFINITION | OBJECT
  directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!]) on FIELD_DEFINITION
  interface Node { id: ID! }
  type Person implements Node { id: ID! name: String secret: String! pets(first: Int = 5): [Pet!]! @listSize(slicingArguments: ["first"]) }
  type Pet implements Node @cost(weight: 3) { id: ID! name: String tags: [String!] }
  union Thing = Person | Pet
  type Query { people(first: Int): [Person!]! @listSize(slicingArguments: ["first"], assumedSize: 20) node(id: ID!): Node things: [Thing!] @listSize(assumedSize: 4) }
`;
const schema = buildSchema(SDL);
// The cost directives are read where a spec link names them, as in a supergraph.
const costIndex = indexCost(parse(`extend schema @link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@cost", "@listSize"])\n${SDL}`));
const scope = (s: string): Requirement => ({ authenticated: true, scopes: [[[s]]], policies: [] });
/** Person.secret needs `secret:read`; the Pet type needs `pets:read`. */
const requirements: RequirementLookup = {
  field: (parent: GraphQLCompositeType, field: string) => {
    if (field === 'secret') return scope('secret:read');
    if (parent.name === 'Person' && field === 'pets') return scope('pets:read');
    return NO_REQUIREMENT;
  },
  type: (name) => (name === 'Pet' ? scope('pets:read') : NO_REQUIREMENT),
};

const inlined = (query: string, maxFields = 1_000) => {
  const document = parse(query);
  return inlineFragments(document, getOperationAST(document)!, maxFields);
};

describe('inline', () => {
  it('replaces each spread with an inline fragment carrying the spread directives, once per use', () => {
    const operation = inlined('query($x: Boolean!) { people { ...P ...P @include(if: $x) } } fragment P on Person { id }');
    expect(print(operation)).toBe(print(parse('query($x: Boolean!) { people { ... on Person { id } ... on Person @include(if: $x) { id } } }').definitions[0]!));
  });

  it('stops a fragment bomb while expanding it, before it is built', () => {
    // Each level spreads the next ten times: 10^8 fields once expanded, from a document of a few hundred tokens.
    const levels = Array.from({ length: 8 }, (_, i) => `fragment F${i} on Person { ${Array.from({ length: 10 }, () => `...F${i + 1}`).join(' ')} }`);
    const query = `{ people { ...F0 } } ${levels.join(' ')} fragment F8 on Person { id }`;
    expect(() => inlined(query, 500)).toThrow(OperationTooLargeError);
    try {
      inlined(query, 500);
    } catch (error) {
      expect((error as OperationTooLargeError).maximum).toBe(500);
    }
  });

  it('drops unknown fragments and cycles (validation refuses them anyway)', () => {
    expect(print(inlined('{ people { ...Missing id } }'))).toBe(print(parse('{ people { id } }').definitions[0]!));
  });
});

describe('structure', () => {
  it('depth, aliases and directives count every field, introspection and __typename included', () => {
    const operation = inlined('query Q @live { a: people { b: __typename pets @skip(if: false) { ...on Pet @include(if: true) { id } } } __schema { c: types { name } } }');
    expect(structureOf(operation)).toEqual({ depth: 3, aliases: 3, directives: 3, introspection: true });
  });
});

describe('coordinates', () => {
  it('Type.field and Type.field(arg:) with every response path, no meta fields', () => {
    const { coordinates, coordinatePaths } = coordinatesOf(schema, inlined('{ a: people(first: 2) { name } b: people { name __typename } things { ... on Pet { name } } __schema { types { name } } }'));
    expect(coordinates).toEqual(['Person.name', 'Pet.name', 'Query.people', 'Query.people(first:)', 'Query.things']);
    expect(Object.fromEntries(coordinatePaths)).toEqual({
      'Query.people': ['a', 'b'],
      'Query.people(first:)': ['a'],
      'Person.name': ['a.name', 'b.name'],
      'Query.things': ['things'],
      'Pet.name': ['things.name'],
    });
  });
});

describe('cost plan', () => {
  const cost = (query: string, variables: Record<string, unknown> = {}) => evaluateCost(costPlanOf(schema, inlined(query), costIndex, 10), variables);

  it('lists multiply by their slicing argument, assumed size or the default; types and fields carry their weight', () => {
    expect(cost('{ people(first: 3) { id } }')).toBe(3); // 3 x Person 1
    expect(cost('{ people { id } }')).toBe(20); // assumedSize
    expect(cost('query($n: Int) { people(first: $n) { pets { id } } }', { n: 2 })).toBe(2 * (1 + 5 * 3)); // Pet weighs 3, pets(first) defaults to 5
    expect(cost('{ things { ... on Pet { id } } }')).toBe(4); // union: an object per item
  });

  it('a list of leaves costs one per item (the spec would say 0)', () => {
    expect(cost('{ people(first: 2) { pets(first: 1) { tags } } }')).toBe(2 * (1 + 1 * (3 + 10))); // tags: default size 10 x at least 1
  });

  it('introspection is priced exactly, __typename is free', () => {
    expect(cost('{ __typename }')).toBe(0);
    expect(cost('{ __type(name: "Pet") { name } }')).toBe(1);
    expect(cost('{ __type(name: "Pet") { fields { name } } }')).toBe(1 + 3);
  });
});

describe('authorization pass', () => {
  it('finds every guarded field, through type conditions on abstract types, with conditions and null targets', () => {
    const operation = inlined('query($s: Boolean = true) { people { secret @skip(if: $s) name } node(id: "1") { ... on Pet { name } } }');
    const guarded = guardedFieldsOf(schema, operation, requirements);
    expect(guarded.map(({ id, path, coordinate, conditions, target }) => ({ id, path, coordinate, conditions, target: { ...target, node: undefined, removed: undefined } }))).toEqual([
      // secret: String! inside [Person!]!: its null propagates to the whole list, whose field is non-null too: data is null.
      { id: 0, path: ['people', 'secret'], coordinate: 'Person.secret', conditions: [{ directive: 'skip', variable: 's' }], target: { kind: 'root', node: undefined, removed: undefined } },
      // Pet.name reached through `... on Pet` on Node: the Pet type's rule, null on Pet objects only.
      { id: 1, path: ['node', 'name'], coordinate: 'Pet.name', conditions: [], target: { kind: 'value', path: ['node', 'name'], onTypes: ['Pet'], node: undefined, removed: undefined } },
    ]);
    expect(booleanDefaultsOf(operation)).toEqual(new Map([['s', true]]));
  });

  it('a denied non-null field nulls the nearest nullable position above it: here the object holding it', () => {
    const [pets] = guardedFieldsOf(schema, inlined('{ node(id: "1") { ... on Person { pets { id } } } }'), requirements);
    // pets is [Pet!]!: it cannot be null, so the Person it sits in (node, nullable) becomes null.
    expect(pets).toMatchObject({ coordinate: 'Person.pets', target: { kind: 'items', path: ['node'], onTypes: ['Person'] } });
  });
});
