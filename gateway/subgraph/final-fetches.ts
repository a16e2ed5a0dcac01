import type { PlanNode, QueryPlan } from '@apollo/query-planner';

/**
 * Which fetches of a query plan nothing waits for: a fetch is final when it is the last step of
 * every Sequence it sits in, so no later fetch needs its answer (the inventory a product's
 * `shippingEstimate` comes from, the authors' names). Fetch waves (fetch-waves.ts) hold final
 * fetches back until nothing else is left to send, so that those of one subgraph from every level
 * of the plan travel in one call.
 *
 * A fetch is named by fetchKey(subgraph, operation text, path with `@` for lists), what the data
 * source sees of it. Two fetches with one name of which one is not final are both not final.
 */
export function finalFetchesOf(plan: QueryPlan): ReadonlySet<string> {
  let known = remembered.get(plan);
  if (known) return known;
  const final = new Set<string>();
  const waitedFor = new Set<string>();
  const walk = (node: PlanNode, isFinal: boolean, path: readonly (string | number)[]): void => {
    switch (node.kind) {
      case 'Fetch': {
        const key = fetchKey(node.serviceName, node.operation, path);
        (isFinal ? final : waitedFor).add(key);
        return;
      }
      case 'Flatten':
        return walk(node.node, isFinal, [...path, ...node.path]);
      case 'Sequence':
        node.nodes.forEach((child, index) => walk(child, isFinal && index === node.nodes.length - 1, path));
        return;
      case 'Parallel':
        for (const child of node.nodes) walk(child, isFinal, path);
        return;
      case 'Condition':
        if (node.ifClause) walk(node.ifClause, isFinal, path);
        if (node.elseClause) walk(node.elseClause, isFinal, path);
        return;
      case 'Defer':
        // Deferred parts are not held back: their fetches count as waited for.
        if (node.primary.node) walk(node.primary.node, false, path);
        for (const deferred of node.deferred) if (deferred.node) walk(deferred.node, false, path);
        return;
    }
  };
  if (plan.node && plan.node.kind !== 'Subscription') walk(plan.node, true, []);
  for (const key of waitedFor) final.delete(key);
  known = final;
  remembered.set(plan, known);
  return known;
}

/** A fetch's name as the plan and the data source both know it. */
export function fetchKey(subgraph: string, operation: string, path: readonly (string | number)[]): string {
  return `${subgraph}\0${path.join('.')}\0${operation}`;
}

/** Plans live in @apollo/gateway's plan cache: each is walked once. */
const remembered = new WeakMap<QueryPlan, ReadonlySet<string>>();
