import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { composeServices } from '@apollo/composition';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { postGraphQL } from './helpers/http.js';

/*
 * Interfaces and unions in a supergraph that is not ours: a field selected through an interface
 * must satisfy the rules of every implementation, a union member's type-level rule applies inside
 * `... on`, and the gateway serves the supergraph from a URL as well as from a file.
 */
const CATALOG = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@requiresScopes"])
  interface Item { id: ID! title: String }
  type Book implements Item @key(fields: "id") { id: ID! title: String isbn: String! }
  type Dossier implements Item @key(fields: "id") { id: ID! title: String @requiresScopes(scopes: [["customer:pii"]]) }
  type Author @key(fields: "id") @requiresScopes(scopes: [["finance:read"]]) { id: ID! name: String }
  union SearchResult = Book | Author
  type Query { items: [Item!]! search: [SearchResult!]! }
`;
const ITEMS = [
  { __typename: 'Book', id: 'b1', title: 'Dune', isbn: '978-0441013593' },
  { __typename: 'Dossier', id: 'd1', title: 'Confidential' },
];

let catalog: ApolloServer;
let supergraphServer: Server;
let gateway: RunningGateway;
const silent = createLogger('test', 'silent');

beforeAll(async () => {
  catalog = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(CATALOG),
      resolvers: {
        Item: { __resolveType: (item: { __typename: string }) => item.__typename },
        SearchResult: { __resolveType: (item: { __typename: string }) => item.__typename },
        Query: { items: () => ITEMS, search: () => [ITEMS[0], { __typename: 'Author', id: 'a1', name: 'Frank Herbert' }] },
      },
    }),
  });
  const { url } = await startStandaloneServer(catalog, { listen: { port: 0, host: '127.0.0.1' } });
  const composed = composeServices([{ name: 'catalog', url, typeDefs: parse(CATALOG) }]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  const supergraphSdl = composed.supergraphSdl;
  writeFileSync(join(mkdtempSync(join(tmpdir(), 'dpg-abstract-')), 'supergraph.graphql'), supergraphSdl);
  supergraphServer = createServer((_req, res) => res.end(supergraphSdl));
  await new Promise<void>((resolve) => supergraphServer.listen(0, '127.0.0.1', () => resolve()));
  const supergraphUrl = `http://127.0.0.1:${(supergraphServer.address() as AddressInfo).port}/supergraph.graphql`;
  gateway = await startGateway(loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: supergraphUrl }), silent);
});

afterAll(async () => {
  await gateway?.stop();
  await catalog?.stop();
  supergraphServer?.close();
});

const as = async (...roles: string[]) => ({ token: await mintDevToken({ roles }) });

describe('interfaces and unions', () => {
  it('a field through an interface needs what every implementation needs', async () => {
    const denied = await postGraphQL(gateway.url, '{ items { id title } }', await as('marketing-analyst'));
    expect(denied.body).toEqual({
      data: { items: [{ id: 'b1', title: null }, { id: 'd1', title: null }] },
      errors: [{ message: expect.any(String), path: ['items', 'title'], extensions: { code: 'FORBIDDEN', coordinate: 'Item.title', missingScopes: ['customer:pii'] } }],
    });
    const allowed = await postGraphQL(gateway.url, '{ items { id title } }', await as('sales-manager'));
    expect(allowed.body).toEqual({ data: { items: [{ id: 'b1', title: 'Dune' }, { id: 'd1', title: 'Confidential' }] } });
  });

  it('through an inline fragment on the implementation only that implementation counts', async () => {
    const result = await postGraphQL(gateway.url, '{ items { id ... on Book { title isbn } } }', await as('marketing-analyst'));
    expect(result.body).toEqual({ data: { items: [{ id: 'b1', title: 'Dune', isbn: '978-0441013593' }, { id: 'd1' }] } });
    const dossier = await postGraphQL(gateway.url, '{ items { id ... on Dossier { secret: title } } }', await as('marketing-analyst'));
    expect(dossier.body).toEqual({
      data: { items: [{ id: 'b1' }, { id: 'd1', secret: null }] },
      errors: [{ message: expect.any(String), path: ['items', 'secret'], extensions: { code: 'FORBIDDEN', coordinate: 'Dossier.title', missingScopes: ['customer:pii'] } }],
    });
  });

  it("a union member's type-level rule applies inside its fragment; __typename alone stays readable", async () => {
    const result = await postGraphQL(gateway.url, '{ search { __typename ... on Author { name } ... on Book { title } } }', await as('marketing-analyst'));
    expect(result.body).toEqual({
      data: { search: [{ __typename: 'Book', title: 'Dune' }, { __typename: 'Author', name: null }] },
      errors: [{ message: expect.any(String), path: ['search', 'name'], extensions: { code: 'FORBIDDEN', coordinate: 'Author.name', missingScopes: ['finance:read'] } }],
    });
  });
});
