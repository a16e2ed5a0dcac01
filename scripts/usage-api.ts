import { mintDevToken } from '../gateway/auth/dev-issuer.js';

/** A row of the gateway's `fieldUsage` query, as the owner tools read it. */
export interface FieldUsageRow {
  coordinate: string;
  requests: number;
  errors: number;
  rejected: number;
  lastSeen: string | null;
  deprecated: boolean;
  deprecationReason: string | null;
  clients: { name: string; version: string | null; requests: number; errors: number }[];
}

/** An operation that read a field, as the gateway's `fieldOperations` query returns it. */
export interface OperationUsageRow {
  name: string;
  hash: string | null;
  requests: number;
  lastSeen: string;
  clients: { name: string; requests: number; lastSeen: string }[];
}

/** Operations per field the owner tools ask for: the API's maximum, every client of each (its maximum too). */
const OPERATIONS_PAGE = 100;
const OPERATIONS_QUERY = /* GraphQL */ `
  query FieldOperations($coordinate: String!, $since: DateTime, $until: DateTime, $client: String) {
    fieldOperations(coordinate: $coordinate, since: $since, until: $until, client: $client, first: ${OPERATIONS_PAGE}) {
      name hash requests lastSeen
      clients(first: 100) { name requests lastSeen }
    }
  }
`;

/** Rows per page; every client of a row (the API's maximum), so a report names them all. */
const PAGE = 200;
const QUERY = /* GraphQL */ `
  query FieldUsage($product: String!, $since: DateTime, $until: DateTime, $client: String, $after: String) {
    fieldUsage(product: $product, since: $since, until: $until, client: $client, first: ${PAGE}, after: $after) {
      coordinate requests errors rejected lastSeen deprecated deprecationReason
      clients(first: 100) { name version requests errors }
    }
  }
`;

export class UsageApiError extends Error {
  override readonly name = 'UsageApiError';
}

export const DEFAULT_GATEWAY_URL = 'http://localhost:4000/graphql';

/** A token for the usage API: given, from USAGE_TOKEN, or a development owner token (development gateways only). */
export async function usageToken(given: string | undefined): Promise<string> {
  return given ?? process.env.USAGE_TOKEN ?? (await mintDevToken({ roles: ['data-product-owner'], clientId: 'owner-tools' }));
}

/** Per-field usage of one product from the gateway's usage API (the same numbers as /usage), every page of it. */
export async function fetchFieldUsage(options: Parameters<typeof fetchPage>[0]): Promise<FieldUsageRow[]> {
  const rows: FieldUsageRow[] = [];
  for (let after: string | undefined; ; ) {
    const page = await fetchPage(options, after);
    rows.push(...page);
    if (page.length < PAGE) return rows;
    after = page[page.length - 1]!.coordinate;
  }
}

interface ApiOptions {
  gateway: string;
  token: string;
  since: Date;
  until?: Date | undefined;
  client?: string | undefined;
  clientName: string;
}

async function fetchPage(options: ApiOptions & { product: string }, after: string | undefined): Promise<FieldUsageRow[]> {
  return (await call<{ fieldUsage?: FieldUsageRow[] }>(options, 'FieldUsage', QUERY, { product: options.product, after })).fieldUsage ?? [];
}

/** The operations that read one field (the most used first, at most the API's page), from the gateway's usage API. */
export async function fetchFieldOperations(options: ApiOptions & { coordinate: string }): Promise<OperationUsageRow[]> {
  return (await call<{ fieldOperations?: OperationUsageRow[] }>(options, 'FieldOperations', OPERATIONS_QUERY, { coordinate: options.coordinate })).fieldOperations ?? [];
}

async function call<T>(options: ApiOptions, operationName: string, query: string, variables: Record<string, unknown>): Promise<T> {
  let response: Response;
  try {
    response = await fetch(options.gateway, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}`, 'apollographql-client-name': options.clientName },
      body: JSON.stringify({
        query,
        operationName,
        variables: { ...variables, since: options.since.toISOString(), until: options.until?.toISOString(), client: options.client },
      }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new UsageApiError(`cannot reach the gateway at ${options.gateway} (${(error as Error).name})`);
  }
  const body = (await response.json().catch(() => ({}))) as { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length || !body.data) {
    const errors = body.errors ?? [{ message: `HTTP ${response.status}`, extensions: { code: 'INTERNAL_SERVER_ERROR' } }];
    throw new UsageApiError(errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; '));
  }
  return body.data;
}

/** `30m`, `24h`, `7d` back from now, or an ISO 8601 time. */
export function parseTime(value: string, flag: string, now = Date.now()): Date {
  const duration = /^(\d+)([mhd])$/.exec(value);
  if (duration) return new Date(now - Number(duration[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 'm' | 'h' | 'd']);
  const time = new Date(value);
  if (Number.isNaN(time.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw new RangeError(`${flag}: expected 30m, 24h, 7d or an ISO 8601 time, got "${value}"`);
  return time;
}
