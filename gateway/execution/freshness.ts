/**
 * The freshness promise: each data product's descriptor says how old its data may be
 * (`spec.sla.freshnessMinutes`). An answer is cached for at most the shortest promise of the
 * products it touches, counted from when it was fetched, and never served after that.
 */
export type Cacheability =
  | { readonly cacheable: true; readonly ttlMs: number }
  /** Why not: it reads no data product, a product that did not opt in, or one whose promise is not known (yet). */
  | { readonly cacheable: false; readonly reason: 'no-product' | 'not-opted-in' | 'freshness-unknown' };

export function cacheabilityOf(
  products: ReadonlySet<string>,
  optedIn: ReadonlySet<string>,
  /** The product's promise from its last valid descriptor; undefined when the gateway has none. */
  freshnessMinutesOf: (product: string) => number | undefined,
): Cacheability {
  if (products.size === 0) return { cacheable: false, reason: 'no-product' };
  let ttlMs = Number.POSITIVE_INFINITY;
  for (const product of products) {
    if (!optedIn.has(product)) return { cacheable: false, reason: 'not-opted-in' };
    const minutes = freshnessMinutesOf(product);
    if (minutes === undefined || !(minutes > 0)) return { cacheable: false, reason: 'freshness-unknown' };
    ttlMs = Math.min(ttlMs, minutes * 60_000);
  }
  return { cacheable: true, ttlMs };
}

/** A cached answer: what it says, and the window in which it may be served (ms since the epoch, the gateway's clock). */
export interface CachedAnswer {
  readonly fetchedAt: number;
  readonly expiresAt: number;
  readonly data: Record<string, unknown>;
}

/** Whether a cached answer may still be served at `now`: strictly inside its window. */
export function isFresh(answer: Pick<CachedAnswer, 'fetchedAt' | 'expiresAt'>, now: number): boolean {
  return now >= answer.fetchedAt && now < answer.expiresAt;
}

/**
 * What the client is told: `max-age` is what is left of the window (whole seconds, rounded down)
 * and `Age` how long ago it was fetched (rounded up). RFC 9111 would have a cache subtract `Age`
 * from `max-age` again, so such a client lets the answer go early; a client that ignores `Age`
 * (many app-level caches do) still never keeps it past the promise, which a full lifetime in
 * `max-age` would not guarantee.
 */
export function freshnessHeaders(answer: Pick<CachedAnswer, 'fetchedAt' | 'expiresAt'>, now: number): { readonly maxAge: number; readonly age: number } {
  return { maxAge: Math.max(0, Math.floor((answer.expiresAt - now) / 1000)), age: Math.max(0, Math.ceil((now - answer.fetchedAt) / 1000)) };
}

/** Cache lookups per data product since start, for the catalogue's hit rate. */
export interface CacheStats {
  record(products: Iterable<string>, hit: boolean): void;
  /** hits / (hits + misses); null before any lookup. */
  hitRate(product: string): number | null;
}

export function createCacheStats(onLookup: (hit: boolean) => void = () => undefined): CacheStats {
  const counts = new Map<string, { hits: number; misses: number }>();
  return {
    record(products, hit) {
      onLookup(hit);
      for (const product of products) {
        let count = counts.get(product);
        if (!count) counts.set(product, (count = { hits: 0, misses: 0 }));
        if (hit) count.hits += 1;
        else count.misses += 1;
      }
    },
    hitRate(product) {
      const count = counts.get(product);
      return count ? count.hits / (count.hits + count.misses) : null;
    },
  };
}
