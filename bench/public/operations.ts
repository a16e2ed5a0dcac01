import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../processes.js';

/** One of the public benchmark's requests, as the exact JSON body every request carries. */
export interface PublicOperation {
  readonly name: 'big' | 'small';
  readonly description: string;
  readonly body: string;
  /** Beyond "data and no errors": the answer has the shape and the rows the benchmark expects. */
  readonly hasRows: (data: Record<string, unknown>) => boolean;
}

/**
 * The query text of a checked-in .graphql file: what follows its header (the comment lines up to
 * the first empty line), without the final newline the file adds.
 */
export function queryAfterHeader(file: string): string {
  const headerEnd = file.indexOf('\n\n');
  if (!file.startsWith('#') || headerEnd === -1) throw new Error('expected a header of # lines, then an empty line');
  return file.slice(headerEnd + 2).replace(/\n$/, '');
}

/** The benchmark's small query (its README's example of the fixed cost per request). */
export const SMALL_QUERY = '{ me { id username name } }';

const list = (value: unknown): readonly Record<string, unknown>[] => (Array.isArray(value) ? (value as Record<string, unknown>[]) : []);

/**
 * The test query answers 6 users and 5 top products; the first user is urigo, whose first review is
 * of the Table, whose reviews are the four of products.rs's first product. Enough to tell a wrong
 * plan or a wrong subgraph from a right one; the bench also requires every target's data to equal
 * the others'.
 */
function bigHasRows(data: Record<string, unknown>): boolean {
  const users = list(data.users);
  const top = list(data.topProducts);
  const firstReview = list(users[0]?.reviews)[0];
  const product = firstReview?.product as Record<string, unknown> | undefined;
  return users.length === 6 && top.length === 5 && users[0]?.username === 'urigo' && product?.name === 'Table' && list(product.reviews).length === 4;
}

export function publicOperations(): readonly PublicOperation[] {
  const testQuery = queryAfterHeader(readFileSync(join(ROOT, 'bench/public/test-query.graphql'), 'utf8'));
  return [
    {
      name: 'big',
      description: 'the public benchmark\'s TestQuery (k6.js): users and topProducts, 7 levels across the four subgraphs',
      body: JSON.stringify({ query: testQuery }),
      hasRows: bigHasRows,
    },
    {
      name: 'small',
      description: 'the small query { me { id username name } } (accounts only)',
      body: JSON.stringify({ query: SMALL_QUERY }),
      hasRows: (data) => {
        const me = data.me as Record<string, unknown> | null | undefined;
        return me?.id === '1' && me.username === 'urigo' && me.name === 'Uri Goldshtein';
      },
    },
  ];
}
