/**
 * A small bounded cache whose entries expire: for verified tokens, whose verification costs far
 * more than a map lookup. When full, the oldest entry goes first.
 */
export interface TtlCache<V> {
  get(key: string, nowMs?: number): V | undefined;
  set(key: string, value: V, expiresAtMs: number): void;
  readonly size: number;
}

export function createTtlCache<V>(maxEntries: number): TtlCache<V> {
  const entries = new Map<string, { value: V; expiresAtMs: number }>();
  return {
    get(key, nowMs = Date.now()) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAtMs <= nowMs) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value, expiresAtMs) {
      entries.delete(key);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(key, { value, expiresAtMs });
    },
    get size() {
      return entries.size;
    },
  };
}
