/** A GraphQL response as a test sees it: status, headers and the parsed body. */
export interface GraphQLResult<TData = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: TData | null;
    errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
    extensions?: Record<string, unknown>;
  };
}

export async function postGraphQL<TData = Record<string, unknown>>(
  url: string,
  query: string,
  options: { variables?: Record<string, unknown>; operationName?: string; headers?: Record<string, string>; token?: string } = {},
): Promise<GraphQLResult<TData>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables: options.variables, operationName: options.operationName }),
  });
  const text = await response.text();
  let body: GraphQLResult<TData>['body'];
  try {
    body = JSON.parse(text) as GraphQLResult<TData>['body'];
  } catch {
    throw new Error(`non-JSON response (HTTP ${response.status}): ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body };
}

/** The error codes of a response, in order. */
export function codesOf(result: GraphQLResult<unknown>): string[] {
  return (result.body.errors ?? []).map((e) => String(e.extensions?.code));
}
