import type { OperationState } from '../context.js';
import { freshnessHeaders } from '../execution/freshness.js';
import type { CacheOutcome } from '../execution/share.js';
import type { Stage } from './stage.js';

export interface CacheHeadersOptions {
  /** What the response cache did for an operation (written by the executor); undefined when it never got there. */
  outcomeOf(state: OperationState): CacheOutcome | undefined;
  /** The gateway's clock, ms since the epoch. */
  now: () => number;
}

/**
 * Tells clients how long they may keep an answer (response cache on): `Cache-Control: private,
 * max-age=<seconds left of the freshness window>` and `Age: <seconds since it was fetched>` for an
 * answer the cache served or kept; `no-store` for everything else (refused, with errors, not
 * cacheable, batched: one header cannot speak for several answers). Always `private`: an answer
 * depends on the caller's grants, so no shared cache may hand it to someone else.
 */
export function cacheHeadersStage(options: CacheHeadersOptions): Stage {
  const batched = new WeakSet<OperationState>();
  return {
    name: 'cache headers',
    resolved({ state, requestIsBatched }) {
      if (requestIsBatched) batched.add(state);
    },
    responding({ state, response }) {
      const outcome = options.outcomeOf(state);
      const single = response.body.kind === 'single' ? response.body.singleResult : undefined;
      const headers = response.http.headers;
      if (outcome && outcome.kind !== 'not-stored' && single && !single.errors?.length && !batched.has(state)) {
        const { maxAge, age } = freshnessHeaders(outcome.answer, options.now());
        headers.set('cache-control', `private, max-age=${maxAge}`);
        headers.set('age', String(age));
        return;
      }
      headers.set('cache-control', 'no-store');
      headers.delete('age');
    },
  };
}
