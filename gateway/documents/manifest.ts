import { createHash } from 'node:crypto';

/** One trusted document: its hash (the SHA-256 of its text, hex), its text, and its operation's name when the manifest says. */
export interface TrustedDocument {
  readonly hash: string;
  readonly body: string;
  readonly name: string | undefined;
}

/** A client's manifest for one version of the client. */
export interface Manifest {
  readonly client: string;
  readonly version: string;
  /** Where it was read from, for messages (`dir/web/1.2.0.json`, `url#web/1.2.0`). */
  readonly where: string;
  /** By hash. */
  readonly documents: ReadonlyMap<string, TrustedDocument>;
}

export interface ManifestLimits {
  /** Bytes of one document (UTF-8). */
  readonly maxDocumentBytes: number;
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

/** Client names and versions become directory names, log fields and report lines. */
export const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;
export const CLIENT_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A document id as clients send it: `sha256:<hex>` (GraphQL over HTTP's persisted documents) or bare hex; undefined for anything else. */
export function hashOfDocumentId(id: string): string | undefined {
  const hex = id.startsWith('sha256:') ? id.slice('sha256:'.length) : id;
  return SHA256.test(hex) ? hex : undefined;
}

/**
 * Reads a manifest in any of the shapes clients' tooling writes:
 * - Apollo's `generate-persisted-query-manifest`: `{ format: "apollo-persisted-query-manifest",
 *   version: 1, operations: [{ id, name, type, body }] }`;
 * - Relay (`persistConfig` with `algorithm: "SHA256"`) and GraphQL Codegen's client preset
 *   (`persistedDocuments`): `{ "<hash>": "<document>" }`.
 * Every id must be the SHA-256 of its document (what clients send, what Apollo Server checks); a
 * document over the size limit, a wrong id or an unknown shape refuses the whole manifest, naming
 * each problem. Whether the documents validate is not decided here: that depends on the supergraph.
 */
export function parseManifest(raw: unknown, meta: { client: string; version: string; where: string }, limits: ManifestLimits): Manifest {
  const problems: string[] = [];
  const entries: { id: string; body: unknown; name: unknown }[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ManifestError(`${meta.where}: expected a JSON object (Apollo's persisted query manifest, or Relay's / GraphQL Codegen's { "<sha256>": "<document>" })`);
  }
  const object = raw as Record<string, unknown>;
  if ('format' in object || 'operations' in object) {
    if (object.format !== 'apollo-persisted-query-manifest' || object.version !== 1 || !Array.isArray(object.operations)) {
      throw new ManifestError(`${meta.where}: expected format "apollo-persisted-query-manifest", version 1 and an operations array`);
    }
    object.operations.forEach((operation: unknown, i) => {
      if (typeof operation !== 'object' || operation === null || typeof (operation as { id?: unknown }).id !== 'string') {
        problems.push(`${meta.where}: operations.${i}: expected { id, name, type, body }`);
        return;
      }
      const { id, body, name } = operation as { id: string; body?: unknown; name?: unknown };
      entries.push({ id, body, name });
    });
  } else {
    for (const [id, body] of Object.entries(object)) entries.push({ id, body, name: undefined });
  }
  const documents = new Map<string, TrustedDocument>();
  for (const { id, body, name } of entries) {
    const label = `${meta.where}: ${id.slice(0, 80)}`;
    if (typeof body !== 'string' || body.length === 0) {
      problems.push(`${label}: the document is not a non-empty string`);
      continue;
    }
    const bytes = Buffer.byteLength(body);
    if (bytes > limits.maxDocumentBytes) {
      problems.push(`${label}: the document is ${bytes} bytes, over TRUSTED_DOCUMENTS_MAX_DOCUMENT_BYTES (${limits.maxDocumentBytes})`);
      continue;
    }
    const hash = hashOfDocumentId(id);
    const actual = sha256Hex(body);
    if (hash !== actual) {
      problems.push(`${label}: the id is not the SHA-256 of its document (${actual}); generate the manifest with SHA-256 ids`);
      continue;
    }
    documents.set(hash, { hash, body, name: typeof name === 'string' && name ? name : undefined });
  }
  if (problems.length) throw new ManifestError(problems.slice(0, 20).join('\n') + (problems.length > 20 ? `\n... and ${problems.length - 20} more` : ''));
  return { client: meta.client, version: meta.version, where: meta.where, documents };
}
