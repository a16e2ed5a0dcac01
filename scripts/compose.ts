import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { composeServices } from '@apollo/composition';
import { parse, type DocumentNode } from 'graphql';
import { fromPackageRoot } from '../lib/package-root.js';
import { PRODUCT_NAMES } from '../subgraphs/kit/data-product.js';
import { DEFAULT_PORTS } from '../subgraphs/config.js';
import { PLATFORM_SUBGRAPH, PLATFORM_URL } from '../subgraphs/platform/index.js';
import { classificationWarnings, formatClassificationWarning } from './classification-lint.js';
import { formatLintProblem, lintSubgraphSchema } from './schema-lint.js';

export const SUPERGRAPH_PATH = fromPackageRoot('schema', 'supergraph.graphql');

export interface CompositionResult {
  readonly supergraphSdl?: string;
  readonly errors: readonly string[];
  readonly hints: readonly string[];
}

/** Each subgraph compose composes: the products and the gateway's own platform subgraph. */
function subgraphServices(overrides: Partial<Record<string, string>>): { name: string; url: string; typeDefs: DocumentNode }[] {
  const subgraphs = [...PRODUCT_NAMES.map((name) => ({ name, url: `http://localhost:${DEFAULT_PORTS[name]}/graphql` })), { name: PLATFORM_SUBGRAPH, url: PLATFORM_URL }];
  return subgraphs.map(({ name, url }) => ({
    name,
    url,
    typeDefs: parse(overrides[name] ?? readFileSync(fromPackageRoot('schema', `${name}.graphql`), 'utf8')),
  }));
}

/**
 * Composes schema/<product>.graphql and the gateway's own platform subgraph (the usage API) with
 * @apollo/composition; routing URLs are the default local ports (the platform's: served in-process).
 */
export function composeProducts(overrides: Partial<Record<string, string>> = {}): CompositionResult {
  const result = composeServices(subgraphServices(overrides));
  const hints = (result.hints ?? []).map((hint) => `${hint.definition.code}: ${hint.message}`);
  if (result.errors) return { errors: result.errors.map((error) => error.message), hints };
  return { supergraphSdl: result.supergraphSdl, errors: [], hints };
}

/** The schema lint's problems in every subgraph, one line each: `schema/<name>.graphql: Type.field: ... [CODE]`. */
export function lintProducts(overrides: Partial<Record<string, string>> = {}): string[] {
  return subgraphServices(overrides).flatMap(({ name, typeDefs }) => lintSubgraphSchema(typeDefs).map((p) => formatLintProblem(`schema/${name}.graphql`, p)));
}

/** Fields named like personal data without a classification, in every subgraph, one line each (warnings: they never block). */
export function classificationWarningsOfProducts(overrides: Partial<Record<string, string>> = {}): string[] {
  return subgraphServices(overrides).flatMap(({ name, typeDefs }) => classificationWarnings(typeDefs).map((w) => formatClassificationWarning(`schema/${name}.graphql`, w)));
}

export interface ComposeRun {
  readonly exitCode: 0 | 1;
  /** What `npm run compose` prints on stderr (hints, errors, lint problems), one entry per line. */
  readonly stderr: readonly string[];
  readonly stdout: readonly string[];
}

/**
 * `npm run compose`: composes and lints every subgraph, and writes the supergraph to `out` only
 * when composition succeeds and no subgraph has a lint problem (the checked-in supergraph is what
 * every gateway serves: a field priced wrong or open by mistake must not reach it).
 */
export function composeToFile(out: string, overrides: Partial<Record<string, string>> = {}): ComposeRun {
  const result = composeProducts(overrides);
  const problems = lintProducts(overrides);
  const stderr = result.hints.map((hint) => `hint: ${hint}`);
  stderr.push(...classificationWarningsOfProducts(overrides).map((w) => `warning: ${w}`));
  stderr.push(...result.errors.map((error) => `error: ${error}`), ...problems);
  if (!result.supergraphSdl || problems.length > 0) {
    const counts = [result.errors.length ? `${result.errors.length} composition error(s)` : '', problems.length ? `${problems.length} schema lint problem(s)` : ''].filter(Boolean);
    stderr.push(`compose: ${counts.join(' and ')}; ${out} left unchanged`);
    return { exitCode: 1, stderr, stdout: [] };
  }
  writeFileSync(out, result.supergraphSdl);
  return { exitCode: 0, stderr, stdout: [`compose: wrote ${out}`] };
}

function main(): void {
  const run = composeToFile(SUPERGRAPH_PATH);
  for (const line of run.stderr) process.stderr.write(`${line}\n`);
  for (const line of run.stdout) process.stdout.write(`${line}\n`);
  process.exitCode = run.exitCode;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
