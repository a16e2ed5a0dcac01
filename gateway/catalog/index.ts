import type { Logger } from '../../lib/logger.js';
import type { CatalogReader, DataProductView } from '../../subgraphs/platform/index.js';
import type { SubgraphSource } from '../subgraph-source.js';

/** What a data product publishes at GET <subgraph>/data-product (subgraphs/kit/server.ts). */
export interface PublishedProduct {
  descriptor: {
    metadata: { name: string; domain: string; owner: { team: string; email: string }; version: string };
    spec: {
      description: string;
      sla: { availability: number; latencyP95Ms: number; freshnessMinutes: number };
      accessRoles: string[];
      exampleOperations: { name: string; description: string; query: string }[];
    };
  };
  quality: unknown;
  refreshedAt: string | null;
}

export interface CatalogEntry {
  readonly name: string;
  readonly published: PublishedProduct;
  readonly status: DataProductView['status'];
}

export interface DataProductCatalog extends CatalogReader {
  /** Every product whose subgraph publishes a descriptor, with live status. */
  list(): Promise<CatalogEntry[]>;
  /** The example operations of every product (for the sandbox), from the last fetch. */
  examples(): { product: string; name: string; description: string; query: string }[];
  /** Asks every product for its descriptor now, whatever the age of the last answer (tests, a new release). */
  refresh(): Promise<void>;
}

/** How long a fetched descriptor is reused before the subgraph is asked again. */
export const CATALOG_REFRESH_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;

/**
 * The catalogue, assembled from the data products themselves: each subgraph publishes its
 * descriptor, quality report and load time; the gateway adds what it measures (health, latency
 * against the SLA, data age against the freshness promise). Subgraphs that publish nothing (any
 * other supergraph's) are simply not listed.
 */
export function createCatalog(options: {
  sources: ReadonlyMap<string, SubgraphSource>;
  /** The gateway's own identity token for a subgraph (data products answer only the gateway). */
  identity: (subgraph: string) => Promise<string>;
  /** Health per subgraph, as readiness sees it. */
  health: () => Promise<Record<string, boolean>>;
  logger: Logger;
  now?: () => number;
}): DataProductCatalog {
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; readonly value: Promise<PublishedProduct | undefined> }>();
  let lastExamples: { product: string; name: string; description: string; query: string }[] = [];

  const fetchPublished = async (name: string, source: SubgraphSource): Promise<PublishedProduct | undefined> => {
    const url = new URL(source.url ?? '');
    url.pathname = url.pathname.replace(/\/graphql\/?$/, '') + '/data-product';
    try {
      const response = await fetch(url, { headers: { authorization: `Bearer ${await options.identity(name)}` }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      // Subgraphs of other supergraphs publish no descriptor: they are simply not in the catalogue.
      if (response.status >= 400 && response.status < 500 && response.status !== 401 && response.status !== 403) return undefined;
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return (await response.json()) as PublishedProduct;
    } catch (error) {
      options.logger.warn({ subgraph: name, err: error }, 'data product descriptor unavailable');
      throw error;
    }
  };

  const published = (name: string, source: SubgraphSource): Promise<PublishedProduct | undefined> => {
    const cached = cache.get(name);
    if (cached && now() - cached.at < CATALOG_REFRESH_MS) return cached.value;
    const previous = cached?.value;
    // A product that cannot be reached keeps its last known descriptor (its status says unhealthy).
    const value = fetchPublished(name, source).catch(() => (previous ? previous.catch(() => undefined) : undefined));
    cache.set(name, { at: now(), value });
    return value;
  };

  const list = async (): Promise<CatalogEntry[]> => {
    const health = await options.health();
    const entries = await Promise.all(
      [...options.sources].map(async ([name, source]): Promise<CatalogEntry | undefined> => {
        const product = await published(name, source);
        if (!product) return undefined;
        const sla = product.descriptor.spec.sla;
        const p95 = source.latencyP95Ms();
        const refreshed = product.refreshedAt ? new Date(product.refreshedAt) : null;
        const age = refreshed ? (now() - refreshed.getTime()) / 60_000 : null;
        return {
          name,
          published: product,
          status: {
            healthy: health[name] ?? false,
            latencyP95Ms: p95,
            latencyWithinSla: p95 === null ? null : p95 <= sla.latencyP95Ms,
            refreshedAt: refreshed,
            dataAgeMinutes: age === null ? null : Math.round(age * 10) / 10,
            fresh: age === null ? null : age <= sla.freshnessMinutes,
          },
        };
      }),
    );
    const listed = entries.filter((e): e is CatalogEntry => e !== undefined);
    lastExamples = listed.flatMap((e) => e.published.descriptor.spec.exampleOperations.map((op) => ({ product: e.name, ...op })));
    return listed;
  };
  return {
    list,
    examples: () => lastExamples,
    // The catalogue queries' shape: descriptor and what the gateway measures, side by side.
    view: async () =>
      (await list()).map((entry) => ({
        ...entry.published.descriptor.metadata,
        ...entry.published.descriptor.spec,
        name: entry.name,
        status: entry.status,
        quality: entry.published.quality ?? null,
      })),
    async refresh() {
      for (const entry of cache.values()) entry.at = Number.NEGATIVE_INFINITY;
      await list();
    },
  };
}
