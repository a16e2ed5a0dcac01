// The public benchmark's four subgraphs as Node subgraphs (@apollo/subgraph): the same types, fields
// and answers as its Rust ones (subgraphs/*.rs of graphql-hive/graphql-gateways-benchmark at commit
// e583a1ff4ae2e0e5380b9caabd8a00d400947a8b), including their quirks, so that every gateway receives
// exactly what it receives there. Their SDL is Federation 2; what the gateways plan from is the
// checked-in supergraph (supergraph.graphql), which these schemas match field for field.
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, type GraphQLSchema } from 'graphql';
import { IN_STOCK, PRODUCTS, REVIEWS, USERS, type Review } from './data.js';

export const PUBLIC_SUBGRAPHS = ['accounts', 'inventory', 'products', 'reviews'] as const;
export type PublicSubgraph = (typeof PUBLIC_SUBGRAPHS)[number];

export function isPublicSubgraph(name: string): name is PublicSubgraph {
  return (PUBLIC_SUBGRAPHS as readonly string[]).includes(name);
}

const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires", "@provides"])';

const ACCOUNTS = /* GraphQL */ `
  ${LINK}
  """A user of the shop."""
  type User @key(fields: "id") {
    id: ID!
    name: String
    username: String
    birthday: Int
  }
  type Query {
    """The first user, always."""
    me: User
    user(id: ID!): User
    users: [User]
  }
`;

const INVENTORY = /* GraphQL */ `
  ${LINK}
  type Product @key(fields: "upc") {
    upc: String!
    weight: Int @external
    price: Int @external
    inStock: Boolean
    shippingEstimate: Int @requires(fields: "price weight")
  }
`;

const PRODUCTS_SDL = /* GraphQL */ `
  ${LINK}
  type Product @key(fields: "upc") {
    upc: String!
    name: String
    price: Int
    weight: Int
  }
  type Query {
    topProducts(first: Int = 5): [Product]
  }
`;

const REVIEWS_SDL = /* GraphQL */ `
  ${LINK}
  type Review @key(fields: "id") {
    id: ID!
    body: String
    product: Product
    author: User @provides(fields: "username")
  }
  type User @key(fields: "id") {
    id: ID!
    username: String @external
    reviews: [Review]
  }
  type Product @key(fields: "upc") {
    upc: String!
    reviews: [Review]
  }
`;

/** reviews.rs: every user's `reviews` (the author of any review, or a User entity) are reviews 1 and 2. */
const USER_REVIEWS = REVIEWS.slice(0, 2);

const reviewOf = (review: Review) => ({ id: review.id, body: review.body, product: { upc: review.upc } });

function accounts(): GraphQLSchema {
  return buildSubgraphSchema({
    typeDefs: parse(ACCOUNTS),
    resolvers: {
      Query: {
        me: () => USERS[0],
        user: (_: unknown, args: { id: string }) => USERS.find((u) => u.id === args.id) ?? null,
        users: () => USERS,
      },
      User: {
        __resolveReference: (ref: { id: string }) => USERS.find((u) => u.id === ref.id) ?? null,
      },
    },
  });
}

function inventory(): GraphQLSchema {
  return buildSubgraphSchema({
    typeDefs: parse(INVENTORY),
    resolvers: {
      Product: {
        // inventory.rs's entity resolver takes the upc alone and returns its inventory row, whose price
        // and weight are always None: the representation's price and weight are never read, and
        // shippingEstimate is always null (the benchmark's own expected answer says so).
        __resolveReference: (ref: { upc: string }) => (IN_STOCK.has(ref.upc) ? { upc: ref.upc, inStock: IN_STOCK.get(ref.upc) } : null),
        shippingEstimate: () => null,
      },
    },
  });
}

function products(): GraphQLSchema {
  return buildSubgraphSchema({
    typeDefs: parse(PRODUCTS_SDL),
    resolvers: {
      Query: {
        topProducts: (_: unknown, args: { first?: number | null }) => PRODUCTS.slice(0, Math.max(0, args.first ?? 5)),
      },
      Product: {
        __resolveReference: (ref: { upc: string }) => PRODUCTS.find((p) => p.upc === ref.upc) ?? null,
      },
    },
  });
}

function reviews(): GraphQLSchema {
  return buildSubgraphSchema({
    typeDefs: parse(REVIEWS_SDL),
    resolvers: {
      Review: {
        __resolveReference: (ref: { id: string }) => {
          const review = REVIEWS.find((r) => r.id === ref.id);
          return review ? reviewOf(review) : null;
        },
        // reviews.rs: every review's author is user 1, "urigo", whoever wrote it.
        author: () => ({ id: '1', username: 'urigo' }),
      },
      User: {
        // reviews.rs answers any id, with the username "user" (the gateways never ask it for one).
        __resolveReference: (ref: { id: string }) => ({ id: ref.id, username: 'user' }),
        reviews: () => USER_REVIEWS.map(reviewOf),
      },
      Product: {
        __resolveReference: (ref: { upc: string }) => ({ upc: ref.upc }),
        reviews: (product: { upc: string }) => REVIEWS.filter((r) => r.upc === product.upc).map(reviewOf),
      },
    },
  });
}

/** The executable schema of one of the four subgraphs. */
export function publicSubgraphSchema(name: PublicSubgraph): GraphQLSchema {
  switch (name) {
    case 'accounts':
      return accounts();
    case 'inventory':
      return inventory();
    case 'products':
      return products();
    case 'reviews':
      return reviews();
  }
}
