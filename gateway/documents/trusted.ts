import { ManifestError, parseManifest, type Manifest, type ManifestLimits } from './manifest.js';
import type { ManifestsSnapshot } from './source.js';

/** Every client's manifests, loaded and checked: which documents exist and which client trusts which. */
export interface TrustedDocuments {
  /** The source's fingerprint: what changed between two loads. */
  readonly fingerprint: string;
  readonly manifests: readonly Manifest[];
  /** Distinct documents of all manifests. */
  readonly size: number;
  /** The text of a trusted document (of any client's manifest), by hash. */
  documentOf(hash: string): string | undefined;
  /** Whether the client's manifests (any deployed version) hold this document. */
  trusts(client: string, hash: string): boolean;
  /** Whether a client has at least one manifest. */
  hasManifest(client: string): boolean;
}

export const NO_TRUSTED_DOCUMENTS: TrustedDocuments = {
  fingerprint: 'none',
  manifests: [],
  size: 0,
  documentOf: () => undefined,
  trusts: () => false,
  hasManifest: () => false,
};

/**
 * Builds the set from a source's snapshot, all or nothing: any manifest that cannot be read, and a
 * total over `maxDocuments` (counted per manifest, as each is kept), refuses the whole snapshot.
 */
export function buildTrustedDocuments(snapshot: ManifestsSnapshot, limits: ManifestLimits & { readonly maxDocuments: number }): TrustedDocuments {
  const manifests: Manifest[] = [];
  const problems: string[] = [];
  let total = 0;
  for (const raw of snapshot.manifests) {
    try {
      const manifest = parseManifest(raw.json, raw, limits);
      total += manifest.documents.size;
      manifests.push(manifest);
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      problems.push(error.message);
    }
  }
  if (total > limits.maxDocuments) problems.push(`TRUSTED_DOCUMENTS: ${total} documents in ${manifests.length} manifests, over TRUSTED_DOCUMENTS_MAX_DOCUMENTS (${limits.maxDocuments})`);
  if (problems.length) throw new ManifestError(problems.join('\n'));
  const bodies = new Map<string, string>();
  const byClient = new Map<string, Set<string>>();
  for (const manifest of manifests) {
    let hashes = byClient.get(manifest.client);
    if (!hashes) byClient.set(manifest.client, (hashes = new Set()));
    for (const document of manifest.documents.values()) {
      bodies.set(document.hash, document.body);
      hashes.add(document.hash);
    }
  }
  return {
    fingerprint: snapshot.fingerprint,
    manifests,
    size: bodies.size,
    documentOf: (hash) => bodies.get(hash),
    trusts: (client, hash) => byClient.get(client)?.has(hash) ?? false,
    hasManifest: (client) => byClient.has(client),
  };
}
