import type { Logger } from '../../lib/logger.js';
import { readPublishedProduct, type PublishedProduct } from '../../subgraphs/kit/published.js';
import type { CatalogReader, DataProductContractsView, DataProductView } from '../../subgraphs/platform/index.js';
import type { SubgraphSource } from '../subgraph-source.js';

/** One data product as the gateway knows it: what it last published validly, and what is wrong now, if anything. */
export interface CatalogEntry {
  readonly name: string;
  /** The last descriptor it published that matches the specification; undefined when none did yet. */
  readonly published: PublishedProduct | undefined;
  readonly status: DataProductView['status'];
}

export interface DataProductCatalog extends CatalogReader {
  /** Every product whose subgraph publishes (or published) a descriptor, with live status. */
  list(): Promise<CatalogEntry[]>;
  /** The example operations of every product (for the sandbox), from the last fetch. */
  examples(): { product: string; name: string; description: string; query: string }[];
  /** Asks every product for its descriptor now, whatever the age of the last answer (tests, a new release). */
  refresh(): Promise<void>;
  /**
   * The freshness promise (`spec.sla.freshnessMinutes`) of a product's last valid descriptor, read
   * without waiting (the response cache asks per request): undefined while none is known. An answer
   * older than the refresh interval is renewed in the background, so a product that shortens its
   * promise is heard within one interval.
   */
  freshnessMinutes(name: string): number | undefined;
}

/** How long a fetched descriptor is reused before the subgraph is asked again. */
export const CATALOG_REFRESH_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;

/** What asking a subgraph for its descriptor gave. */
type Answer =
  /** A descriptor that matches the specification. */
  | { readonly kind: 'published'; readonly product: PublishedProduct }
  /** Something that does not: the product is listed as unavailable, with the reason. */
  | { readonly kind: 'invalid'; readonly problem: string }
  /** Nothing to publish (any other supergraph's subgraph): not listed. */
  | { readonly kind: 'none' };

/** The latest answer, and the last valid descriptor it falls back on. */
interface Known {
  at: number;
  readonly answer: Promise<{ readonly answer: Answer | undefined; readonly lastValid: PublishedProduct | undefined; readonly problem: string | undefined }>;
}

/**
 * The catalogue, assembled from the data products themselves: each subgraph publishes its
 * descriptor, quality report and load time (validated here with the schema it was published
 * with); the gateway adds what it measures (health, latency against the SLA, data age against the
 * freshness promise). A product that answers something else, or cannot be reached, keeps its last
 * valid descriptor and says why in `status.problem`; subgraphs that publish nothing are not listed.
 */
export function createCatalog(options: {
  sources: ReadonlyMap<string, SubgraphSource>;
  /** The gateway's own identity token for a subgraph (data products answer only the gateway). */
  identity: (subgraph: string) => Promise<string>;
  /** Health per subgraph, as readiness sees it. */
  health: () => Promise<Record<string, boolean>>;
  logger: Logger;
  now?: () => number;
  /** The response cache's hit rate of a product since start; null before any lookup. @default none: always null */
  cacheHitRate?: (name: string) => number | null;
  /** A product's GraphQL root fields and types in the supergraph served, and its REST views. @default none: empty lists */
  contracts?: (name: string) => Pick<DataProductContractsView, 'rest'> & { graphql: Omit<DataProductContractsView['graphql'], 'version'> };
}): DataProductCatalog {
  const now = options.now ?? Date.now;
  const known = new Map<string, Known>();
  /** The last valid descriptor of each product, as soon as its answer arrived (for synchronous readers). */
  const lastValidOf = new Map<string, PublishedProduct>();
  let lastExamples: { product: string; name: string; description: string; query: string }[] = [];

  const ask = async (name: string, source: SubgraphSource): Promise<Answer> => {
    const url = new URL(source.url ?? '');
    url.pathname = url.pathname.replace(/\/graphql\/?$/, '') + '/data-product';
    const response = await fetch(url, { headers: { authorization: `Bearer ${await options.identity(name)}` }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    // Subgraphs of other supergraphs publish no descriptor: they are simply not in the catalogue.
    if (response.status >= 400 && response.status < 500 && response.status !== 401 && response.status !== 403) return { kind: 'none' };
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      return { kind: 'invalid', problem: 'its descriptor is not JSON' };
    }
    const read = readPublishedProduct(body);
    return read.ok ? { kind: 'published', product: read.product } : { kind: 'invalid', problem: read.problem };
  };

  const current = (name: string, source: SubgraphSource): Known['answer'] => {
    const cached = known.get(name);
    if (cached && now() - cached.at < CATALOG_REFRESH_MS) return cached.answer;
    const before = cached?.answer;
    const answer = ask(name, source).then(
      async (answer) => {
        const lastValid = answer.kind === 'published' ? answer.product : (await before)?.lastValid;
        if (lastValid) lastValidOf.set(name, lastValid);
        // The source names the product's version on the spans of its calls.
        if (lastValid) source.productVersion = lastValid.descriptor.metadata.version;
        if (answer.kind === 'invalid') options.logger.warn({ subgraph: name, problem: answer.problem }, 'data product descriptor invalid');
        return { answer, lastValid, problem: answer.kind === 'invalid' ? answer.problem : undefined };
      },
      async (error: unknown) => {
        options.logger.warn({ subgraph: name, err: error }, 'data product descriptor unavailable');
        const previous = await before;
        return { answer: previous?.answer, lastValid: previous?.lastValid, problem: 'its descriptor could not be fetched' };
      },
    );
    known.set(name, { at: now(), answer });
    return answer;
  };

  /** GraphQL and REST from what the gateway serves, events from the product's descriptor; each versioned. */
  const contractsOf = (name: string, published: PublishedProduct | undefined): DataProductContractsView => {
    const served = options.contracts?.(name);
    return {
      graphql: { version: published?.descriptor.metadata.version ?? null, rootFields: served?.graphql.rootFields ?? [], types: served?.graphql.types ?? [] },
      rest: served?.rest ?? [],
      events: published?.descriptor.spec.events ?? [],
    };
  };

  const list = async (): Promise<CatalogEntry[]> => {
    const health = await options.health();
    const entries = await Promise.all(
      [...options.sources].map(async ([name, source]): Promise<CatalogEntry | undefined> => {
        const { answer, lastValid, problem } = await current(name, source);
        if (!answer || answer.kind === 'none') return undefined;
        const sla = lastValid?.descriptor.spec.sla;
        const p95 = source.latencyP95Ms();
        const refreshed = lastValid?.refreshedAt ? new Date(lastValid.refreshedAt) : null;
        const age = refreshed ? (now() - refreshed.getTime()) / 60_000 : null;
        return {
          name,
          published: lastValid,
          status: {
            healthy: (health[name] ?? false) && problem === undefined,
            problem: problem ?? null,
            latencyP95Ms: p95,
            latencyWithinSla: p95 === null || !sla ? null : p95 <= sla.latencyP95Ms,
            refreshedAt: refreshed,
            dataAgeMinutes: age === null ? null : Math.round(age * 10) / 10,
            fresh: age === null || !sla ? null : age <= sla.freshnessMinutes,
            cacheHitRate: options.cacheHitRate?.(name) ?? null,
          },
        };
      }),
    );
    const listed = entries.filter((e): e is CatalogEntry => e !== undefined);
    lastExamples = listed.flatMap((e) => (e.published?.descriptor.spec.exampleOperations ?? []).map((op) => ({ product: e.name, ...op })));
    return listed;
  };

  return {
    list,
    examples: () => lastExamples,
    // The catalogue queries' shape: the descriptor's fields (null without one) beside what the gateway measures.
    view: async () =>
      (await list()).map(({ name, published, status }) => ({
        name,
        domain: published?.descriptor.metadata.domain ?? null,
        owner: published?.descriptor.metadata.owner ?? null,
        version: published?.descriptor.metadata.version ?? null,
        description: published?.descriptor.spec.description ?? null,
        sla: published?.descriptor.spec.sla ?? null,
        accessRoles: published?.descriptor.spec.accessRoles ?? [],
        exampleOperations: published?.descriptor.spec.exampleOperations ?? [],
        status,
        quality: published?.quality ?? null,
        migrations: published?.migrations ?? null,
        contracts: contractsOf(name, published),
      })),
    async refresh() {
      for (const entry of known.values()) entry.at = Number.NEGATIVE_INFINITY;
      await list();
    },
    freshnessMinutes(name) {
      const source = options.sources.get(name);
      // Returns the cached answer while it is recent; otherwise starts one fetch, not awaited (it never rejects).
      if (source) void current(name, source);
      return lastValidOf.get(name)?.descriptor.spec.sla.freshnessMinutes;
    },
  };
}
