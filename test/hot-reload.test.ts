import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { composeServices } from '@apollo/composition';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { hashOf } from '../gateway/supergraph.js';
import { createLogger } from '../lib/logger.js';
import { codesOf, postGraphQL } from './helpers/http.js';

/*
 * Supergraph hot reload, the owners' release path: a data product adds a field, the supergraph is
 * recomposed and written where SUPERGRAPH points, and every gateway serves it without a restart.
 * A supergraph that cannot be served is refused and the current one keeps serving; a request in
 * flight during the swap finishes on the schema it started with.
 */
const V1 = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Book @key(fields: "id") { id: ID! title: String! }
  type Query { books: [Book!]! slowBooks: [Book!]! }
`;
// The product's next version: one more field.
const V2 = V1.replace('title: String!', 'title: String! year: Int');
const V3 = V2.replace('year: Int', 'year: Int pages: Int');

let library: ApolloServer;
let libraryUrl: string;
/** Lets a `slowBooks` call finish: the test decides when, no timer involved. */
let releaseSlow: () => void = () => undefined;
let slowEntered: Promise<void>;
let onSlowEntered: () => void = () => undefined;
const gateways: RunningGateway[] = [];
const silent = createLogger('test', 'silent');
const dir = mkdtempSync(join(tmpdir(), 'dpg-reload-'));

function compose(sdl: string): string {
  const result = composeServices([{ name: 'library', url: libraryUrl, typeDefs: parse(sdl) }]);
  if (result.errors) throw new Error(result.errors.map((e) => e.message).join('\n'));
  return result.supergraphSdl;
}

const BOOKS = [{ id: '1', title: 'Dune', year: 1965, pages: 412 }];

beforeAll(async () => {
  slowEntered = new Promise((resolve) => (onSlowEntered = resolve));
  // The subgraph already serves the newest version; the supergraph decides what the gateway exposes.
  library = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(V3),
      resolvers: {
        Query: {
          books: () => BOOKS,
          slowBooks: () =>
            new Promise((resolve) => {
              releaseSlow = () => resolve(BOOKS);
              onSlowEntered();
            }),
        },
      },
    }),
  });
  ({ url: libraryUrl } = await startStandaloneServer(library, { listen: { port: 0, host: '127.0.0.1' } }));
});

afterAll(async () => {
  releaseSlow();
  for (const gateway of gateways) await gateway.stop();
  await library?.stop();
});

async function gatewayOver(file: string, pollMs: number): Promise<RunningGateway> {
  const gateway = await startGateway(loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: file, SUPERGRAPH_POLL_MS: String(pollMs) }), silent);
  gateways.push(gateway);
  return gateway;
}

const metric = async (gateway: RunningGateway, line: RegExp) => line.exec(await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text())?.[1];

describe('a supergraph file', () => {
  const file = join(dir, 'supergraph.graphql');
  let gateway: RunningGateway;

  beforeAll(async () => {
    writeFileSync(file, compose(V1));
    // Checked only when the test asks: each step is deterministic.
    gateway = await gatewayOver(file, 0);
  });

  it('a product adds a field, the supergraph is recomposed: served without a restart', async () => {
    expect(codesOf(await postGraphQL(gateway.url, '{ books { title year } }'))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const v2 = compose(V2);
    writeFileSync(file, v2);
    expect(await gateway.reloadSupergraph()).toEqual({ outcome: 'applied', hash: hashOf(v2) });
    expect((await postGraphQL(gateway.url, '{ books { title year } }')).body).toEqual({ data: { books: [{ title: 'Dune', year: 1965 }] } });
    expect(gateway.supergraphHash()).toBe(hashOf(v2));
    expect(await (await fetch(gateway.url.replace('/graphql', '/readyz'))).json()).toMatchObject({ status: 'ready', supergraph: hashOf(v2) });
    expect(await metric(gateway, new RegExp(`^dpg_supergraph_info\\{hash="${hashOf(v2)}"\\} (\\d+)$`, 'm'))).toBe('1');
    expect(await metric(gateway, /^dpg_supergraph_info\{hash="[0-9a-f]{16}"\} (\d+)$/gm)).toBe('1');
    expect(await metric(gateway, /^dpg_supergraph_reloads_total\{outcome="applied"\} (\d+)$/m)).toBe('1');
  });

  it('the same supergraph again changes nothing', async () => {
    expect(await gateway.reloadSupergraph()).toEqual({ outcome: 'unchanged', hash: gateway.supergraphHash() });
  });

  it.each([
    ['not a supergraph at all', () => 'type Query { nope: Int }', /is not a valid Federation supergraph/],
    ['a supergraph linking a security feature nobody enforces', () => compose(V2).replace(/^schema\n/m, 'schema\n  @link(url: "https://example.com/unknown-security/v1.0", for: SECURITY)\n'), /cannot serve supergraph|not a valid Federation supergraph/],
  ])('%s: refused with the reason, counted, and the current one keeps answering', async (_, broken, reason) => {
    const serving = gateway.supergraphHash();
    const refusedBefore = Number((await metric(gateway, /^dpg_supergraph_reloads_total\{outcome="refused"\} (\d+)$/m)) ?? 0);
    writeFileSync(file, broken());
    expect(await gateway.reloadSupergraph()).toEqual({ outcome: 'refused', reason: expect.stringMatching(reason) });
    expect(gateway.supergraphHash()).toBe(serving);
    expect((await postGraphQL(gateway.url, '{ books { title year } }')).body).toEqual({ data: { books: [{ title: 'Dune', year: 1965 }] } });
    expect(Number(await metric(gateway, /^dpg_supergraph_reloads_total\{outcome="refused"\} (\d+)$/m))).toBe(refusedBefore + 1);
  });

  it('a request in flight during the swap finishes on the schema it started with', async () => {
    writeFileSync(file, compose(V2));
    await gateway.reloadSupergraph();
    const inFlight = postGraphQL(gateway.url, '{ slowBooks { title year } }');
    await slowEntered; // the request is inside the subgraph, on the V2 engine
    const v3 = compose(V3);
    writeFileSync(file, v3);
    expect(await gateway.reloadSupergraph()).toEqual({ outcome: 'applied', hash: hashOf(v3) });
    releaseSlow();
    expect((await inFlight).body).toEqual({ data: { slowBooks: [{ title: 'Dune', year: 1965 }] } });
    expect((await postGraphQL(gateway.url, '{ books { pages } }')).body).toEqual({ data: { books: [{ pages: 412 }] } });
  });
});

describe('watching', () => {
  it('a file is watched: writing it is enough', async () => {
    const file = join(dir, 'watched.graphql');
    writeFileSync(file, compose(V1));
    // The scheduled check is an hour away: what reloads here is the file's own event.
    const gateway = await gatewayOver(file, 3_600_000);
    const reloaded = gateway.nextSupergraphReload();
    const v2 = compose(V2);
    writeFileSync(file, v2);
    expect(await reloaded).toEqual({ outcome: 'applied', hash: hashOf(v2) });
    expect((await postGraphQL(gateway.url, '{ books { year } }')).body).toEqual({ data: { books: [{ year: 1965 }] } });
  });

  it('a URL is polled with If-None-Match: unchanged costs a 304, a new version is served', async () => {
    let served = compose(V1);
    const conditional: (string | undefined)[] = [];
    const registry: Server = createServer((req, res) => {
      const etag = `"${hashOf(served)}"`;
      conditional.push(req.headers['if-none-match']);
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag });
        res.end();
        return;
      }
      res.writeHead(200, { etag, 'content-type': 'text/plain' });
      res.end(served);
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', () => resolve()));
    try {
      const url = `http://127.0.0.1:${(registry.address() as AddressInfo).port}/supergraph.graphql`;
      const gateway = await gatewayOver(url, 50);
      expect(await gateway.nextSupergraphReload()).toEqual({ outcome: 'unchanged', hash: hashOf(served) });
      expect(conditional.at(-1)).toBe(`"${hashOf(served)}"`);
      served = compose(V2);
      // Polls may have been answered 304 meanwhile; the first one after the change applies it.
      let result = await gateway.nextSupergraphReload();
      while (result.outcome === 'unchanged' && result.hash !== hashOf(served)) result = await gateway.nextSupergraphReload();
      expect(result).toEqual({ outcome: 'applied', hash: hashOf(served) });
      expect((await postGraphQL(gateway.url, '{ books { year } }')).body).toEqual({ data: { books: [{ year: 1965 }] } });
    } finally {
      await new Promise<void>((resolve) => registry.close(() => resolve()));
    }
  });
});
