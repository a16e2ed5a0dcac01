/**
 * Identical work in flight at the same time, done once: the first caller of a key runs it, callers
 * arriving while it runs wait for the same promise. The entry goes as the work settles, so a later
 * caller runs it again (this shares work, it caches nothing).
 */
export interface InflightSharing {
  /**
   * Runs `work` for `key`, or joins the run already in flight; `shared` says which. `callers` is
   * how many callers the run had in all: final by the time any of them resumes, since nobody can
   * join a run that has settled. A value with more than one caller is everyone's: copy before changing it.
   */
  run<T>(key: string, work: () => Promise<T>): Promise<{ readonly value: T; readonly shared: boolean; readonly callers: number }>;
  /** Callers currently waiting on a run (the first of each included). */
  callers(): number;
  /** Resolves once at least `count` callers wait on runs at the same time (tests: no timers, no polling). */
  whenCallers(count: number): Promise<void>;
}

export function createInflightSharing(): InflightSharing {
  const runs = new Map<string, { promise: Promise<unknown>; callers: number }>();
  let waiting = 0;
  const watchers: { count: number; resolve: () => void }[] = [];
  const changed = () => {
    for (let i = watchers.length - 1; i >= 0; i--) {
      if (waiting >= watchers[i]!.count) watchers.splice(i, 1)[0]!.resolve();
    }
  };
  const attend = async <T>(promise: Promise<T>): Promise<T> => {
    waiting += 1;
    changed();
    try {
      return await promise;
    } finally {
      waiting -= 1;
    }
  };
  return {
    async run<T>(key: string, work: () => Promise<T>) {
      const running = runs.get(key);
      if (running) {
        running.callers += 1;
        return { value: await attend(running.promise as Promise<T>), shared: true, callers: running.callers };
      }
      // Started after the entry is in place, so even work that fails at once leaves no stale entry.
      const promise = Promise.resolve()
        .then(work)
        .finally(() => runs.delete(key));
      const entry = { promise, callers: 1 };
      runs.set(key, entry);
      return { value: await attend(promise), shared: false, callers: entry.callers };
    },
    callers: () => waiting,
    whenCallers(count) {
      if (waiting >= count) return Promise.resolve();
      return new Promise<void>((resolve) => watchers.push({ count, resolve }));
    },
  };
}
