// One of the public benchmark's subgraphs (bench/public/subgraphs.ts) on plain node:http, in its own
// process: `SUBGRAPH=accounts|inventory|products|reviews PORT=n node --import tsx bench/public/subgraph-server.ts`.
//
// POST (any path): a GraphQL request, answered as JSON; each one is counted, since each is one call a
// gateway made. GET /requests: `{"requests": <POSTs so far>}`, which the bench reads before and after
// every load run to report subgraph calls per gateway request. Lean on purpose (no framework, each
// distinct document parsed and validated once), so that the gateways, not the subgraphs, are measured;
// the benchmark's own subgraphs are Rust and cost next to nothing.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execute, GraphQLError, parse, validate, type DocumentNode, type ExecutionResult } from 'graphql';
import { isPublicSubgraph, publicSubgraphSchema } from './subgraphs.js';

const name = process.env.SUBGRAPH ?? '';
if (!isPublicSubgraph(name)) {
  process.stderr.write(`SUBGRAPH must be accounts, inventory, products or reviews, got "${name}"\n`);
  process.exit(2);
}
const schema = publicSubgraphSchema(name);

/** Gateways send the same few documents over and over: parse and validate each once (bounded). */
const MAX_DOCUMENTS = 1_000;
const documents = new Map<string, DocumentNode | readonly GraphQLError[]>();

function documentOf(query: string): DocumentNode | readonly GraphQLError[] {
  let document = documents.get(query);
  if (document) return document;
  try {
    const parsed = parse(query);
    const errors = validate(schema, parsed);
    document = errors.length ? errors : parsed;
  } catch (error) {
    document = [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
  }
  if (documents.size >= MAX_DOCUMENTS) documents.clear();
  documents.set(query, document);
  return document;
}

interface GraphQLRequestBody {
  query?: unknown;
  variables?: unknown;
  operationName?: unknown;
}

let requests = 0;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function answer(text: string): Promise<{ status: number; body: ExecutionResult }> {
  let request: GraphQLRequestBody;
  try {
    request = JSON.parse(text) as GraphQLRequestBody;
  } catch {
    return { status: 400, body: { errors: [new GraphQLError('the body is not JSON')] } };
  }
  if (typeof request.query !== 'string') return { status: 400, body: { errors: [new GraphQLError('no query')] } };
  const document = documentOf(request.query);
  if (!('kind' in document)) return { status: 400, body: { errors: document } };
  const result = await execute({
    schema,
    document,
    variableValues: (request.variables ?? undefined) as Record<string, unknown> | undefined,
    operationName: typeof request.operationName === 'string' ? request.operationName : undefined,
  });
  return { status: 200, body: result };
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/requests') return send(res, 200, { requests });
  if (req.method === 'GET' && req.url === '/healthz') return send(res, 200, { ok: true });
  if (req.method !== 'POST') return send(res, 405, { errors: [{ message: 'POST a GraphQL request' }] });
  requests += 1;
  readBody(req)
    .then(answer)
    .then(
      ({ status, body }) => send(res, status, body),
      (error: unknown) => send(res, 500, { errors: [{ message: (error as Error).message }] }),
    );
});
// Gateways keep connections alive; Node's default 5 s keep-alive timeout would make them reconnect mid-round.
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'subgraph listening', product: name, url: `http://127.0.0.1:${port}/${name}` })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
