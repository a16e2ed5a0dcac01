import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { composeServices } from '@apollo/composition';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

/*
 * A small data product with what ours lack: an interface and a union whose members carry
 * authorization rules of their own (a field-level scope on one implementation, a type-level
 * scope on a union member, a policy), nested abstract lists and cycles. For the property tests,
 * which must hold through `... on` as much as through plain fields.
 */
export const CATALOG = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@requiresScopes", "@policy", "@authenticated"])

  "Something in the catalogue."
  interface Item {
    id: ID!
    title: String
    "Other items about the same subject."
    related: [Item!]!
  }

  "A published book."
  type Book implements Item @key(fields: "id") {
    id: ID!
    title: String
    related: [Item!]!
    isbn: String!
    author: Author
  }

  "An internal dossier: its title is personal data, its risk note for risk staff only."
  type Dossier implements Item @key(fields: "id") {
    id: ID!
    title: String @requiresScopes(scopes: [["customer:pii"]])
    related: [Item!]!
    riskNote: String @policy(policies: [["risk-model-explanations"]])
  }

  "A writer; authors' data is finance's business here."
  type Author @key(fields: "id") @requiresScopes(scopes: [["finance:read"]]) {
    id: ID!
    name: String
    books: [Book!]!
  }

  union SearchResult = Book | Author | Dossier

  type Query {
    "Items, for example \`b1\`."
    items(first: Int = 3): [Item!]!
    "One item by id, for example \`d1\`."
    item(id: ID!): Item
    search(text: String): [SearchResult!]! @authenticated
  }
`;

interface Row {
  readonly __typename: 'Book' | 'Dossier' | 'Author';
  readonly id: string;
  readonly [field: string]: unknown;
}

const ROWS: readonly Row[] = [
  { __typename: 'Book', id: 'b1', title: 'Dune', isbn: '978-0441013593', author: 'a1' },
  { __typename: 'Book', id: 'b2', title: 'Children of Dune', isbn: '978-0593098233', author: 'a1' },
  { __typename: 'Dossier', id: 'd1', title: 'Confidential', riskNote: 'watch list' },
  { __typename: 'Dossier', id: 'd2', title: 'Secret', riskNote: 'none' },
  { __typename: 'Author', id: 'a1', name: 'Frank Herbert' },
];
const items = ROWS.filter((r) => r.__typename !== 'Author');
const byId = new Map(ROWS.map((r) => [r.id, r]));

export interface AbstractCatalog {
  readonly supergraphPath: string;
  stop(): Promise<void>;
}

export async function startAbstractCatalog(): Promise<AbstractCatalog> {
  const resolveType = (row: Row) => row.__typename;
  const server = new ApolloServer({
    // Traces are Apollo Studio's business; without this the server announces it enabled them.
    plugins: [ApolloServerPluginInlineTraceDisabled()],
    schema: buildSubgraphSchema({
      typeDefs: parse(CATALOG),
      resolvers: {
        Item: { __resolveType: resolveType },
        SearchResult: { __resolveType: resolveType },
        Book: { related: (row: Row) => items.filter((i) => i.id !== row.id), author: (row: Row) => byId.get(String(row.author)) ?? null },
        Dossier: { related: (row: Row) => items.filter((i) => i.id !== row.id) },
        Author: { books: (row: Row) => ROWS.filter((r) => r.__typename === 'Book' && r.author === row.id) },
        Query: {
          items: (_: unknown, args: { first?: number }) => items.slice(0, Math.max(0, args.first ?? 3)),
          item: (_: unknown, args: { id: string }) => (byId.get(args.id)?.__typename === 'Author' ? null : (byId.get(args.id) ?? null)),
          search: () => ROWS,
        },
      },
    }),
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  const composed = composeServices([{ name: 'catalog', url, typeDefs: parse(CATALOG) }]);
  if (composed.errors) {
    await server.stop();
    throw new Error(composed.errors.map((e) => e.message).join('\n'));
  }
  const supergraphPath = join(mkdtempSync(join(tmpdir(), 'dpg-props-abstract-')), 'supergraph.graphql');
  writeFileSync(supergraphPath, composed.supergraphSdl);
  return { supergraphPath, stop: () => server.stop() };
}
