/**
 * Entity representation deduplication: the query planner sends one representation per entity it
 * reached, so a list where the same product appears twenty times asks the product subgraph for it
 * twenty times. Each distinct representation is sent once and the answers are fanned back out to
 * the original positions, errors included, so that @apollo/gateway sees exactly what a subgraph
 * answering every representation on its own would have sent.
 */

/** How a representation list maps onto its distinct members. */
export interface RepresentationPlan {
  /** The distinct representations, in order of first appearance: what is sent. */
  readonly distinct: readonly unknown[];
  /** For each original position, the index of its representation in `distinct`. */
  readonly distinctOf: readonly number[];
}

/** A subgraph's answer as parsed JSON: only the parts fanned out are typed. */
export interface SubgraphBody {
  data?: { _entities?: unknown; [field: string]: unknown } | null;
  errors?: unknown[];
  [key: string]: unknown;
}

/** Undefined when every representation is distinct: the list is sent as it is and nothing is fanned out. */
export function planRepresentations(representations: readonly unknown[]): RepresentationPlan | undefined {
  const indexByKey = new Map<string, number>();
  const distinct: unknown[] = [];
  const distinctOf = new Array<number>(representations.length);
  for (let i = 0; i < representations.length; i++) {
    const key = canonicalJson(representations[i]);
    let index = indexByKey.get(key);
    if (index === undefined) {
      index = distinct.length;
      indexByKey.set(key, index);
      distinct.push(representations[i]);
    }
    distinctOf[i] = index;
  }
  return distinct.length === representations.length ? undefined : { distinct, distinctOf };
}

/**
 * The answer to the distinct representations, turned into the answer to the original list:
 * `_entities` in the original order (a repeated entity is a deep copy, since @apollo/gateway merges
 * later fetches into each entity object), and every error whose path is `_entities.<i>...` once per
 * original position of representation i, with that position in its path, ordered by position (a
 * subgraph resolves representations in order). Errors without an entity index are kept as they are,
 * first. An answer that does not have one entity per distinct representation is returned unchanged:
 * @apollo/gateway refuses it as it would have refused the subgraph's.
 */
export function fanOutEntities(body: SubgraphBody, plan: RepresentationPlan): SubgraphBody {
  const received = body.data?._entities;
  if (received !== undefined && received !== null && (!Array.isArray(received) || received.length !== plan.distinct.length)) return body;
  const positions: number[][] = plan.distinct.map(() => []);
  plan.distinctOf.forEach((index, position) => positions[index]!.push(position));
  const result: SubgraphBody = { ...body };
  if (Array.isArray(received)) {
    const used = new Array<boolean>(received.length).fill(false);
    const entities = plan.distinctOf.map((index) => {
      if (!used[index]) {
        used[index] = true;
        return received[index];
      }
      return cloneJson(received[index]);
    });
    result.data = { ...body.data, _entities: entities };
  }
  if (body.errors) {
    const unindexed: unknown[] = [];
    const indexed: { position: number; error: unknown }[] = [];
    for (const error of body.errors) {
      const path = (error as { path?: unknown }).path;
      const index = Array.isArray(path) && path[0] === '_entities' && typeof path[1] === 'number' ? path[1] : undefined;
      const at = index === undefined ? undefined : positions[index];
      if (!at) {
        unindexed.push(error);
        continue;
      }
      at.forEach((position, copy) => {
        const own = (copy === 0 ? { ...(error as object) } : cloneJson(error)) as { path: unknown[] };
        own.path = ['_entities', position, ...(path as unknown[]).slice(2)];
        indexed.push({ position, error: own });
      });
    }
    // Array.prototype.sort is stable: one position's errors keep the subgraph's order.
    indexed.sort((a, b) => a.position - b.position);
    result.errors = [...unindexed, ...indexed.map((entry) => entry.error)];
  }
  return result;
}

/** JSON with object keys sorted at every level: equal for representations that differ only in key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
}

/** A deep copy of parsed JSON (plain objects, arrays and primitives only). */
function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = cloneJson((value as Record<string, unknown>)[key]);
  return copy as T;
}
