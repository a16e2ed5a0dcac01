/**
 * Flush rounds run one after the other. A call made while a round runs gets the next round, which
 * has not started yet, so it covers everything queued before the call; every call made meanwhile
 * shares that one next round, so callers never pile up rounds, however long the store is down.
 * `round` resolves true when everything was written (or with what its round reports).
 */
export function serialRounds<T = boolean>(round: () => Promise<T>): () => Promise<T> {
  let chain: Promise<unknown> = Promise.resolve();
  let next: Promise<T> | undefined;
  return () => {
    if (next) return next;
    const started = chain.then(() => {
      next = undefined; // started: a later call needs a round of its own
      return round();
    });
    next = started;
    chain = started.catch(() => undefined);
    return started;
  };
}
