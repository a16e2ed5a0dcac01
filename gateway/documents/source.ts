import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CLIENT_NAME, CLIENT_VERSION, ManifestError } from './manifest.js';

export const MANIFESTS_FETCH_TIMEOUT_MS = 10_000;
/** Largest manifest file, or URL bundle, read at all (before any document is looked at). */
export const MAX_MANIFEST_SOURCE_BYTES = 64 * 1024 * 1024;

/** A manifest as read, not yet checked. */
export interface RawManifest {
  readonly client: string;
  readonly version: string;
  readonly where: string;
  readonly json: unknown;
}

/** What a source holds now: its manifests and a fingerprint of them (equal fingerprints, equal manifests). */
export interface ManifestsSnapshot {
  readonly fingerprint: string;
  readonly manifests: readonly RawManifest[];
}

/**
 * Where trusted documents come from, configured like SUPERGRAPH: a directory, one subdirectory per
 * client and one file per version (`<dir>/<client>/<version>.json`, as an app's CI drops them), or
 * an http(s) URL answering one JSON bundle `{ "<client>": { "<version>": <manifest> } }` (polled
 * with If-None-Match, so an unchanged bundle costs a 304).
 */
export interface ManifestsSource {
  /** The manifests now, or 'unchanged' when a URL says they have not changed since the last fetch. */
  fetch(): Promise<ManifestsSnapshot | 'unchanged'>;
}

export function createManifestsSource(location: string): ManifestsSource {
  return /^https?:\/\//i.test(location) ? urlSource(location) : directorySource(resolve(location));
}

const fingerprintOf = (parts: readonly string[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
};

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ManifestError(`${where}: not valid JSON (${(error as Error).message})`);
  }
}

function directorySource(dir: string): ManifestsSource {
  return {
    async fetch() {
      let clients;
      try {
        clients = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
      } catch (error) {
        throw new ManifestError(`TRUSTED_DOCUMENTS: cannot read the directory ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      const manifests: RawManifest[] = [];
      const parts: string[] = [];
      for (const client of clients) {
        if (!CLIENT_NAME.test(client)) throw new ManifestError(`${join(dir, client)}: not a client id (letters, digits, . _ @ : -)`);
        const files = (await readdir(join(dir, client), { withFileTypes: true })).filter((e) => e.isFile() && e.name.endsWith('.json')).map((e) => e.name).sort();
        for (const file of files) {
          const version = file.slice(0, -'.json'.length);
          const where = join(dir, client, file);
          if (!CLIENT_VERSION.test(version)) throw new ManifestError(`${where}: the file name is not a version (letters, digits, . _ + -, then .json)`);
          const size = (await stat(where)).size;
          if (size > MAX_MANIFEST_SOURCE_BYTES) throw new ManifestError(`${where}: ${size} bytes, over the ${MAX_MANIFEST_SOURCE_BYTES} a manifest may have`);
          const text = await readFile(where, 'utf8');
          parts.push(client, version, text);
          manifests.push({ client, version, where, json: parseJson(text, where) });
        }
      }
      return { fingerprint: fingerprintOf(parts), manifests };
    },
  };
}

function urlSource(url: string): ManifestsSource {
  let etag: string | undefined;
  return {
    async fetch() {
      let response: Response;
      try {
        response = await fetch(url, { signal: AbortSignal.timeout(MANIFESTS_FETCH_TIMEOUT_MS), headers: etag ? { 'if-none-match': etag } : {} });
      } catch (error) {
        throw new ManifestError(`TRUSTED_DOCUMENTS: cannot fetch ${url} (${(error as Error).name})`);
      }
      if (response.status === 304 && etag) return 'unchanged';
      if (!response.ok) throw new ManifestError(`TRUSTED_DOCUMENTS: ${url} answered HTTP ${response.status}`);
      const declared = Number(response.headers.get('content-length'));
      if (Number.isFinite(declared) && declared > MAX_MANIFEST_SOURCE_BYTES) {
        await response.body?.cancel();
        throw new ManifestError(`TRUSTED_DOCUMENTS: ${url} is ${declared} bytes, over the ${MAX_MANIFEST_SOURCE_BYTES} a bundle may have`);
      }
      const text = await response.text();
      if (text.length > MAX_MANIFEST_SOURCE_BYTES) throw new ManifestError(`TRUSTED_DOCUMENTS: ${url} is over the ${MAX_MANIFEST_SOURCE_BYTES} bytes a bundle may have`);
      const bundle = parseJson(text, url);
      if (typeof bundle !== 'object' || bundle === null || Array.isArray(bundle)) throw new ManifestError(`${url}: expected { "<client>": { "<version>": <manifest> } }`);
      const manifests: RawManifest[] = [];
      for (const [client, versions] of Object.entries(bundle as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) {
        if (!CLIENT_NAME.test(client)) throw new ManifestError(`${url}: "${client.slice(0, 80)}" is not a client id (letters, digits, . _ @ : -)`);
        if (typeof versions !== 'object' || versions === null || Array.isArray(versions)) throw new ManifestError(`${url}: ${client}: expected { "<version>": <manifest> }`);
        for (const [version, json] of Object.entries(versions as Record<string, unknown>)) {
          if (!CLIENT_VERSION.test(version)) throw new ManifestError(`${url}: ${client}: "${version.slice(0, 80)}" is not a version (letters, digits, . _ + -)`);
          manifests.push({ client, version, where: `${url}#${client}/${version}`, json });
        }
      }
      etag = response.headers.get('etag') ?? undefined;
      return { fingerprint: fingerprintOf([text]), manifests };
    },
  };
}
