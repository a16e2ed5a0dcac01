import { Kind, type ConstDirectiveNode, type DocumentNode } from 'graphql';
import type { OperationAnalysis } from '../operation/analysis.js';

/** What an operation reaches, as far as sharing its answer is concerned. */
export interface OperationReach {
  /** The data products (subgraphs) whose fields it selects. */
  readonly products: ReadonlySet<string>;
  /**
   * Its answer may depend on who asks, not only on what the caller may read: it selects a field
   * guarded by a personal-data scope or classified as personal data, a field of a subgraph the gateway answers from the caller's
   * identity (the platform API), or a field whose owner the supergraph does not name. Such an
   * answer is shared and cached within one subject only.
   */
  readonly subjectBound: boolean;
}

export interface ReachOptions {
  /** Scopes guarding personal data (PERSONAL_DATA_SCOPES). */
  readonly personalDataScopes: ReadonlySet<string>;
  /** Subgraphs whose answers may be computed from the caller's identity (the gateway's own platform subgraph). */
  readonly subjectBoundSubgraphs: ReadonlySet<string>;
  /** Fields classified as personal data (`@classification` at PII or above), whatever scope guards them. */
  readonly personalFields?: ReadonlySet<string>;
}

/**
 * Reads which subgraphs can resolve each field from the supergraph's join directives, once per
 * supergraph, and returns the reach of an operation, memoized per analysis (itself cached per
 * document): per request only a map lookup remains.
 */
export function createReach(supergraph: DocumentNode, options: ReachOptions): (analysis: OperationAnalysis) => OperationReach {
  const owners = indexOwners(supergraph);
  const memo = new WeakMap<OperationAnalysis, OperationReach>();
  return (analysis) => {
    let reach = memo.get(analysis);
    if (!reach) memo.set(analysis, (reach = reachOf(analysis, owners, options)));
    return reach;
  };
}

function reachOf(analysis: OperationAnalysis, owners: (coordinate: string) => readonly string[], options: ReachOptions): OperationReach {
  // The requirement index of the supergraph, as the analysis already resolved it per selected field.
  let subjectBound = analysis.guarded.some((field) => field.requirement.scopes.some((clause) => clause.some((set) => set.some((scope) => options.personalDataScopes.has(scope)))));
  // Each response path is selected by one field; walk them parents first.
  const byPath = new Map<string, string>();
  for (const [coordinate, paths] of analysis.coordinatePaths) {
    if (coordinate.includes('(')) continue; // an argument: its field is listed too
    if (options.personalFields?.has(coordinate)) subjectBound = true;
    for (const path of paths) byPath.set(path, coordinate);
  }
  const depth = (path: string) => path.split('.').length;
  const productOfPath = new Map<string, readonly string[]>();
  const products = new Set<string>();
  for (const path of [...byPath.keys()].sort((a, b) => depth(a) - depth(b))) {
    const candidates = owners(byPath.get(path)!);
    if (candidates.length === 0) {
      subjectBound = true; // an owner the supergraph does not name: assume the worst
      continue;
    }
    // A field several subgraphs can resolve (an entity key, a @shareable value) is resolved by the
    // subgraph already serving its parent when that one can; otherwise any of them might be asked.
    const parent = productOfPath.get(path.slice(0, Math.max(0, path.lastIndexOf('.'))));
    const chosen = candidates.length > 1 && parent ? candidates.filter((c) => parent.includes(c)) : [];
    const served = chosen.length ? chosen : candidates;
    productOfPath.set(path, served);
    for (const product of served) {
      products.add(product);
      if (options.subjectBoundSubgraphs.has(product)) subjectBound = true;
    }
  }
  return { products, subjectBound };
}

/** `Type.field` -> the subgraphs that can resolve it: its own `@join__field`s, else its type's `@join__type`s. */
function indexOwners(document: DocumentNode): (coordinate: string) => readonly string[] {
  const graphs = new Map<string, string>();
  const fieldOwners = new Map<string, readonly string[]>();
  const typeOwners = new Map<string, readonly string[]>();
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.ENUM_TYPE_DEFINITION || definition.name.value !== 'join__Graph') continue;
    for (const value of definition.values ?? []) {
      const name = stringArg(value.directives?.find((d) => d.name.value === 'join__graph'), 'name');
      if (name) graphs.set(value.name.value, name);
    }
  }
  const graphsOf = (directives: readonly ConstDirectiveNode[] | undefined, directive: string) => [
    ...new Set(
      (directives ?? [])
        .filter((d) => d.name.value === directive && !booleanArg(d, 'external'))
        .map((d) => graphs.get(enumArg(d, 'graph') ?? ''))
        .filter((g): g is string => g !== undefined),
    ),
  ];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION && definition.kind !== Kind.INTERFACE_TYPE_DEFINITION) continue;
    const type = definition.name.value;
    typeOwners.set(type, graphsOf(definition.directives, 'join__type'));
    for (const field of definition.fields ?? []) {
      const own = graphsOf(field.directives, 'join__field');
      if (own.length) fieldOwners.set(`${type}.${field.name.value}`, own);
    }
  }
  return (coordinate) => fieldOwners.get(coordinate) ?? typeOwners.get(coordinate.slice(0, coordinate.indexOf('.'))) ?? [];
}

function argOf(directive: ConstDirectiveNode | undefined, name: string) {
  return directive?.arguments?.find((a) => a.name.value === name)?.value;
}
function stringArg(directive: ConstDirectiveNode | undefined, name: string): string | undefined {
  const value = argOf(directive, name);
  return value?.kind === Kind.STRING ? value.value : undefined;
}
function enumArg(directive: ConstDirectiveNode, name: string): string | undefined {
  const value = argOf(directive, name);
  return value?.kind === Kind.ENUM ? value.value : undefined;
}
function booleanArg(directive: ConstDirectiveNode, name: string): boolean {
  const value = argOf(directive, name);
  return value?.kind === Kind.BOOLEAN && value.value;
}
