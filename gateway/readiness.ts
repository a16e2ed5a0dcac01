import type { SubgraphSource } from './subgraph-source.js';

/** How long a readiness answer is reused, so probes never turn into load on the subgraphs. */
export const READINESS_CACHE_MS = 1_000;

/** Whether each subgraph answers `{ __typename }`, asked at most once per READINESS_CACHE_MS. */
export function createReadiness(sources: ReadonlyMap<string, SubgraphSource>, now: () => number): () => Promise<Record<string, boolean>> {
  let last: { at: number; value: Promise<Record<string, boolean>> } | undefined;
  return () => {
    const at = now();
    if (!last || at - last.at > READINESS_CACHE_MS) {
      const checks = [...sources].map(async ([name, source]) => [name, await source.isReachable()] as const);
      last = { at, value: Promise.all(checks).then(Object.fromEntries) };
    }
    return last.value;
  };
}
