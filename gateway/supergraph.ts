import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Supergraph } from '@apollo/federation-internals';
import { parse, type DocumentNode } from 'graphql';

export const SUPERGRAPH_FETCH_TIMEOUT_MS = 10_000;
/** After a file event, how long the file must stay quiet before it is read. */
const FILE_SETTLE_MS = 200;

export class SupergraphError extends Error {
  override readonly name = 'SupergraphError';
}

/** A supergraph checked to be a valid Federation supergraph, parsed once. */
export interface LoadedSupergraph {
  readonly sdl: string;
  readonly document: DocumentNode;
  /** The schema version being served: the first 16 hex digits of the SDL's SHA-256. */
  readonly hash: string;
  /** Subgraph names and routing URLs as the supergraph declares them. */
  readonly subgraphs: readonly { readonly name: string; readonly url: string }[];
}

/** Checks and parses a supergraph's SDL; `where` names its source in the error. */
export function readSupergraph(sdl: string, where: string): LoadedSupergraph {
  try {
    // Every linked feature is accepted here; which ones the gateway can serve is decided when it loads.
    const supergraph = Supergraph.build(sdl, { supportedFeatures: null });
    return {
      sdl,
      document: parse(sdl),
      hash: hashOf(sdl),
      subgraphs: supergraph.subgraphsMetadata().map(({ name, url }) => ({ name, url })),
    };
  } catch (error) {
    throw new SupergraphError(`SUPERGRAPH ${where} is not a valid Federation supergraph: ${(error as Error).message}`);
  }
}

export const hashOf = (sdl: string): string => createHash('sha256').update(sdl).digest('hex').slice(0, 16);

/**
 * The supergraph from its source (a file path or an http(s) URL), checked to be a valid Federation
 * supergraph. Later checks go through the same source, so a URL's ETag carries over.
 */
export async function loadSupergraph(location: string, source: SupergraphSource = createSupergraphSource(location)): Promise<LoadedSupergraph> {
  const fetched = await source.fetch();
  if (fetched === 'unchanged') throw new SupergraphError(`SUPERGRAPH: ${location} answered 304 to a first request`);
  return readSupergraph(fetched, location);
}

/**
 * Where the supergraph comes from, asked again on change: a file (watched, and checked on a
 * schedule in case the file system's events are lost) or an http(s) URL (polled with
 * If-None-Match, so an unchanged supergraph costs a 304).
 */
export interface SupergraphSource {
  /** The SDL, or 'unchanged' when the server says it has not changed since the last fetch. */
  fetch(): Promise<string | 'unchanged'>;
  /** Calls `onChange` when the source may have changed (a file event, or each poll); returns a function that stops watching. */
  watch(onChange: () => void, intervalMs: number): () => void;
}

export function createSupergraphSource(location: string): SupergraphSource {
  return /^https?:\/\//i.test(location) ? urlSource(location) : fileSource(resolve(location));
}

function fileSource(path: string): SupergraphSource {
  return {
    async fetch() {
      try {
        return await readFile(path, 'utf8');
      } catch (error) {
        throw new SupergraphError(`SUPERGRAPH: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    },
    watch(onChange, intervalMs) {
      // The directory, not the file: `npm run compose` and editors replace the file (a new inode),
      // which a watch on the file itself would miss from then on.
      let watcher: FSWatcher | undefined;
      let settle: NodeJS.Timeout | undefined;
      try {
        watcher = watch(dirname(path), (_event, name) => {
          if (name !== null && name !== basename(path)) return;
          // One write is several events, the first while the file is still being written: act once it settles.
          clearTimeout(settle);
          settle = setTimeout(onChange, FILE_SETTLE_MS);
        });
        watcher.on('error', () => undefined); // the poll below still runs
      } catch {
        watcher = undefined; // no file events here (some network file systems): the poll does it
      }
      const timer = setInterval(onChange, jittered(intervalMs));
      timer.unref();
      return () => {
        watcher?.close();
        clearTimeout(settle);
        clearInterval(timer);
      };
    },
  };
}

function urlSource(url: string): SupergraphSource {
  let etag: string | undefined;
  return {
    async fetch() {
      let response: Response;
      try {
        response = await fetch(url, { signal: AbortSignal.timeout(SUPERGRAPH_FETCH_TIMEOUT_MS), headers: etag ? { 'if-none-match': etag } : {} });
      } catch (error) {
        throw new SupergraphError(`SUPERGRAPH: cannot fetch ${url} (${(error as Error).name})`);
      }
      if (response.status === 304 && etag) return 'unchanged';
      if (!response.ok) throw new SupergraphError(`SUPERGRAPH: ${url} answered HTTP ${response.status}`);
      const sdl = await response.text();
      etag = response.headers.get('etag') ?? undefined;
      return sdl;
    },
    watch(onChange, intervalMs) {
      // Each replica polls at a slightly different moment, so a fleet never hits the registry at once.
      let timer: NodeJS.Timeout | undefined;
      const next = () => {
        timer = setTimeout(() => {
          onChange();
          next();
        }, jittered(intervalMs));
        timer.unref();
      };
      next();
      return () => clearTimeout(timer);
    },
  };
}

/** The interval, give or take 10 %. */
function jittered(ms: number): number {
  return Math.max(1, Math.round(ms * (0.9 + Math.random() * 0.2)));
}
