/**
 * Calls in flight by key: a caller whose key matches a call still running waits for that call's
 * result instead of making its own. An entry lives exactly as long as its call: it is removed when
 * the call settles, so the map holds at most the calls in flight and later callers make a new one.
 */
export interface InFlight<T> {
  /** Runs `call` unless one with `key` is in flight; `shared` says whether this caller joined another's. */
  run(key: string, call: () => Promise<T>): { readonly result: Promise<T>; readonly shared: boolean };
  /** Calls in flight now. */
  size(): number;
}

export function createInFlight<T>(): InFlight<T> {
  const calls = new Map<string, Promise<T>>();
  return {
    run(key, call) {
      const running = calls.get(key);
      if (running) return { result: running, shared: true };
      const result = call().finally(() => calls.delete(key));
      calls.set(key, result);
      return { result, shared: false };
    },
    size: () => calls.size,
  };
}
