import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'graphql';
import { formatLintProblem, lintSubgraphSchema, SLICING_ARGUMENT_NAMES, type SchemaLintProblem } from '../scripts/schema-lint.js';
import { PRODUCT_NAMES } from '../subgraphs/kit/data-product.js';
import { PLATFORM_SUBGRAPH } from '../subgraphs/platform/index.js';

/*
 * The schema lint over the checked-in contracts (none may have a problem) and over small fixtures
 * proving each rule fires, names the coordinate, follows renamed imports and stays quiet when
 * satisfied.
 */

const FEDERATION = 'https://specs.apollo.dev/federation/v2.9';
const ACCESS = 'https://specs.data-product-gateway.dev/access/v0.1';
const ALL = '["@key", "@authenticated", "@requiresScopes", "@policy", "@listSize"]';

const lint = (sdl: string) => lintSubgraphSchema(parse(sdl));
const codes = (sdl: string) => lint(sdl).map((p) => [p.coordinate, p.code]);
const subgraph = (body: string, imports = ALL) => `extend schema @link(url: "${FEDERATION}", import: ${imports})\n${body}`;
const contract = (name: string) => readFileSync(new URL(`../schema/${name}.graphql`, import.meta.url), 'utf8');

/** The access spec linked as an owner links it, `@public` imported (under `as`, when given) and composed. */
const withPublic = (body: string, as = 'public') => `
  extend schema
    @link(url: "${FEDERATION}", import: ["@key", "@authenticated", "@requiresScopes", "@policy", "@listSize", "@composeDirective"])
    @link(url: "${ACCESS}", import: [${as === 'public' ? '"@public"' : `{ name: "@public", as: "@${as}" }`}])
    @composeDirective(name: "@${as}")
  directive @${as} on FIELD_DEFINITION
  ${body}`;

describe('the checked-in subgraph schemas', () => {
  it.each([...PRODUCT_NAMES, PLATFORM_SUBGRAPH])('schema/%s.graphql has no lint problem', (name) => {
    expect(lintSubgraphSchema(parse(contract(name))).map((p) => formatLintProblem(`schema/${name}.graphql`, p))).toEqual([]);
  });

  it('would have caught what issue 10 found: transactions unsized, Query.product unguarded', () => {
    const finance = contract('finance').replace('): [Transaction!]! @listSize(slicingArguments: ["first"], assumedSize: 20, requireOneSlicingArgument: false)', '): [Transaction!]!');
    expect(codes(finance)).toEqual([['Query.transactions', 'LIST_SIZE_MISSING']]);
    const product = contract('product').replace('): Product @authenticated', '): Product').replace('type Product @key(fields: "sku") @authenticated {', 'type Product @key(fields: "sku") {');
    expect(codes(product)).toEqual([
      ['Query.product', 'ACCESS_UNCOVERED'],
      ['Product.name', 'ACCESS_UNCOVERED'],
      ['Product.category', 'ACCESS_UNCOVERED'],
      ['Product.price', 'ACCESS_UNCOVERED'],
    ]);
  });
});

describe('listSize: a list sized by an argument declares @listSize naming it', () => {
  const GUARDED = 'type Item @authenticated { id: ID! } type Page @authenticated { items: [Item!]! total: Int }';

  it('flags a list field taking `first` without @listSize, naming the file, coordinate and fix', () => {
    const problems = lint(subgraph(`type Query { items(first: Int = 20, after: ID): [Item!]! @authenticated } ${GUARDED}`));
    expect(problems).toEqual<SchemaLintProblem[]>([{ rule: 'listSize', code: 'LIST_SIZE_MISSING', coordinate: 'Query.items', message: expect.stringContaining('@listSize(slicingArguments: ["first"], assumedSize: 20, requireOneSlicingArgument: false)') }]);
    expect(formatLintProblem('schema/shop.graphql', problems[0]!)).toMatch(/^schema\/shop\.graphql: Query\.items: takes "first" but declares no @listSize.* \[LIST_SIZE_MISSING\]$/);
  });

  it.each(['first', 'last', 'limit', 'take', 'top', 'pageSize', 'PageSize', 'size', 'count', 'LIMIT'])('an Int argument named %s is a slicing argument', (name) => {
    expect(SLICING_ARGUMENT_NAMES.has(name.toLowerCase())).toBe(true);
    expect(codes(subgraph(`type Query { items(${name}: Int!): [Item!]! @authenticated } ${GUARDED}`))).toEqual([['Query.items', 'LIST_SIZE_MISSING']]);
  });

  it('checks lists on entities and interfaces too, and every slicing argument of a field', () => {
    const sdl = subgraph(`
      type Query { shelf: Shelf @authenticated }
      interface Listing { items(limit: Int!): [Item!]! }
      type Shelf implements Listing @authenticated { items(limit: Int!): [Item!]! @listSize(slicingArguments: ["limit"]) recent(first: Int, last: Int): [Item!] @listSize(slicingArguments: ["first"]) }
      ${GUARDED}`);
    expect(lint(sdl)).toEqual([
      { rule: 'listSize', code: 'LIST_SIZE_MISSING', coordinate: 'Listing.items', message: expect.any(String) },
      { rule: 'listSize', code: 'LIST_SIZE_MISSING', coordinate: 'Shelf.recent', message: expect.stringMatching(/^@listSize does not name "last" in slicingArguments/) },
    ]);
  });

  it('flags a connection (an object holding lists) sized by `first`, suggesting sizedFields', () => {
    const sdl = subgraph(`type Query { page(first: Int!): Page @authenticated } ${GUARDED}`);
    expect(lint(sdl)).toEqual([{ rule: 'listSize', code: 'LIST_SIZE_MISSING', coordinate: 'Query.page', message: expect.stringContaining('sizedFields') }]);
    expect(codes(subgraph(`type Query { page(first: Int!): Page @authenticated @listSize(slicingArguments: ["first"], sizedFields: ["items"]) } ${GUARDED}`))).toEqual([]);
  });

  it('stays quiet for what is not a sized list: non-Int arguments, scalar or list-less results, other argument names', () => {
    const sdl = subgraph(`
      type Query @authenticated {
        byCount(count: String): [Item!]! @authenticated
        top(first: Int): Item @authenticated
        histogram(size: Int): Int @authenticated
        items(after: ID, offset: Int): [Item!]! @authenticated
        tags(first: [Int!]): [String!]! @authenticated
      }
      ${GUARDED}`);
    expect(codes(sdl)).toEqual([]);
  });

  it('is satisfied by @listSize naming the argument, however the directive is imported', () => {
    const field = (directive: string) => `type Query { items(first: Int!): [Item!]! @authenticated ${directive} } ${GUARDED}`;
    expect(codes(subgraph(field('@listSize(slicingArguments: ["first"])')))).toEqual([]);
    expect(codes(subgraph(field('@sized(slicingArguments: ["first"])'), '["@authenticated", { name: "@listSize", as: "@sized" }]'))).toEqual([]);
    expect(codes(`extend schema @link(url: "${FEDERATION}", as: "fed", import: ["@authenticated"])\n${field('@fed__listSize(slicingArguments: ["first"])')}`)).toEqual([]);
    // A directive merely called listSize, not linked from Federation, prices nothing.
    expect(codes(subgraph(field('@listSize(slicingArguments: ["first"])'), '["@authenticated"]'))).toEqual([['Query.items', 'LIST_SIZE_MISSING']]);
    // The renamed directive is the only one: the old name no longer means anything.
    expect(codes(subgraph(field('@listSize(slicingArguments: ["first"])'), '["@authenticated", { name: "@listSize", as: "@sized" }]'))).toEqual([['Query.items', 'LIST_SIZE_MISSING']]);
  });

  it('refuses requireOneSlicingArgument (true by default) on a single slicing argument clients may omit', () => {
    const field = (arg: string, directive: string) => codes(subgraph(`type Query { items(${arg}): [Item!]! @authenticated ${directive} } ${GUARDED}`));
    expect(field('first: Int = 20', '@listSize(slicingArguments: ["first"])')).toEqual([['Query.items', 'LIST_SIZE_REQUIRES_OPTIONAL_ARGUMENT']]);
    expect(field('first: Int', '@listSize(slicingArguments: ["first"], requireOneSlicingArgument: true)')).toEqual([['Query.items', 'LIST_SIZE_REQUIRES_OPTIONAL_ARGUMENT']]);
    expect(field('first: Int = 20', '@listSize(slicingArguments: ["first"], assumedSize: 20, requireOneSlicingArgument: false)')).toEqual([]);
    expect(field('first: Int!', '@listSize(slicingArguments: ["first"])')).toEqual([]);
    // first or last: "exactly one of them" is a contract only requireOneSlicingArgument can state.
    expect(field('first: Int, last: Int', '@listSize(slicingArguments: ["first", "last"])')).toEqual([]);
  });
});

describe('access: every field is guarded by a rule or marked @public', () => {
  it('flags a root field without a rule, and is satisfied by its own rule or its return type\'s', () => {
    const problems = lint(subgraph('type Query { item(id: ID!): Item } type Item { id: ID! name: String }'));
    expect(problems.map((p) => [p.coordinate, p.code])).toEqual([
      ['Query.item', 'ACCESS_UNCOVERED'],
      ['Item.id', 'ACCESS_UNCOVERED'],
      ['Item.name', 'ACCESS_UNCOVERED'],
    ]);
    expect(problems[1]!.message).toContain('Item can be reached without one through Query.item');
    expect(codes(subgraph('type Query { item(id: ID!): Item @requiresScopes(scopes: [["shop:read"]]) } type Item { id: ID! name: String }'))).toEqual([]);
    expect(codes(subgraph('type Query { item(id: ID!): Item } type Item @policy(policies: [["shop"]]) { id: ID! name: String }'))).toEqual([]);
  });

  it('lets value types inherit the guard of every path to them, and reports a new open path at each field it opens', () => {
    const body = (extra: string) => `
      type Query { customer(id: ID!): Customer ${extra} }
      type Customer @requiresScopes(scopes: [["customer:read"]]) { id: ID! segments: [Segment!]! spend: Money @requiresScopes(scopes: [["finance:read"]]) }
      type Segment { name: String! score: Float! }
      type Money { amount: Float! currency: String! }`;
    expect(codes(subgraph(body('')))).toEqual([]);
    const opened = lint(withPublic(body('topSegments: [Segment!]! @public')));
    expect(opened.map((p) => [p.coordinate, p.code])).toEqual([
      ['Segment.name', 'ACCESS_UNCOVERED'],
      ['Segment.score', 'ACCESS_UNCOVERED'],
    ]);
    expect(opened[0]!.message).toContain('through Query.topSegments');
  });

  it('a rule on a root type guards nothing (the gateway applies a type\'s rule to the fields returning it)', () => {
    expect(lint(subgraph('type Query @authenticated { version: String }'))).toEqual([
      { rule: 'access', code: 'ACCESS_UNCOVERED', coordinate: 'Query.version', message: expect.stringContaining('the rule on type Query guards nothing') },
    ]);
  });

  it('an entity this subgraph resolves is open through _entities unless its type has a rule; key fields are exempt', () => {
    const stub = (directives: string) => subgraph(`
      type Query { ok: Boolean @authenticated }
      type Product @key(fields: "sku") @key(fields: "legacyId") ${directives} { sku: ID! legacyId: ID! revenue: Float @requiresScopes(scopes: [["finance:read"]]) note: String }`);
    const problems = lint(stub(''));
    expect(problems).toEqual([{ rule: 'access', code: 'ACCESS_UNCOVERED', coordinate: 'Product.note', message: expect.stringContaining('Product is an entity this subgraph resolves (_entities)') }]);
    expect(codes(stub('@authenticated'))).toEqual([]);
  });

  it('an entity stub with resolvable: false is reached only through this subgraph\'s fields', () => {
    const sdl = (extra: string) => withPublic(`
      type Query { transaction(id: ID!): Transaction ${extra} }
      type Transaction @key(fields: "id") @requiresScopes(scopes: [["finance:read"]]) { id: ID! store: Store }
      type Store @key(fields: "id", resolvable: false) { id: ID! region: String }
      type Orphan @key(fields: "id", resolvable: false) { id: ID! secret: String }`);
    expect(codes(sdl(''))).toEqual([]);
    expect(codes(sdl('stores: [Store!]! @public'))).toEqual([['Store.region', 'ACCESS_UNCOVERED']]);
  });

  it('follows unions and interfaces to every type they can resolve to', () => {
    const sdl = withPublic(`
      type Query { search(text: String!): [Result!]! @public node(id: ID!): Node @public }
      union Result = Book | Author
      interface Node { id: ID! }
      type Book implements Node { id: ID! @public title: String }
      type Author implements Node @authenticated { id: ID! name: String }
      type Shelf implements Node { id: ID! @public label: String }`);
    expect(codes(sdl)).toEqual([
      ['Node.id', 'ACCESS_UNCOVERED'],
      ['Book.title', 'ACCESS_UNCOVERED'],
      ['Shelf.label', 'ACCESS_UNCOVERED'],
    ]);
    expect(lint(sdl).find((p) => p.coordinate === 'Shelf.label')!.message).toContain('through Query.node');
  });

  it('recognizes @public only from the access spec, under any local name', () => {
    const body = 'type Query { motd: String @public status: String @open }';
    expect(codes(withPublic(body))).toEqual([['Query.status', 'ACCESS_UNCOVERED']]);
    expect(codes(withPublic(body, 'open'))).toEqual([['Query.motd', 'ACCESS_UNCOVERED']]);
    expect(codes(`extend schema @link(url: "${ACCESS}", as: "acl") type Query { motd: String @acl__public }`)).toEqual([]);
    // Declared but not linked: an unknown directive that happens to be called public.
    expect(codes(subgraph(`directive @public on FIELD_DEFINITION type Query { motd: String @public }`))).toEqual([['Query.motd', 'ACCESS_UNCOVERED']]);
  });

  it('follows renamed authorization imports', () => {
    const renamed = '["@key", { name: "@requiresScopes", as: "@scopes" }, { name: "@authenticated", as: "@signedIn" }]';
    expect(codes(subgraph('type Query { a: String @scopes(scopes: [["x"]]) b: String @signedIn }', renamed))).toEqual([]);
    expect(codes(subgraph('type Query { a: String @requiresScopes(scopes: [["x"]]) }', renamed))).toEqual([['Query.a', 'ACCESS_UNCOVERED']]);
    expect(codes(`extend schema @link(url: "${FEDERATION}", as: "fed") type Query { a: String @fed__authenticated }`)).toEqual([]);
  });

  it('refuses @public where a rule applies anyway: on the field, its return type or its parent type', () => {
    const sdl = withPublic(`
      type Query { a: String @public @authenticated me: Customer @public }
      type Customer @requiresScopes(scopes: [["customer:read"]]) { id: ID! country: String @public }`);
    expect(lint(sdl)).toEqual([
      { rule: 'access', code: 'ACCESS_PUBLIC_CONFLICT', coordinate: 'Query.a', message: expect.stringContaining('it has an access rule of its own') },
      { rule: 'access', code: 'ACCESS_PUBLIC_CONFLICT', coordinate: 'Query.me', message: expect.stringContaining('the type it returns, Customer, has an access rule') },
      { rule: 'access', code: 'ACCESS_PUBLIC_CONFLICT', coordinate: 'Customer.country', message: expect.stringContaining('its type Customer has an access rule') },
    ]);
  });

  it('skips the fields Federation adds (_service, _entities)', () => {
    const sdl = subgraph(`
      scalar _Any
      type _Service { sdl: String }
      union _Entity = Product
      type Query { _service: _Service! _entities(representations: [_Any!]!): [_Entity]! }
      type Product @key(fields: "sku") @authenticated { sku: ID! name: String }`);
    expect(codes(sdl)).toEqual([]);
  });

  it('reads extensions of a type as the same type', () => {
    const sdl = subgraph('type Query { a: String @authenticated } extend type Query { b: String } extend type Query { c: String @authenticated }');
    expect(codes(sdl)).toEqual([['Query.b', 'ACCESS_UNCOVERED']]);
  });
});
