import { Kind, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { indexRequirements } from '../../lib/auth-directives.js';
import { indexClassifications } from '../../lib/classification/index.js';
import { isRefused, type DeprecationIndex } from '../deprecation/index.js';
import type { OperationLimits } from '../limits/policy.js';
import { createOperationFactsCache } from '../operation/cache.js';
import { evaluateCost, indexCost } from '../operation/cost.js';
import { OperationTooLargeError } from '../operation/inline.js';
import { supportedIntrospectionRule } from '../operation/introspection-support.js';
import type { Manifest, TrustedDocument } from './manifest.js';

/** At most this many problems are kept per document (graphql-js would list every one). */
const MAX_ERRORS = 10;

/** Why a document does not run against a schema (it does not parse, or does not validate); empty when it does. */
export function documentProblems(schema: GraphQLSchema, body: string): { document: DocumentNode | undefined; errors: readonly string[] } {
  let document: DocumentNode;
  try {
    document = parse(body);
  } catch (error) {
    return { document: undefined, errors: [(error as Error).message] };
  }
  const errors = validate(schema, document, [...specifiedRules, supportedIntrospectionRule], { maxErrors: MAX_ERRORS }).map((e) => e.message);
  return { document, errors };
}

/** A trusted document that no longer runs against the schema being served. */
export interface InvalidDocument {
  readonly client: string;
  readonly version: string;
  readonly hash: string;
  readonly name: string | undefined;
  readonly errors: readonly string[];
}

/**
 * Every trusted document checked against the schema being served: those that no longer parse or
 * validate are reported (never dropped: they stay trusted, and running one answers its validation
 * errors, as it would have before the manifest was deployed).
 */
export function invalidDocuments(manifests: readonly Manifest[], schema: GraphQLSchema): InvalidDocument[] {
  const invalid: InvalidDocument[] = [];
  const seen = new Map<string, readonly string[]>();
  for (const manifest of manifests) {
    for (const document of manifest.documents.values()) {
      let errors = seen.get(document.hash);
      if (!errors) seen.set(document.hash, (errors = documentProblems(schema, document.body).errors));
      if (errors.length) invalid.push({ client: manifest.client, version: manifest.version, hash: document.hash, name: document.name, errors });
    }
  }
  return invalid;
}

/** What `npm run documents:check` says about one operation of a manifest. */
export interface OperationReport {
  readonly hash: string;
  /** The operation's name (anonymous operations: undefined). */
  readonly name: string | undefined;
  /** Parse and validation errors, structural limits exceeded, sunset fields: any of them blocks the deployment. */
  readonly blocking: readonly string[];
  /** Static cost with the variables' defaults (lists without a size at their default size). */
  readonly cost: number | undefined;
  /** Deprecated fields and arguments it reads, with their sunset date when they have one (not yet past). */
  readonly deprecated: readonly { readonly coordinate: string; readonly reason: string; readonly sunset: string | undefined; readonly replacement: string | undefined }[];
}

export interface CheckContext {
  readonly schema: GraphQLSchema;
  /** The supergraph the schema comes from: its prices and rules. */
  readonly supergraph: DocumentNode;
  readonly deprecations: DeprecationIndex;
  readonly limits: OperationLimits;
  readonly now: number;
}

/** Checks each operation of each document of a manifest as the gateway would price and gate it. */
export function checkManifest(manifest: Manifest, context: CheckContext): OperationReport[] {
  const facts = createOperationFactsCache(indexRequirements(context.supergraph), indexCost(context.supergraph), context.limits, indexClassifications(context.supergraph));
  const reports: OperationReport[] = [];
  for (const trusted of manifest.documents.values()) reports.push(...checkDocument(trusted, context, facts));
  return reports;
}

function checkDocument(trusted: TrustedDocument, context: CheckContext, facts: ReturnType<typeof createOperationFactsCache>): OperationReport[] {
  const { document, errors } = documentProblems(context.schema, trusted.body);
  if (!document || errors.length) return [{ hash: trusted.hash, name: trusted.name, blocking: [...errors], cost: undefined, deprecated: [] }];
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  return operations.map((operation) => {
    const name = operation.name?.value;
    const blocking: string[] = [];
    let analysis;
    try {
      analysis = facts.factsOf(context.schema, document, operations.length > 1 ? name : undefined);
    } catch (error) {
      if (!(error instanceof OperationTooLargeError)) throw error;
      return { hash: trusted.hash, name, blocking: [`over operation.maxFields: ${error.message}`], cost: undefined, deprecated: [] };
    }
    const { limits } = context;
    if (analysis.depth > limits.maxDepth) blocking.push(`depth ${analysis.depth} is over operation.maxDepth (${limits.maxDepth})`);
    if (analysis.aliases > limits.maxAliases) blocking.push(`${analysis.aliases} aliases, over operation.maxAliases (${limits.maxAliases})`);
    if (analysis.directives > limits.maxDirectives) blocking.push(`${analysis.directives} directives, over operation.maxDirectives (${limits.maxDirectives})`);
    const cost = evaluateCost(analysis.cost, {});
    if (cost > limits.maxCost) blocking.push(`cost ${cost} is over operation.maxCost (${limits.maxCost})`);
    const deprecated: OperationReport['deprecated'][number][] = [];
    for (const coordinate of analysis.coordinates) {
      const deprecation = context.deprecations.get(coordinate);
      if (!deprecation) continue;
      if (isRefused(deprecation.sunset, context.now)) {
        blocking.push(`reads ${coordinate}, refused since its sunset ${deprecation.sunset!.date.toISOString().slice(0, 10)} (FIELD_SUNSET)${deprecation.sunset!.replacement ? `: use ${deprecation.sunset!.replacement}` : ''}`);
        continue;
      }
      deprecated.push({ coordinate, reason: deprecation.reason, sunset: deprecation.sunset?.date.toISOString().slice(0, 10), replacement: deprecation.sunset?.replacement });
    }
    return { hash: trusted.hash, name, blocking, cost, deprecated };
  });
}
