import {
  execute,
  Kind,
  visit,
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
} from 'graphql';
import type { OperationAnalysis } from '../operation/analysis.js';

/** How an operation that selects `__schema` or `__type` is answered from the caller's view. */
export interface IntrospectionSplit {
  /** What the view answers: the root introspection fields, or the whole operation when it selects nothing else. */
  readonly local: DocumentNode;
  /** The root `__schema`/`__type` selections @apollo/gateway must not see (empty when nothing is left for it). */
  readonly removed: ReadonlySet<FieldNode>;
  /** Whether data fields remain for @apollo/gateway to plan (else the view answers everything, `__typename` included). */
  readonly remote: boolean;
  /** The root response keys in the order the operation asks for them: the two answers are merged in it. */
  readonly keys: readonly string[];
}

const INTROSPECTION_FIELDS: ReadonlySet<string> = new Set(['__schema', '__type']);

/**
 * Splits an operation (fragments inlined by the analysis) into its root introspection and the rest,
 * once per analysis. Only root fields introspect (`__schema`, `__type`); `__typename` stays with
 * the data it sits beside, and is answered locally only when nothing else is asked.
 */
export function createIntrospectionSplitter(): (analysis: OperationAnalysis) => IntrospectionSplit {
  const splits = new WeakMap<OperationAnalysis, IntrospectionSplit>();
  return (analysis) => {
    let split = splits.get(analysis);
    if (!split) splits.set(analysis, (split = splitOf(analysis.operation)));
    return split;
  };
}

function splitOf(operation: OperationDefinitionNode): IntrospectionSplit {
  const removed = new Set<FieldNode>();
  const keys: string[] = [];
  let remote = false;
  /** The selections answered locally, inline fragments (with their @skip/@include) kept around them. */
  const localOf = (selections: readonly SelectionNode[]): SelectionNode[] => {
    const local: SelectionNode[] = [];
    for (const selection of selections) {
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        if (!keys.includes(key)) keys.push(key);
        if (INTROSPECTION_FIELDS.has(selection.name.value)) {
          removed.add(selection);
          local.push(selection);
        } else if (selection.name.value !== '__typename') remote = true;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const inner = localOf(selection.selectionSet.selections);
        if (inner.length) local.push({ ...selection, selectionSet: { ...selection.selectionSet, selections: inner } });
      }
    }
    return local;
  };
  const selections = localOf(operation.selectionSet.selections);
  if (!remote) return { local: documentOf(operation), removed: new Set(), remote, keys };
  return { local: documentOf({ ...operation, selectionSet: { ...operation.selectionSet, selections } }), removed, remote, keys };
}

/** One operation, declaring only the variables it uses (the view may lack the types of the others). */
function documentOf(operation: OperationDefinitionNode): DocumentNode {
  const used = new Set<string>();
  visit(operation.selectionSet, { Variable: (node) => void used.add(node.name.value) });
  const variableDefinitions = (operation.variableDefinitions ?? []).filter((d) => used.has(d.variable.name.value));
  return { kind: Kind.DOCUMENT, definitions: [{ ...operation, variableDefinitions }] };
}

/**
 * Executes the local part against the caller's view: graphql-js's own introspection resolvers, so a
 * type outside the view is absent (`__type(name:)` answers null, as for a name that does not
 * exist). The variables are the request's, already coerced against the full schema; introspection
 * only takes built-in scalars, which every view has.
 */
export async function executeIntrospection(view: GraphQLSchema, split: IntrospectionSplit, variables: Readonly<Record<string, unknown>> | undefined): Promise<ExecutionResult> {
  return execute({ schema: view, document: split.local, variableValues: variables });
}

/**
 * The data of the view's answer and of @apollo/gateway's, as one object in the order the operation
 * asked for its root fields. Null data from either side (a non-null root field failed) is null.
 */
export function mergeData(
  keys: readonly string[],
  local: Readonly<Record<string, unknown>> | null | undefined,
  remote: Readonly<Record<string, unknown>> | null | undefined,
): Record<string, unknown> | null {
  if (!local || !remote) return null;
  const merged: Record<string, unknown> = {};
  for (const key of keys) {
    if (key in local) merged[key] = local[key];
    else if (key in remote) merged[key] = remote[key];
  }
  // Anything the operation did not name at its root (nothing, today) is kept rather than lost.
  for (const [key, value] of Object.entries(remote)) if (!(key in merged)) merged[key] = value;
  return merged;
}
