import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { loadConfig } from '../gateway/config.js';
import { ManifestError, parseManifest } from '../gateway/documents/manifest.js';
import { DEFAULT_OPERATIONS_POLICY_FILE, loadOperationsPolicy, OperationsPolicyError, parseOperationsPolicy } from '../gateway/documents/policy.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { ANONYMOUS, type Principal } from '../lib/principal.js';
import { createLogger } from '../lib/logger.js';
import { postGraphQL, type GraphQLResult } from './helpers/http.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

/*
 * Trusted documents and safelisting, end to end over real HTTP: a trusted-only client runs the
 * documents of its manifest (by hash over POST and GET, by documentId, in full) and nothing else,
 * refused before anything is parsed; an open client is unaffected; a new manifest is served without
 * a restart; a document that no longer validates is reported and kept.
 */
const silent = createLogger('test', 'silent');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const TITLES = 'query Titles { books { id title } }';
const RATINGS = 'query Ratings { books { id rating } }';
const BROKEN = 'query Broken { books { id isbn } }';
const BOOKS = [
  { id: '1', title: 'Dune' },
  { id: '2', title: 'Emma' },
];

let toy: Toy;
let gateway: RunningGateway;
let manifests: string;
let webApp: string;
let notebook: string;
const cleanup: (() => Promise<void>)[] = [];

function apolloManifest(bodies: readonly string[]): string {
  return JSON.stringify({
    format: 'apollo-persisted-query-manifest',
    version: 1,
    operations: bodies.map((body) => ({ id: sha256(body), name: /query (\w+)/.exec(body)?.[1], type: 'query', body })),
  });
}

function writeManifest(dir: string, client: string, version: string, text: string): void {
  mkdirSync(join(dir, client), { recursive: true });
  writeFileSync(join(dir, client, `${version}.json`), text);
}

function policyFile(clients: Record<string, string>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'dpg-ops-')), 'operations.yaml');
  writeFileSync(file, `default: { production: open, development: open }\nclients: ${JSON.stringify(clients)}\n`);
  return file;
}

async function start(env: Record<string, string>): Promise<RunningGateway> {
  const started = await startGateway(loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: toy.supergraphPath, TRUSTED_DOCUMENTS_POLL_MS: '0', ...env }), silent);
  cleanup.push(() => started.stop());
  return started;
}

async function byHash(url: string, hash: string, token: string): Promise<GraphQLResult> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as GraphQLResult['body'] };
}

async function get(url: string, params: Record<string, string>, headers: Record<string, string>): Promise<GraphQLResult> {
  const response = await fetch(`${url}?${new URLSearchParams(params).toString()}`, { headers: { accept: 'application/json', ...headers } });
  return { status: response.status, headers: response.headers, body: (await response.json()) as GraphQLResult['body'] };
}

beforeAll(async () => {
  toy = await startToySubgraphs();
  manifests = mkdtempSync(join(tmpdir(), 'dpg-manifests-'));
  writeManifest(manifests, 'web-app', '1.0.0', apolloManifest([TITLES, BROKEN]));
  gateway = await start({ TRUSTED_DOCUMENTS: manifests, OPERATIONS_POLICY_FILE: policyFile({ 'web-app': 'trusted-only', notebook: 'open' }) });
  webApp = await mintDevToken({ roles: [], clientId: 'web-app' });
  notebook = await mintDevToken({ roles: [], clientId: 'notebook' });
});
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
  await toy?.stop();
});

const notTrusted = { status: 403, body: { errors: [{ message: expect.any(String), extensions: { code: 'OPERATION_NOT_TRUSTED' } }] } };
const notFound = { status: 200, body: { errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] } };

describe('a trusted-only client', () => {
  it('runs a document of its manifest by hash (POST), by GET, by documentId and in full', async () => {
    const hash = sha256(TITLES);
    const expected = { status: 200, body: { data: { books: BOOKS } } };
    expect(await byHash(gateway.url, hash, webApp)).toMatchObject(expected);
    const preflight = { authorization: `Bearer ${webApp}`, 'apollo-require-preflight': 'true' };
    const viaGet = await get(gateway.url, { extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: hash } }) }, preflight);
    expect(viaGet).toMatchObject(expected);
    expect(viaGet.body).toEqual({ data: { books: BOOKS } });
    expect(await get(gateway.url, { documentId: `sha256:${hash}` }, preflight)).toMatchObject(expected);
    const viaDocumentId = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${webApp}` }, body: JSON.stringify({ documentId: hash }) });
    expect({ status: viaDocumentId.status, body: await viaDocumentId.json() }).toEqual(expected);
    const full = await postGraphQL(gateway.url, TITLES, { token: webApp });
    expect({ status: full.status, body: full.body }).toEqual(expected);
  });

  it('keeps Apollo Server\'s CSRF prevention on GET: without a preflight header the request is refused', async () => {
    const result = await get(gateway.url, { documentId: `sha256:${sha256(TITLES)}` }, { authorization: `Bearer ${webApp}` });
    expect(result).toMatchObject({ status: 400, body: { errors: [{ extensions: { code: 'BAD_REQUEST' } }] } });
    expect(result.body.errors).toHaveLength(1);
  });

  it('is refused any other document before it is parsed or analysed: nothing reaches the data products', async () => {
    const calls = toy.booksCalls();
    const other = await postGraphQL(gateway.url, '{ books { id title } }', { token: webApp });
    expect({ status: other.status, body: other.body }).toEqual(notTrusted);
    // Not even parsed: a document with a syntax error gets the same answer, not GRAPHQL_PARSE_FAILED.
    const broken = await postGraphQL(gateway.url, '{ books { ', { token: webApp });
    expect({ status: broken.status, body: broken.body }).toEqual(notTrusted);
    const unknown = await byHash(gateway.url, sha256('{ books { id } }'), webApp);
    expect({ status: unknown.status, body: unknown.body }).toEqual(notFound);
    expect(unknown.headers.get('cache-control')).toBe('private, no-cache, must-revalidate');
    // A batch is refused whole when one of its operations is not trusted.
    const batch = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${webApp}` },
      body: JSON.stringify([{ query: TITLES }, { query: '{ books { id } }' }]),
    });
    expect({ status: batch.status, body: await batch.json() }).toEqual(notTrusted);
    expect(toy.booksCalls()).toBe(calls);
  });

  it('a registration by an open client does not make a document trusted for it', async () => {
    const query = '{ books { title } }';
    const registered = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${notebook}` },
      body: JSON.stringify({ query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } } }),
    });
    expect(registered.status).toBe(200);
    const hit = await byHash(gateway.url, sha256(query), notebook);
    expect({ status: hit.status, body: hit.body }).toEqual({ status: 200, body: { data: { books: [{ title: 'Dune' }, { title: 'Emma' }] } } });
    const refused = await byHash(gateway.url, sha256(query), webApp);
    expect({ status: refused.status, body: refused.body }).toEqual(notFound);
  });
});

describe('an open client', () => {
  it('runs any document, and trusted documents by hash too; anonymous callers get the mode\'s default (development: open)', async () => {
    const any = await postGraphQL(gateway.url, '{ books { id } }', { token: notebook });
    expect({ status: any.status, body: any.body }).toEqual({ status: 200, body: { data: { books: [{ id: '1' }, { id: '2' }] } } });
    expect(await byHash(gateway.url, sha256(TITLES), notebook)).toMatchObject({ status: 200, body: { data: { books: BOOKS } } });
    const anonymous = await postGraphQL(gateway.url, '{ books { id } }');
    expect(anonymous.status).toBe(200);
    // The header names a client but proves nothing: a trusted-only token stays trusted-only.
    const claimed = await postGraphQL(gateway.url, '{ books { id } }', { token: webApp, headers: { 'apollographql-client-name': 'notebook' } });
    expect({ status: claimed.status, body: claimed.body }).toEqual(notTrusted);
  });
});

describe('automatic persisted queries in memory', () => {
  it('a document over APQ_MAX_DOCUMENT_BYTES runs but is not registered; APQ=off registers nothing, trusted documents still answer by hash', async () => {
    const query = '{ books { id title } }';
    const register = { query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } } };
    const dir = mkdtempSync(join(tmpdir(), 'dpg-manifests-'));
    writeManifest(dir, 'web-app', '1.0.0', apolloManifest([TITLES]));
    const settings: Record<string, string>[] = [{ APQ_MAX_DOCUMENT_BYTES: String(query.length - 1) }, { APQ: 'off' }];
    for (const env of settings) {
      const gw = await start({ TRUSTED_DOCUMENTS: dir, ...env });
      const sent = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(register) });
      expect({ status: sent.status, body: await sent.json() }).toEqual({ status: 200, body: { data: { books: BOOKS } } });
      expect((await byHash(gw.url, sha256(query), notebook)).body).toEqual(notFound.body);
      expect(await byHash(gw.url, sha256(TITLES), notebook)).toMatchObject({ status: 200, body: { data: { books: BOOKS } } });
    }
  });
});

describe('manifests', () => {
  it('a document that does not validate against the supergraph is reported, and kept (it answers its validation error)', async () => {
    expect(gateway.trustedDocuments()).toEqual({
      fingerprint: expect.any(String),
      documents: 2,
      invalid: [{ client: 'web-app', version: '1.0.0', hash: sha256(BROKEN), name: 'Broken', errors: ['Cannot query field "isbn" on type "Book".'] }],
    });
    const result = await byHash(gateway.url, sha256(BROKEN), webApp);
    expect(result).toMatchObject({ status: 400, body: { errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] } });
  });

  it('a new supergraph that breaks a trusted document: the document is reported, the supergraph served', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpg-manifests-'));
    writeManifest(dir, 'web-app', '1.0.0', apolloManifest([TITLES, RATINGS]));
    const supergraphFile = join(dir, 'supergraph.graphql');
    copyFileSync(toy.supergraphPath, supergraphFile);
    const reloading = await start({ SUPERGRAPH: supergraphFile, SUPERGRAPH_POLL_MS: '0', TRUSTED_DOCUMENTS: dir });
    expect(reloading.trustedDocuments()).toMatchObject({ documents: 2, invalid: [] });
    // The books product renames Book.title.
    const link = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])';
    const composed = composeServices([
      { name: 'books', url: toy.urls.books, typeDefs: parse(`${link}\ntype Book @key(fields: "id") { id: ID! name: String! }\ntype Query { books: [Book!]! }`) },
      { name: 'reviews', url: toy.urls.reviews, typeDefs: parse(`${link}\ntype Book @key(fields: "id") { id: ID! rating: Float }`) },
    ]);
    writeFileSync(supergraphFile, composed.supergraphSdl!);
    expect(await reloading.reloadSupergraph()).toMatchObject({ outcome: 'applied' });
    expect(reloading.trustedDocuments().invalid).toEqual([{ client: 'web-app', version: '1.0.0', hash: sha256(TITLES), name: 'Titles', errors: ['Cannot query field "title" on type "Book".'] }]);
  });

  it('a new version\'s manifest is served without a restart; every deployed version counts', async () => {
    expect((await byHash(gateway.url, sha256(RATINGS), webApp)).body).toEqual(notFound.body);
    // Relay's / GraphQL Codegen's shape: { "<sha256>": "<document>" }.
    writeManifest(manifests, 'web-app', '1.1.0', JSON.stringify({ [sha256(RATINGS)]: RATINGS, [sha256(TITLES)]: TITLES }));
    const reloaded = await gateway.reloadDocuments();
    expect(reloaded).toEqual({ outcome: 'applied', fingerprint: expect.any(String), documents: 3, invalid: [expect.objectContaining({ hash: sha256(BROKEN) })] });
    expect(await byHash(gateway.url, sha256(RATINGS), webApp)).toMatchObject({ status: 200, body: { data: { books: [{ id: '1', rating: 4.5 }, { id: '2', rating: 5.5 }] } } });
    expect(await byHash(gateway.url, sha256(BROKEN), webApp)).toMatchObject({ status: 400 });
    expect(await gateway.reloadDocuments()).toMatchObject({ outcome: 'unchanged', documents: 3 });
  });

  it('a manifest that cannot be trusted is refused on reload, naming the problem; the current documents stay', async () => {
    writeManifest(manifests, 'web-app', '9.9.9', JSON.stringify({ [sha256('{ a }')]: '{ b }' }));
    const refused = await gateway.reloadDocuments();
    expect(refused).toEqual({ outcome: 'refused', reason: expect.stringContaining('the id is not the SHA-256 of its document') });
    expect(await byHash(gateway.url, sha256(TITLES), webApp)).toMatchObject({ status: 200 });
  });

  it('from a URL: one bundle of every client\'s manifests, polled with If-None-Match', async () => {
    let bundle = JSON.stringify({ 'web-app': { '1.0.0': JSON.parse(apolloManifest([TITLES])) as unknown } });
    const conditional: (string | undefined)[] = [];
    const registry = createServer((req, res) => {
      const etag = `"${sha256(bundle).slice(0, 8)}"`;
      conditional.push(req.headers['if-none-match']);
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', etag }).end(bundle);
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => registry.close(() => resolve())));
    const address = registry.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/manifests.json`;
    const fromUrl = await start({ TRUSTED_DOCUMENTS: url, OPERATIONS_POLICY_FILE: policyFile({ 'web-app': 'trusted-only' }) });
    expect(await byHash(fromUrl.url, sha256(TITLES), webApp)).toMatchObject({ status: 200, body: { data: { books: BOOKS } } });
    expect(await fromUrl.reloadDocuments()).toMatchObject({ outcome: 'unchanged', documents: 1 });
    bundle = JSON.stringify({ 'web-app': { '1.0.0': JSON.parse(apolloManifest([TITLES])) as unknown, '1.1.0': { [sha256(RATINGS)]: RATINGS } } });
    expect(await fromUrl.reloadDocuments()).toMatchObject({ outcome: 'applied', documents: 2, invalid: [] });
    expect(await byHash(fromUrl.url, sha256(RATINGS), webApp)).toMatchObject({ status: 200 });
    expect(conditional).toEqual([undefined, `"${sha256(JSON.stringify({ 'web-app': { '1.0.0': JSON.parse(apolloManifest([TITLES])) as unknown } })).slice(0, 8)}"`, expect.any(String)]);
  });

  it('reads the shapes clients\' tooling writes, and names what is wrong with the others', () => {
    const meta = { client: 'web-app', version: '1.0.0', where: 'm.json' };
    const limits = { maxDocumentBytes: 1024 };
    const entry = { hash: sha256(TITLES), body: TITLES };
    expect([...parseManifest(JSON.parse(apolloManifest([TITLES])), meta, limits).documents.values()]).toEqual([{ ...entry, name: 'Titles' }]);
    // Relay (SHA256) and GraphQL Codegen: bare hex, or the "sha256:" prefix of GraphQL over HTTP's documentId.
    expect([...parseManifest({ [sha256(TITLES)]: TITLES }, meta, limits).documents.values()]).toEqual([{ ...entry, name: undefined }]);
    expect([...parseManifest({ [`sha256:${sha256(TITLES)}`]: TITLES }, meta, limits).documents.values()]).toEqual([{ ...entry, name: undefined }]);
    expect(() => parseManifest({ format: 'apollo-persisted-query-manifest', version: 2, operations: [] }, meta, limits)).toThrow('m.json: expected format "apollo-persisted-query-manifest", version 1 and an operations array');
    expect(() => parseManifest([TITLES], meta, limits)).toThrow(ManifestError);
    expect(() => parseManifest({ [sha256(TITLES)]: 42 }, meta, limits)).toThrow('the document is not a non-empty string');
  });

  it('bounds: more documents than TRUSTED_DOCUMENTS_MAX_DOCUMENTS, or a larger one, stop the start with a clear message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpg-manifests-'));
    writeManifest(dir, 'web-app', '1.0.0', apolloManifest([TITLES, RATINGS]));
    await expect(start({ TRUSTED_DOCUMENTS: dir, TRUSTED_DOCUMENTS_MAX_DOCUMENTS: '1' })).rejects.toThrow(ManifestError);
    await expect(start({ TRUSTED_DOCUMENTS: dir, TRUSTED_DOCUMENTS_MAX_DOCUMENTS: '1' })).rejects.toThrow(/2 documents in 1 manifests, over TRUSTED_DOCUMENTS_MAX_DOCUMENTS \(1\)/);
    await expect(start({ TRUSTED_DOCUMENTS: dir, TRUSTED_DOCUMENTS_MAX_DOCUMENT_BYTES: '20' })).rejects.toThrow(/over TRUSTED_DOCUMENTS_MAX_DOCUMENT_BYTES \(20\)/);
  });
});

describe('policies/operations.yaml', () => {
  const client = (clientId: string | undefined): Principal => ({ kind: 'authenticated', issuer: 'https://idp.test', subject: 's', clientId, roles: new Set(), scopes: new Set() });

  it('ships open in both modes: no client that worked before is refused after an upgrade', () => {
    for (const mode of ['development', 'production'] as const) {
      const shipped = loadOperationsPolicy(DEFAULT_OPERATIONS_POLICY_FILE, mode);
      expect([shipped.policyOf(ANONYMOUS), shipped.policyOf(client('web-portal')), shipped.policyOf(client(undefined))]).toEqual(['open', 'open', 'open']);
    }
  });

  it('keys on the token\'s client id; the mode\'s default covers the rest, anonymous callers and tokens without one', () => {
    const raw = { default: { production: 'trusted-only', development: 'open' }, clients: { notebooks: 'open', 'web-portal': 'trusted-only' } };
    const production = parseOperationsPolicy(raw, 'ops.yaml', 'production');
    expect([production.policyOf(client('notebooks')), production.policyOf(client('web-portal')), production.policyOf(client('other')), production.policyOf(client(undefined)), production.policyOf(ANONYMOUS)]).toEqual([
      'open',
      'trusted-only',
      'trusted-only',
      'trusted-only',
      'trusted-only',
    ]);
    expect(production.trustedOnly).toEqual(['web-portal']);
    // Client ids are looked up as data, never as object keys.
    expect(parseOperationsPolicy(raw, 'ops.yaml', 'development').policyOf(client('__proto__'))).toBe('open');
  });

  it('names the file and the entry of a mistake', () => {
    expect(() => parseOperationsPolicy({ default: { production: 'closed', development: 'open' } }, 'ops.yaml', 'production')).toThrow(OperationsPolicyError);
    expect(() => parseOperationsPolicy({ default: { production: 'open', development: 'open' }, clients: { web: 'strict' } }, 'ops.yaml', 'production')).toThrow(/^ops\.yaml: clients\.web: /);
  });
});
