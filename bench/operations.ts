import { createHash } from 'node:crypto';

/** One operation the bench sends, as the exact JSON body every request carries. */
export interface BenchOperation {
  readonly name: string;
  readonly description: string;
  readonly body: string;
  /** The schema coordinate of its one root field: what the usage check counts (see usage-check.ts). */
  readonly rootCoordinate: string;
  /** Beyond "data and no errors": the answer has the rows the operation is meant to load. */
  readonly hasRows: (data: Record<string, unknown>) => boolean;
  /** Sent once to each target before the operation is checked and loaded (an automatic persisted query's registration). */
  readonly register?: string;
}

const LOOKUP = /* GraphQL */ `query Lookup($id: ID!) { customer(id: $id) { id name email country status } }`;
const JOIN = /* GraphQL */ `query Join { customers(first: 20) { id name transactions(first: 5) { id amount product { name price } } } }`;
const LIST = /* GraphQL */ `query List { customers(first: 100) { id name country status segments { name score } } }`;

const LOOKUP_HASH = createHash('sha256').update(LOOKUP).digest('hex');

const rows = (data: Record<string, unknown>) => (Array.isArray(data.customers) ? data.customers.length : 0);

/**
 * The operations (the lookup twice: as a document and by its persisted hash), the lookup pointed at a customer id that exists in the seeded data; the
 * pages expect full pages unless fewer customers were seeded.
 */
export function benchOperations(customerId: string, customers: number): readonly BenchOperation[] {
  return [
    {
      name: 'lookup',
      description: 'single-product lookup: customer(id) with 5 scalar fields (customer only)',
      body: JSON.stringify({ query: LOOKUP, operationName: 'Lookup', variables: { id: customerId } }),
      rootCoordinate: 'Query.customer',
      hasRows: (data) => data.customer !== null && typeof data.customer === 'object',
    },
    {
      // The lookup by its hash only (Apollo's automatic persisted queries, registered once): what a
      // client sending persisted documents costs, on both targets (bare: Apollo Server's own
      // in-memory APQ; ours: trusted documents first, then its APQ store).
      name: 'lookup-persisted',
      description: 'the lookup sent as a persisted query hash (registered once), no document text',
      body: JSON.stringify({ operationName: 'Lookup', variables: { id: customerId }, extensions: { persistedQuery: { version: 1, sha256Hash: LOOKUP_HASH } } }),
      register: JSON.stringify({ query: LOOKUP, operationName: 'Lookup', variables: { id: customerId }, extensions: { persistedQuery: { version: 1, sha256Hash: LOOKUP_HASH } } }),
      rootCoordinate: 'Query.customer',
      hasRows: (data) => data.customer !== null && typeof data.customer === 'object',
    },
    {
      name: 'join',
      description: 'cross-product join: 20 customers -> 5 transactions each -> product (customer, finance, product)',
      body: JSON.stringify({ query: JOIN, operationName: 'Join' }),
      rootCoordinate: 'Query.customers',
      hasRows: (data) => rows(data) === Math.min(20, customers),
    },
    {
      name: 'list',
      description: '100-row list page: customers(first: 100) with segments (customer only)',
      body: JSON.stringify({ query: LIST, operationName: 'List' }),
      rootCoordinate: 'Query.customers',
      hasRows: (data) => rows(data) === Math.min(100, customers),
    },
  ];
}

export interface Answer {
  ok: boolean;
  /** Why not, when not ok: the status and the start of the body. */
  problem?: string;
}

/** Sends a body once and checks for HTTP 200, `data` and no `errors`. Never throws. */
export async function sendOnce(
  url: string,
  body: string,
  headers: Readonly<Record<string, string>>,
  hasRows: (data: Record<string, unknown>) => boolean = () => true,
  timeoutMs = 5_000,
): Promise<Answer> {
  let status: number;
  let text: string;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    return { ok: false, problem: `${(error as Error).name}: ${(error as Error).message}` };
  }
  let parsed: { data?: Record<string, unknown> | null; errors?: unknown[] } | undefined;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  const problem = `HTTP ${status}: ${text.slice(0, 600)}`;
  if (status !== 200 || !parsed || parsed.errors?.length || !parsed.data) return { ok: false, problem };
  if (!hasRows(parsed.data)) return { ok: false, problem: `the answer lacks the expected rows: ${text.slice(0, 600)}` };
  return { ok: true };
}
