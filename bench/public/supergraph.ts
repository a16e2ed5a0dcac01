import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../processes.js';

/** The checked-in public supergraph, header comment and all. */
export const PUBLIC_SUPERGRAPH = join(ROOT, 'bench/public/supergraph.graphql');

const JOIN_GRAPH = /@join__graph\(\s*name:\s*"([^"]+)"\s*,\s*url:\s*"[^"]*"\s*\)/g;

/**
 * The supergraph with each subgraph's routing URL replaced (`@join__graph(name:, url:)`), so that
 * every target, whatever its own way of overriding URLs, reads the same file. Throws when a subgraph
 * of the supergraph has no URL given, or a URL names a subgraph the supergraph lacks.
 */
export function withSubgraphUrls(sdl: string, urls: Readonly<Record<string, string>>): string {
  const seen = new Set<string>();
  const rewritten = sdl.replace(JOIN_GRAPH, (_match, name: string) => {
    const url = urls[name];
    if (url === undefined) throw new Error(`no URL for subgraph ${name}`);
    seen.add(name);
    return `@join__graph(name: "${name}", url: "${url}")`;
  });
  const unknown = Object.keys(urls).filter((name) => !seen.has(name));
  if (unknown.length) throw new Error(`not subgraphs of the supergraph: ${unknown.join(', ')}`);
  return rewritten;
}

/** Writes the public supergraph, pointed at `urls`, to a scratch file and returns its path. */
export function writePublicSupergraph(urls: Readonly<Record<string, string>>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'dpg-bench-public-')), 'supergraph.graphql');
  writeFileSync(file, withSubgraphUrls(readFileSync(PUBLIC_SUPERGRAPH, 'utf8'), urls));
  return file;
}
