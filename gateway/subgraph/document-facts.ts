import { Kind, parse, type OperationTypeNode } from 'graphql';

/** What the sharing of subgraph calls needs to know about a subgraph operation's text. */
export interface SubgraphDocumentFacts {
  /** The operation's type; undefined when the text does not parse or holds no single operation (never shared). */
  readonly operation: OperationTypeNode | undefined;
  /** The operation is the query planner's entity fetch: `_entities(representations: $representations)` alone at its root. */
  readonly entityFetch: boolean;
}

/**
 * Distinct subgraph operations are the query planner's fetch nodes: as many as the plans it
 * caches, a few per client operation. Past this many the memo starts over rather than grow.
 */
const MAX_REMEMBERED = 2_000;
const UNKNOWN: SubgraphDocumentFacts = Object.freeze({ operation: undefined, entityFetch: false });

/** Facts of subgraph operation texts, each parsed once (the planner sends the same texts again and again). */
export function createDocumentFacts(): (query: string) => SubgraphDocumentFacts {
  const known = new Map<string, SubgraphDocumentFacts>();
  return (query) => {
    let facts = known.get(query);
    if (facts) return facts;
    facts = factsOf(query);
    if (known.size >= MAX_REMEMBERED) known.clear();
    known.set(query, facts);
    return facts;
  };
}

function factsOf(query: string): SubgraphDocumentFacts {
  let document;
  try {
    document = parse(query, { noLocation: true });
  } catch {
    return UNKNOWN;
  }
  const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) return UNKNOWN;
  const [operation] = operations;
  const selections = operation!.selectionSet.selections;
  const root = selections.length === 1 && selections[0]!.kind === Kind.FIELD ? selections[0] : undefined;
  const argument = root?.name.value === '_entities' && root.arguments?.length === 1 ? root.arguments[0] : undefined;
  const entityFetch = argument?.name.value === 'representations' && argument.value.kind === Kind.VARIABLE && argument.value.name.value === 'representations';
  return Object.freeze({ operation: operation!.operation, entityFetch });
}
