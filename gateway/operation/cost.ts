import { Kind, type ConstDirectiveNode, type DocumentNode, type ValueNode } from 'graphql';
import { directiveLocalNames, FEDERATION_URL } from '../../lib/spec-links.js';

/**
 * Static cost, as the IBM GraphQL cost specification (and Apollo's and Cosmo's demand control)
 * define it, from `@cost(weight:)` and `@listSize(...)` composed into the supergraph:
 * - a field costs its weight: `@cost` on the field, else on its type, else 1 for objects,
 *   interfaces and unions and 0 for scalars and enums; arguments add their `@cost`;
 * - a list field multiplies (weight + children) by its size: the largest slicing argument given
 *   (literal, variable or schema default), else `assumedSize`, else the default list size;
 *   with `sizedFields`, the size multiplies those child fields instead;
 * - one deliberate difference: every list item costs at least 1. The spec prices a list of scalars
 *   or enums at 0, which would make a list of a million strings free; here the cost charged is
 *   never below the number of list items an operation can return.
 */
export interface CostIndex {
  readonly fieldWeights: ReadonlyMap<string, number>;
  readonly typeWeights: ReadonlyMap<string, number>;
  /** `Type.field(arg:)` -> weight. */
  readonly argumentWeights: ReadonlyMap<string, number>;
  readonly listSizes: ReadonlyMap<string, ListSize>;
}

export interface ListSize {
  readonly assumedSize: number | undefined;
  readonly slicingArguments: readonly string[];
  readonly sizedFields: readonly string[];
}

const COST_SPEC = 'https://specs.apollo.dev/cost/';

/** Local names of the cost directives: from the cost spec (supergraphs) or federation's (subgraphs). */
function costDirectiveNames(document: DocumentNode): Map<string, 'cost' | 'listSize'> {
  const names = new Map<string, 'cost' | 'listSize'>();
  for (const directive of ['cost', 'listSize'] as const) {
    for (const spec of [COST_SPEC, FEDERATION_URL]) for (const name of directiveLocalNames(document, spec, directive)) names.set(name, directive);
  }
  return names;
}

export function indexCost(document: DocumentNode): CostIndex {
  const names = costDirectiveNames(document);
  const fieldWeights = new Map<string, number>();
  const typeWeights = new Map<string, number>();
  const argumentWeights = new Map<string, number>();
  const listSizes = new Map<string, ListSize>();
  const read = (directives: readonly ConstDirectiveNode[] | undefined, onCost: (weight: number) => void, onListSize?: (size: ListSize) => void) => {
    for (const directive of directives ?? []) {
      const kind = names.get(directive.name.value);
      if (!kind) continue;
      const args = new Map((directive.arguments ?? []).map((a) => [a.name.value, a.value]));
      if (kind === 'cost') {
        const weight = intOf(args.get('weight'));
        if (weight !== undefined) onCost(weight);
      } else {
        onListSize?.({
          assumedSize: intOf(args.get('assumedSize')),
          slicingArguments: stringsOf(args.get('slicingArguments')),
          sizedFields: stringsOf(args.get('sizedFields')),
        });
      }
    }
  };
  for (const definition of document.definitions) {
    if (!('name' in definition) || !definition.name) continue;
    const type = definition.name.value;
    if ('directives' in definition) read(definition.directives as readonly ConstDirectiveNode[], (w) => typeWeights.set(type, w));
    if ('fields' in definition && definition.fields) {
      for (const field of definition.fields) {
        const coordinate = `${type}.${field.name.value}`;
        read(field.directives, (w) => fieldWeights.set(coordinate, w), (size) => listSizes.set(coordinate, size));
        if ('arguments' in field) {
          for (const argument of field.arguments ?? []) read(argument.directives, (w) => argumentWeights.set(`${coordinate}(${argument.name.value}:)`, w));
        }
      }
    }
  }
  return { fieldWeights, typeWeights, argumentWeights, listSizes };
}

function intOf(value: ValueNode | undefined): number | undefined {
  return value?.kind === Kind.INT ? Number.parseInt(value.value, 10) : undefined;
}

function stringsOf(value: ValueNode | undefined): string[] {
  if (value?.kind === Kind.STRING) return [value.value];
  if (value?.kind !== Kind.LIST) return [];
  return value.values.flatMap((v) => (v.kind === Kind.STRING ? [v.value] : []));
}

/** How big a list is, decided per request from the operation's arguments and variables. */
export type SizeSource =
  | { readonly kind: 'fixed'; readonly size: number }
  /** The largest of these argument values (literal or variable); `fallback` when none is given. */
  | { readonly kind: 'arguments'; readonly values: readonly ({ readonly literal: number } | { readonly variable: string; readonly default: number | undefined })[]; readonly fallback: number };

/** A field in the cost plan: cached per document, evaluated per request against its variables. */
export interface CostNode {
  /** The field's own weight: `@cost` on the field, else on its type, else 1 for composite types and 0 for leaves. */
  readonly weight: number;
  /** The sum of the `@cost` of the arguments given, paid once (not per list item). */
  readonly argumentWeight: number;
  /** Present for list fields (or fields a parent's `sizedFields` names). */
  readonly size: SizeSource | undefined;
  readonly children: readonly CostNode[];
}

/** The operation's cost for these variables. Never negative, never NaN. */
export function evaluateCost(nodes: readonly CostNode[], variables: Readonly<Record<string, unknown>> | undefined): number {
  let total = 0;
  for (const node of nodes) {
    const inner = node.weight + evaluateCost(node.children, variables);
    total += node.argumentWeight + (node.size ? sizeOf(node.size, variables) * Math.max(1, inner) : inner);
  }
  return total;
}

function sizeOf(source: SizeSource, variables: Readonly<Record<string, unknown>> | undefined): number {
  if (source.kind === 'fixed') return source.size;
  let size: number | undefined;
  for (const value of source.values) {
    const n = 'literal' in value ? value.literal : (numeric(variables?.[value.variable]) ?? value.default);
    if (n !== undefined) size = Math.max(size ?? 0, n);
  }
  return Math.max(0, size ?? source.fallback);
}

function numeric(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
