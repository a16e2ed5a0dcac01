import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { composeServices } from '@apollo/composition';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';

/**
 * Two small subgraphs (accounts, reviews) behind counting fronts: each front records every call
 * (body, identity, request id), can hold calls until the test releases them (a latch, no timer),
 * and can misbehave at the HTTP level (hang, answer too much, fail). Accounts answers from the
 * forwarded identity (`me` is the caller, as the subgraph read it), so a test sees whose grants
 * produced an answer.
 */
const ACCOUNTS = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Query { me: User users: [User!]! }
  type Mutation { touch(id: ID!): User }
  type User @key(fields: "id") { id: ID! name: String roles: [String!]! }
`;
const REVIEWS = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Query { reviews: [Review!]! }
  type Review { id: ID! author: User! }
  type User @key(fields: "id", resolvable: false) { id: ID! }
`;

/** Review i is by author AUTHORS[i]: repeated authors, so the accounts _entities call has duplicates. */
export const AUTHORS = ['u1', 'u2', 'u1', 'u1', 'u3', 'u2'] as const;
/** The author whose name fails to resolve (an error at `_entities.<i>.name`). */
export const FAILING_AUTHOR = 'u2';
export const NAMES: Readonly<Record<string, string>> = { u1: 'Ada', u2: 'Grace', u3: 'Linus' };

export type FrontBehaviour = 'pass' | 'hang' | 'stall-body' | 'oversize' | 'http500';

export interface RecordedCall {
  readonly body: { query: string; variables?: Record<string, unknown>; operationName?: string };
  readonly requestId: string | undefined;
  /** The identity token's claims (decoded, not verified: the test only reads who it names). */
  readonly identity: { sub?: string; roles?: string[] } | undefined;
}

export interface Front {
  readonly url: string;
  readonly calls: RecordedCall[];
  /** Hold every call from now on until `release()`. */
  hold(): void;
  /** Lets held calls (and later ones) through. */
  release(): void;
  /** Resolves once `count` calls in total have arrived (at once if they already have). */
  arrived(count: number): Promise<void>;
  setBehaviour(behaviour: FrontBehaviour): void;
  /** TCP connections accepted so far, and open now. */
  connections(): { accepted: number; open: number };
  /** Resolves once no connection is open. */
  allClosed(): Promise<void>;
  /** Stops listening (calls then find nothing: connection refused). */
  close(): Promise<void>;
}

export interface LatchedSubgraphs {
  readonly supergraphPath: string;
  readonly accounts: Front;
  readonly reviews: Front;
  stop(): Promise<void>;
}

function claimsOf(authorization: string | undefined): RecordedCall['identity'] {
  const payload = authorization?.replace(/^Bearer /, '').split('.')[1];
  return payload ? (JSON.parse(Buffer.from(payload, 'base64url').toString()) as RecordedCall['identity']) : undefined;
}

/** Bytes the oversize behaviour answers: valid JSON, just too much of it. */
export const OVERSIZE_BYTES = 256 * 1024;

async function startFront(upstreamUrl: string): Promise<Front> {
  const calls: RecordedCall[] = [];
  let held: (() => void)[] | undefined;
  let behaviour: FrontBehaviour = 'pass';
  const waiting: { count: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  let closedWaiters: (() => void)[] = [];
  const upstream = new URL(upstreamUrl);

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    if (behaviour === 'hang') return; // never answers: the gateway's deadline must end the call
    if (behaviour === 'stall-body') {
      // Headers and the start of a body, then nothing: the deadline covers the body too.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":');
      return;
    }
    if (behaviour === 'http500') {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<html>internal</html>');
      return;
    }
    if (behaviour === 'oversize') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"data":{"me":null},"padding":"${'x'.repeat(OVERSIZE_BYTES)}"}`);
      return;
    }
    const proxied = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: upstream.pathname, method: 'POST', headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'application/json' });
        answer.pipe(res);
      },
    );
    proxied.on('error', () => res.destroy());
    proxied.end(body);
  };

  const server: Server = createServer((req, res) => {
    // The gateway's catalogue also asks for GET /data-product: not a subgraph call, not counted.
    if (req.method !== 'POST') {
      res.writeHead(404, { connection: 'close' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      calls.push({
        body: JSON.parse(body.toString()) as RecordedCall['body'],
        requestId: req.headers['x-request-id'] as string | undefined,
        identity: claimsOf(req.headers.authorization),
      });
      for (const waiter of waiting.filter((w) => calls.length >= w.count)) {
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve();
      }
      if (held) held.push(() => forward(req, body, res));
      else forward(req, body, res);
    });
  });
  // Idle connections stay open (the keep-alive hint says so): only the gateway closing its pools ends them.
  server.keepAliveTimeout = 600_000;
  server.on('connection', (socket: Socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) {
        for (const resolve of closedWaiters) resolve();
        closedWaiters = [];
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/graphql`;
  return {
    url,
    calls,
    hold: () => {
      held ??= [];
    },
    release: () => {
      const pending = held ?? [];
      held = undefined;
      for (const run of pending) run();
    },
    arrived: (count) => (calls.length >= count ? Promise.resolve() : new Promise((resolve) => waiting.push({ count, resolve }))),
    setBehaviour: (next) => {
      behaviour = next;
    },
    connections: () => ({ accepted, open: sockets.size }),
    allClosed: () => (sockets.size === 0 ? Promise.resolve() : new Promise((resolve) => closedWaiters.push(resolve))),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function startLatchedSubgraphs(): Promise<LatchedSubgraphs> {
  const accounts = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(ACCOUNTS),
      resolvers: {
        Query: {
          me: (_: unknown, __: unknown, context: unknown) => {
            const { identity } = context as { identity: RecordedCall['identity'] };
            return { id: identity?.sub ?? 'anonymous', roles: identity?.roles ?? [] };
          },
          users: () => Object.keys(NAMES).map((id) => ({ id, roles: [] })),
        },
        Mutation: { touch: (_: unknown, args: { id: string }) => ({ id: args.id, roles: [] }) },
        User: {
          __resolveReference: (ref: { id: string }) => ({ id: ref.id, roles: [] }),
          name: (user: { id: string }) => {
            if (user.id === FAILING_AUTHOR) throw new GraphQLError('name store down', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
            return NAMES[user.id] ?? null;
          },
        },
      },
    }),
  });
  const reviews = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(REVIEWS),
      resolvers: { Query: { reviews: () => AUTHORS.map((author, i) => ({ id: `r${i}`, author: { __typename: 'User', id: author } })) } },
    }),
  });
  const accountsInner = await startStandaloneServer(accounts, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => ({ identity: claimsOf(req.headers.authorization) }),
  });
  const reviewsInner = await startStandaloneServer(reviews, { listen: { port: 0, host: '127.0.0.1' } });
  const accountsFront = await startFront(accountsInner.url);
  const reviewsFront = await startFront(reviewsInner.url);

  const composed = composeServices([
    { name: 'accounts', url: accountsFront.url, typeDefs: parse(ACCOUNTS) },
    { name: 'reviews', url: reviewsFront.url, typeDefs: parse(REVIEWS) },
  ]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  const dir = mkdtempSync(join(tmpdir(), 'dpg-latched-'));
  const supergraphPath = join(dir, 'supergraph.graphql');
  writeFileSync(supergraphPath, composed.supergraphSdl);
  return {
    supergraphPath,
    accounts: accountsFront,
    reviews: reviewsFront,
    async stop() {
      accountsFront.release();
      reviewsFront.release();
      await Promise.all([accountsFront.close(), reviewsFront.close()]);
      await Promise.all([accounts.stop(), reviews.stop()]);
    },
  };
}
