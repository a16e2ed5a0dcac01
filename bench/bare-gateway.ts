// The benchmark's baseline: @apollo/gateway on @apollo/server's standalone server, so that
// `ours / bare` measures what our pipeline costs on top of the same query planner and executor.
// Only two things are added, both because the data products require them and neither costs per
// request: the supergraph's authorization links lose `for: SECURITY` (else @apollo/gateway refuses
// to load it), and every subgraph call carries an identity token (else the subgraphs answer 401),
// signed once and reused. Keep it bare: anything else added here hides what our pipeline costs.
//
// Env: PORT (default 0), SUPERGRAPH (default schema/supergraph.graphql), SUBGRAPH_URLS=name=url,...,
// BARE_IDENTITY_KEY (Ed25519 PKCS#8 PEM) and BARE_IDENTITY_SCOPES (space-separated) for the identity.
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { takeOverAuthorization } from '../gateway/authz/takeover.js';
import { createIdentitySigner, INTERNAL_TOKEN_TTL_S, subgraphAudience } from '../lib/internal-token.js';

// Read when ApolloGateway is constructed (the bench also sets it in the environment): without it,
// 2.14 reports telemetry to Apollo and probes cloud metadata endpoints.
process.env.APOLLO_TELEMETRY_DISABLED = 'true';

/** A current identity token per subgraph (each is its own audience), re-signed well before it expires; undefined without a key. */
async function identityTokens(subgraphs: readonly string[]): Promise<((subgraph: string) => string) | undefined> {
  const pem = process.env.BARE_IDENTITY_KEY;
  if (!pem) return undefined;
  const sign = createIdentitySigner(createPrivateKey(pem), 'bare');
  const scopes = new Set((process.env.BARE_IDENTITY_SCOPES ?? '').split(' ').filter(Boolean));
  const principal = { kind: 'authenticated', issuer: 'bench', subject: 'bench-user', clientId: 'bench', roles: new Set<string>(), scopes } as const;
  const tokens = new Map<string, string>();
  const refresh = () => Promise.all(subgraphs.map(async (name) => tokens.set(name, await sign(principal, subgraphAudience(name)))));
  await refresh();
  setInterval(() => void refresh(), (INTERNAL_TOKEN_TTL_S * 1000) / 3).unref();
  return (subgraph) => tokens.get(subgraph) ?? '';
}

// The same boot-time rewrite ours does, without the enforcement: bare is the floor, not a product.
const supergraphSdl = takeOverAuthorization(readFileSync(resolve(process.env.SUPERGRAPH ?? 'schema/supergraph.graphql'), 'utf8')).gatewaySdl;
const overrides: Record<string, string> = {};
for (const pair of (process.env.SUBGRAPH_URLS ?? '').split(',').filter(Boolean)) {
  const eq = pair.indexOf('=');
  overrides[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
}
const identity = await identityTokens(['customer', 'finance', 'product', ...Object.keys(overrides)]);

const gateway = new ApolloGateway({
  supergraphSdl,
  buildService: ({ url, name }) =>
    new RemoteGraphQLDataSource({
      url: overrides[name] ?? url,
      willSendRequest({ request }) {
        if (identity) request.http?.headers.set('authorization', `Bearer ${identity(name)}`);
      },
    }),
});
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, { listen: { port: Number(process.env.PORT ?? 0), host: '127.0.0.1' } });
process.stdout.write(`${JSON.stringify({ msg: 'gateway ready', url })}\n`);
