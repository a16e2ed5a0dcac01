import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Supergraph } from '@apollo/federation-internals';

export const SUPERGRAPH_FETCH_TIMEOUT_MS = 10_000;

export class SupergraphError extends Error {
  override readonly name = 'SupergraphError';
}

export interface LoadedSupergraph {
  readonly sdl: string;
  /** Subgraph names and routing URLs as the supergraph declares them. */
  readonly subgraphs: readonly { readonly name: string; readonly url: string }[];
}

/** The supergraph SDL from a file path or an http(s) URL, checked to be a valid Federation supergraph. */
export async function loadSupergraph(source: string): Promise<LoadedSupergraph> {
  const sdl = /^https?:\/\//i.test(source) ? await fetchSupergraph(source) : await readSupergraph(source);
  try {
    // Every linked feature is accepted here; which ones the gateway can serve is decided when it loads.
    const supergraph = Supergraph.build(sdl, { supportedFeatures: null });
    return { sdl, subgraphs: supergraph.subgraphsMetadata().map(({ name, url }) => ({ name, url })) };
  } catch (error) {
    throw new SupergraphError(`SUPERGRAPH ${source} is not a valid Federation supergraph: ${(error as Error).message}`);
  }
}

async function readSupergraph(path: string): Promise<string> {
  try {
    return await readFile(resolve(path), 'utf8');
  } catch (error) {
    throw new SupergraphError(`SUPERGRAPH: cannot read ${resolve(path)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

async function fetchSupergraph(url: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(SUPERGRAPH_FETCH_TIMEOUT_MS) });
  } catch (error) {
    throw new SupergraphError(`SUPERGRAPH: cannot fetch ${url} (${(error as Error).name})`);
  }
  if (!response.ok) throw new SupergraphError(`SUPERGRAPH: ${url} answered HTTP ${response.status}`);
  return response.text();
}
