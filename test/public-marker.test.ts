import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { composeServices } from '@apollo/composition';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { execute, parse, type GraphQLSchema } from 'graphql';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { loadAccessPolicies } from '../lib/policies.js';
import { createLogger } from '../lib/logger.js';
import { ANONYMOUS } from '../lib/principal.js';
import { lintSubgraphSchema } from '../scripts/schema-lint.js';
import { protectSchema } from '../subgraphs/kit/shield.js';
import { postGraphQL } from './helpers/http.js';

/*
 * The @public marker end to end, on a small subgraph of its own (none of our products has a field
 * meant for anonymous callers): linked from the access spec and composed into the supergraph like
 * @sunset, accepted by the schema lint, and needing nothing at run time: the gateway and the
 * subgraph's shield treat a public field as one without a rule, while its neighbours keep theirs.
 */
const NOTICES = /* GraphQL */ `
  extend schema
    @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@authenticated", "@composeDirective"])
    @link(url: "https://specs.data-product-gateway.dev/access/v0.1", import: ["@public"])
    @composeDirective(name: "@public")

  """
  Anyone may read this field, signed in or not: its owner decided it needs no access rule.
  """
  directive @public on FIELD_DEFINITION

  type Query {
    motd: String @public
    notes: [String!] @authenticated
  }
`;
const typeDefs = parse(NOTICES);
const resolvers = { Query: { motd: () => 'Welcome', notes: () => ['internal'] } };

/** The shield over the notices subgraph, as every data product builds it. */
function shielded(): GraphQLSchema {
  return protectSchema(buildSubgraphSchema([{ typeDefs, resolvers }]), typeDefs, loadAccessPolicies());
}

let server: ApolloServer<{ principal: typeof ANONYMOUS }>;
let gateway: RunningGateway;
let supergraphSdl: string;

beforeAll(async () => {
  // The gateway forwards its caller (here: nobody) to the subgraph; this one takes every caller as anonymous.
  server = new ApolloServer({ schema: shielded() });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' }, context: async () => ({ principal: ANONYMOUS }) });
  const composed = composeServices([{ name: 'notices', url, typeDefs }]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  supergraphSdl = composed.supergraphSdl;
  const file = join(mkdtempSync(join(tmpdir(), 'dpg-public-')), 'supergraph.graphql');
  writeFileSync(file, supergraphSdl);
  gateway = await startGateway(loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: file }), createLogger('test', 'silent'));
});
afterAll(async () => {
  await gateway?.stop();
  await server?.stop();
});

describe('@public', () => {
  it('satisfies the schema lint', () => {
    expect(lintSubgraphSchema(typeDefs)).toEqual([]);
    expect(lintSubgraphSchema(parse(NOTICES.replace('motd: String @public', 'motd: String')))).toEqual([
      { rule: 'access', code: 'ACCESS_UNCOVERED', coordinate: 'Query.motd', message: expect.any(String) },
    ]);
  });

  it('is composed into the supergraph with its spec link, like @sunset', () => {
    expect(supergraphSdl).toContain('@link(url: "https://specs.data-product-gateway.dev/access/v0.1", import: ["@public"])');
    expect(supergraphSdl).toMatch(/motd: String @public\b/);
  });

  it('through the gateway: an anonymous caller reads the public field and is refused its neighbour', async () => {
    const open = await postGraphQL(gateway.url, '{ motd }');
    expect(open.body).toEqual({ data: { motd: 'Welcome' } });
    const mixed = await postGraphQL(gateway.url, '{ motd notes }');
    expect(mixed.body).toEqual({
      data: { motd: 'Welcome', notes: null },
      errors: [{ message: expect.any(String), path: ['notes'], extensions: { code: 'FORBIDDEN', coordinate: 'Query.notes', reason: 'authentication required' } }],
    });
  });

  it("the subgraph's shield (deny by default) lets the public field through and still guards the rest", async () => {
    const result = await execute({ schema: shielded(), document: parse('{ motd notes }'), contextValue: { principal: ANONYMOUS } });
    expect(result.data).toEqual({ motd: 'Welcome', notes: null });
    expect(result.errors?.map((e) => [e.path, e.extensions])).toEqual([[['notes'], { code: 'FORBIDDEN', coordinate: 'Query.notes', reason: 'authentication required' }]]);
  });
});
