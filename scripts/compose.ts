import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { fromPackageRoot } from '../lib/package-root.js';
import { PRODUCT_NAMES } from '../subgraphs/kit/data-product.js';
import { DEFAULT_PORTS } from '../subgraphs/config.js';
import { PLATFORM_SUBGRAPH, PLATFORM_URL } from '../subgraphs/platform/index.js';

export const SUPERGRAPH_PATH = fromPackageRoot('schema', 'supergraph.graphql');

export interface CompositionResult {
  readonly supergraphSdl?: string;
  readonly errors: readonly string[];
  readonly hints: readonly string[];
}

/**
 * Composes schema/<product>.graphql and the gateway's own platform subgraph (the usage API) with
 * @apollo/composition; routing URLs are the default local ports (the platform's: served in-process).
 */
export function composeProducts(overrides: Partial<Record<string, string>> = {}): CompositionResult {
  const subgraphs = [...PRODUCT_NAMES.map((name) => ({ name, url: `http://localhost:${DEFAULT_PORTS[name]}/graphql` })), { name: PLATFORM_SUBGRAPH, url: PLATFORM_URL }];
  const services = subgraphs.map(({ name, url }) => ({
    name,
    url,
    typeDefs: parse(overrides[name] ?? readFileSync(fromPackageRoot('schema', `${name}.graphql`), 'utf8')),
  }));
  const result = composeServices(services);
  const hints = (result.hints ?? []).map((hint) => `${hint.definition.code}: ${hint.message}`);
  if (result.errors) return { errors: result.errors.map((error) => error.message), hints };
  return { supergraphSdl: result.supergraphSdl, errors: [], hints };
}

function main(): void {
  const result = composeProducts();
  for (const hint of result.hints) process.stderr.write(`hint: ${hint}\n`);
  if (!result.supergraphSdl) {
    for (const error of result.errors) process.stderr.write(`error: ${error}\n`);
    process.stderr.write(`compose: ${result.errors.length} composition error(s); ${SUPERGRAPH_PATH} left unchanged\n`);
    process.exit(1);
  }
  writeFileSync(SUPERGRAPH_PATH, result.supergraphSdl);
  process.stdout.write(`compose: wrote ${SUPERGRAPH_PATH}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
