import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { composeServices } from '@apollo/composition';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';

/**
 * Two small subgraphs that are not ours (a bookshop), served by plain @apollo/server, to prove the
 * gateway runs over any Federation 2 supergraph and to make a subgraph slow or failing on demand.
 */
export type ReviewsBehaviour = 'ok' | 'slow' | 'throws' | 'http500';

const BOOKS = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Book @key(fields: "id") { id: ID! title: String! }
  type Query { books: [Book!]! }
`;
const REVIEWS = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Book @key(fields: "id") { id: ID! rating: Float }
`;

export interface Toy {
  readonly supergraphPath: string;
  readonly urls: Record<'books' | 'reviews', string>;
  setReviews(behaviour: ReviewsBehaviour): void;
  /** How many times `Query.books` was resolved: whether a request reached the subgraphs at all. */
  booksCalls(): number;
  /** Resolves when the reviews subgraph next starts resolving an entity (a request is in flight). */
  nextReviewsCall(): Promise<void>;
  stopReviews(): Promise<void>;
  stop(): Promise<void>;
}

export async function startToySubgraphs(slowMs = 2_000): Promise<Toy> {
  let behaviour: ReviewsBehaviour = 'ok';
  let onReviewsCall: (() => void) | undefined;
  let booksCalls = 0;
  const books = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(BOOKS),
      resolvers: {
        Query: {
          books: () => {
            booksCalls += 1;
            return [{ id: '1', title: 'Dune' }, { id: '2', title: 'Emma' }];
          },
        },
      },
    }),
  });
  const reviews = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(REVIEWS),
      resolvers: {
        Book: {
          __resolveReference: async (ref: { id: string }) => {
            onReviewsCall?.();
            if (behaviour === 'slow') await new Promise((r) => setTimeout(r, slowMs));
            return ref;
          },
          rating: (book: { id: string }) => {
            if (behaviour === 'throws') {
              throw new GraphQLError('relation "reviews.ratings" does not exist at SELECT * FROM reviews.ratings', {
                extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['at Pool.query (/srv/reviews/db.js:12:3)'] },
              });
            }
            return Number(book.id) + 3.5;
          },
        },
      },
    }),
  });
  const booksServer = await startStandaloneServer(books, { listen: { port: 0, host: '127.0.0.1' } });
  // A raw front for reviews so it can also fail at the HTTP level.
  const { createServer } = await import('node:http');
  const reviewsInner = await startStandaloneServer(reviews, { listen: { port: 0, host: '127.0.0.1' } });
  const front = createServer((req, res) => {
    if (behaviour === 'http500') {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<html>Traceback: at /srv/reviews/index.js secret-internal-host:5432</html>');
      return;
    }
    const upstream = new URL(req.url ?? '/', reviewsInner.url);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      fetch(upstream, { method: req.method, headers: req.headers as Record<string, string>, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined })
        .then(async (r) => {
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await r.arrayBuffer()));
        })
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
  const address = front.address();
  const reviewsUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;

  const composed = composeServices([
    { name: 'books', url: booksServer.url, typeDefs: parse(BOOKS) },
    { name: 'reviews', url: reviewsUrl, typeDefs: parse(REVIEWS) },
  ]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  const dir = mkdtempSync(join(tmpdir(), 'dpg-toy-'));
  const supergraphPath = join(dir, 'supergraph.graphql');
  writeFileSync(supergraphPath, composed.supergraphSdl);

  let reviewsStopped = false;
  const stopReviews = async () => {
    if (reviewsStopped) return;
    reviewsStopped = true;
    front.closeAllConnections();
    await new Promise<void>((resolve) => front.close(() => resolve()));
    await reviews.stop();
  };
  return {
    supergraphPath,
    urls: { books: booksServer.url, reviews: reviewsUrl },
    setReviews: (next) => {
      behaviour = next;
    },
    booksCalls: () => booksCalls,
    nextReviewsCall: () => new Promise<void>((resolve) => (onReviewsCall = resolve)),
    stopReviews,
    async stop() {
      await stopReviews();
      await books.stop();
    },
  };
}
