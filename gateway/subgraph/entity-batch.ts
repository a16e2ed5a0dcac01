import { Kind, parse, print, visit, type DocumentNode, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionNode, type VariableDefinitionNode } from 'graphql';
import type { SubgraphBody } from './entities.js';

/**
 * Entity fetch batching: the query planner fetches entities of one subgraph at several paths of a
 * plan in parallel (the products of a user's reviews and the products of the top products' authors'
 * reviews), each an `_entities` call of its own. Fetches of one client request to one subgraph that
 * start together are sent as one subgraph request: each fetch's `_entities` field under an alias
 * of its own, its variables and fragments renamed so that no two fetches' names meet, and the
 * answer split back, so that every fetch sees exactly what the subgraph would have answered it alone.
 */

/** One fetch's operation merged into a batch, and how to find its part of the answer. */
export interface MergedFetch {
  /** The alias of this fetch's `_entities` in the merged operation. */
  readonly alias: string;
  /** This fetch's variable names -> their names in the merged operation. */
  readonly variables: ReadonlyMap<string, string>;
}

export interface MergedOperation {
  /** The merged operation's text. */
  readonly query: string;
  readonly operationName: string;
  /** One per fetch, in the order given. */
  readonly fetches: readonly MergedFetch[];
}

/** Why fetches cannot be merged: the caller then sends each on its own. */
export class NotMergeable extends Error {
  override readonly name = 'NotMergeable';
}

/** The prefix of every name a batch gives: `b<index>_`. */
const prefixOf = (index: number): string => `b${index}_`;

/**
 * Merges entity fetch operations (each one query whose root is `_entities(representations:
 * $representations)` alone) into one query. Throws NotMergeable for anything else.
 */
export function mergeEntityFetches(queries: readonly string[], operationName: string): MergedOperation {
  const selections: SelectionNode[] = [];
  const variableDefinitions: VariableDefinitionNode[] = [];
  const fragments: FragmentDefinitionNode[] = [];
  const fetches: MergedFetch[] = [];
  queries.forEach((query, index) => {
    const prefix = prefixOf(index);
    const renamed = renameDocument(parseEntityFetch(query), prefix);
    const operation = renamed.definitions.find((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)!;
    const root = operation.selectionSet.selections[0] as FieldNode;
    const alias = `${prefix}entities`;
    selections.push({ ...root, alias: { kind: Kind.NAME, value: alias } });
    variableDefinitions.push(...(operation.variableDefinitions ?? []));
    for (const definition of renamed.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.push(definition);
    const variables = new Map<string, string>();
    for (const definition of operation.variableDefinitions ?? []) {
      const name = definition.variable.name.value;
      variables.set(name.slice(prefix.length), name);
    }
    fetches.push({ alias, variables });
  });
  const merged: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [
      {
        kind: Kind.OPERATION_DEFINITION,
        operation: 'query' as OperationDefinitionNode['operation'],
        name: { kind: Kind.NAME, value: operationName },
        variableDefinitions,
        directives: [],
        selectionSet: { kind: Kind.SELECTION_SET, selections },
      },
      ...fragments,
    ],
  };
  return { query: print(merged), operationName, fetches };
}

/** The batch's variables: each fetch's own, under its renamed names. */
export function mergedVariables(merged: MergedOperation, variables: readonly Readonly<Record<string, unknown>>[]): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  merged.fetches.forEach((fetch, index) => {
    const own = variables[index] ?? {};
    for (const [name, renamed] of fetch.variables) if (name in own) result[renamed] = own[name];
  });
  return result;
}

/**
 * The merged answer, split into each fetch's own: its aliased `_entities` as `_entities`, the errors
 * whose path starts at its alias with the path starting at `_entities` instead, and every error
 * that names no fetch (a request-level refusal) given to each fetch as a copy of its own. Errors
 * lose their `locations`, which point into the merged text (@apollo/gateway drops them anyway).
 * The caller sends the fetches alone instead when the merged answer has no data at all: one
 * fetch's failure must not take the others' data with it.
 */
export function splitAnswer(body: SubgraphBody, merged: MergedOperation): SubgraphBody[] {
  const byAlias = new Map<string, number>(merged.fetches.map((fetch, index) => [fetch.alias, index]));
  const own: unknown[][] = merged.fetches.map(() => []);
  const shared: unknown[] = [];
  for (const error of body.errors ?? []) {
    const path = (error as { path?: unknown }).path;
    const index = Array.isArray(path) && typeof path[0] === 'string' ? byAlias.get(path[0]) : undefined;
    const { locations: _locations, ...rest } = error as { locations?: unknown };
    if (index === undefined) shared.push(rest);
    else own[index]!.push({ ...rest, path: ['_entities', ...(path as unknown[]).slice(1)] });
  }
  const data = body.data;
  return merged.fetches.map((fetch, index) => {
    const part: SubgraphBody = {};
    if (data === null) part.data = null;
    else if (data !== undefined) part.data = { _entities: data[fetch.alias] ?? null };
    const errors = [...shared.map((error) => structuredClone(error)), ...own[index]!];
    if (errors.length > 0 || body.errors !== undefined) part.errors = errors;
    return part;
  });
}

function parseEntityFetch(query: string): DocumentNode {
  let document: DocumentNode;
  try {
    document = parse(query, { noLocation: true });
  } catch {
    throw new NotMergeable('the fetch does not parse');
  }
  const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1 || operations[0]!.operation !== 'query') throw new NotMergeable('not one query');
  const [root, ...rest] = operations[0]!.selectionSet.selections;
  if (rest.length > 0 || root?.kind !== Kind.FIELD || root.name.value !== '_entities' || root.alias) throw new NotMergeable('not an entity fetch');
  if (operations[0]!.directives?.length) throw new NotMergeable('operation directives');
  return document;
}

/** Every variable and fragment name of a document, prefixed. */
function renameDocument(document: DocumentNode, prefix: string): DocumentNode {
  return visit(document, {
    Variable: (node) => ({ ...node, name: { ...node.name, value: prefix + node.name.value } }),
    FragmentSpread: (node) => ({ ...node, name: { ...node.name, value: prefix + node.name.value } }),
    FragmentDefinition: (node) => ({ ...node, name: { ...node.name, value: prefix + node.name.value } }),
  });
}

/** Merged operations remembered; past this the memo starts over rather than grow. */
const MAX_REMEMBERED_MERGES = 500;

/** mergeEntityFetches, remembered: a plan's batches repeat with every request of one operation. */
export function createMergeMemo(): (queries: readonly string[], operationName: string | undefined) => MergedOperation {
  const remembered = new Map<string, MergedOperation>();
  return (queries, operationName) => {
    const name = `${operationName ?? 'Entities'}__batch${queries.length}`;
    const key = `${name}\0${queries.join('\0')}`;
    let merged = remembered.get(key);
    if (merged) return merged;
    merged = mergeEntityFetches(queries, name);
    if (remembered.size >= MAX_REMEMBERED_MERGES) remembered.clear();
    remembered.set(key, merged);
    return merged;
  };
}
