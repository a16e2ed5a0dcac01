import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/logger.js';
import type { Engine, GraphQLScope } from './engine.js';
import type { GatewayMetrics } from './metrics.js';
import { readSupergraph, type LoadedSupergraph, type SupergraphSource } from './supergraph.js';

/** What one reload did. */
export type ReloadResult =
  | { readonly outcome: 'applied'; readonly hash: string }
  | { readonly outcome: 'unchanged'; readonly hash: string }
  | { readonly outcome: 'refused'; readonly reason: string };

/** An engine and the supergraph it serves, with the requests still running on it. */
interface Generation {
  readonly engine: Engine;
  readonly supergraph: LoadedSupergraph;
  inFlight: number;
  retired: boolean;
}

export interface Serving {
  /** Runs a GraphQL request on the engine current when it starts; it finishes there even if another is swapped in meanwhile. */
  handle(req: IncomingMessage, res: ServerResponse, scope: GraphQLScope): Promise<void>;
  /** Runs work on the engine current when it starts (a stored operation); like `handle`, it finishes there. */
  run<T>(work: (engine: Engine) => Promise<T>): Promise<T>;
  current(): { readonly engine: Engine; readonly supergraph: LoadedSupergraph };
  /** Fetches the supergraph now and, if it changed, prepares an engine for it and swaps it in. Never throws. */
  reload(): Promise<ReloadResult>;
  /** Resolves with the outcome of the next reload attempt (one the watcher starts, or `reload()`). */
  nextReload(): Promise<ReloadResult>;
  /** Watches the source (a file's events, a URL's polls) and reloads on change. */
  start(): void;
  /** Stops watching and stops every engine (call after the listeners drained). */
  stop(): Promise<void>;
}

export interface ServingDeps {
  readonly source: SupergraphSource;
  /** Where SUPERGRAPH points, for messages. */
  readonly location: string;
  /** Between checks of the source, in ms; 0: never reload. */
  readonly pollMs: number;
  /** The supergraph and the engine started for it at boot. */
  readonly initial: { readonly engine: Engine; readonly supergraph: LoadedSupergraph };
  /** Builds and starts an engine for a new supergraph; throws when it cannot serve it. */
  prepare(supergraph: LoadedSupergraph): Promise<Engine>;
  /** Called when a prepared engine has been swapped in, before the first request reaches it. */
  onSwap(engine: Engine, supergraph: LoadedSupergraph): void;
  readonly metrics: Pick<GatewayMetrics, 'supergraphReloads' | 'supergraphInfo'>;
  readonly logger: Logger;
}

/**
 * Supergraph hot reload: a new supergraph is fully prepared (checked as a Federation supergraph,
 * its authorization taken over, its cost index, deprecations, usage and analysis caches built, the
 * query planner loaded) by an engine of its own before it is used, then swapped in at once.
 * Requests in flight finish on the engine they started on, which stops when its last one is done.
 * A supergraph that cannot be served is refused with its reason (logged, counted) and the current
 * one keeps serving.
 */
export function createServing(deps: ServingDeps): Serving {
  const { logger, metrics } = deps;
  let active: Generation = { ...deps.initial, inFlight: 0, retired: false };
  metrics.supergraphInfo.set({ hash: active.supergraph.hash }, 1);
  const retiring = new Set<Generation>();
  let stopWatching: (() => void) | undefined;
  let waiters: ((result: ReloadResult) => void)[] = [];
  // Reloads run one at a time; calls made meanwhile share the next one (as usage flushes do).
  let chain: Promise<unknown> = Promise.resolve();
  let next: Promise<ReloadResult> | undefined;

  const retire = (generation: Generation) => {
    generation.retired = true;
    retiring.add(generation);
    if (generation.inFlight === 0) void stopGeneration(generation);
  };
  const stopGeneration = async (generation: Generation) => {
    retiring.delete(generation);
    await generation.engine.stop().catch((error: unknown) => logger.warn({ err: error, supergraph: generation.supergraph.hash }, 'retired engine did not stop cleanly'));
  };

  const attempt = async (): Promise<ReloadResult> => {
    let supergraph: LoadedSupergraph;
    try {
      const fetched = await deps.source.fetch();
      if (fetched === 'unchanged') return { outcome: 'unchanged', hash: active.supergraph.hash };
      supergraph = readSupergraph(fetched, deps.location);
    } catch (error) {
      return { outcome: 'refused', reason: (error as Error).message };
    }
    if (supergraph.hash === active.supergraph.hash) return { outcome: 'unchanged', hash: supergraph.hash };
    let engine: Engine;
    try {
      engine = await deps.prepare(supergraph);
    } catch (error) {
      return { outcome: 'refused', reason: `the gateway cannot serve supergraph ${supergraph.hash}: ${(error as Error).message}` };
    }
    const previous = active;
    active = { engine, supergraph, inFlight: 0, retired: false };
    deps.onSwap(engine, supergraph);
    metrics.supergraphInfo.reset();
    metrics.supergraphInfo.set({ hash: supergraph.hash }, 1);
    retire(previous);
    return { outcome: 'applied', hash: supergraph.hash };
  };

  const reload = (): Promise<ReloadResult> => {
    if (next) return next;
    const round = chain.then(async () => {
      next = undefined;
      const result = await attempt();
      metrics.supergraphReloads.inc({ outcome: result.outcome });
      if (result.outcome === 'applied') logger.info({ supergraph: result.hash }, 'supergraph reloaded');
      else if (result.outcome === 'refused') logger.error({ reason: result.reason, serving: active.supergraph.hash }, 'supergraph refused; the current one keeps serving');
      const notified = waiters;
      waiters = [];
      for (const resolve of notified) resolve(result);
      return result;
    });
    next = round;
    chain = round.catch(() => undefined);
    return round;
  };

  const run = async <T>(work: (engine: Engine) => Promise<T>): Promise<T> => {
    const generation = active;
    generation.inFlight += 1;
    try {
      return await work(generation.engine);
    } finally {
      generation.inFlight -= 1;
      if (generation.retired && generation.inFlight === 0 && retiring.has(generation)) void stopGeneration(generation);
    }
  };

  return {
    handle: (req, res, scope) => run((engine) => engine.handle(req, res, scope)),
    run,
    current: () => ({ engine: active.engine, supergraph: active.supergraph }),
    reload,
    nextReload: () => new Promise((resolve) => waiters.push(resolve)),
    start() {
      if (deps.pollMs > 0) stopWatching = deps.source.watch(() => void reload(), deps.pollMs);
    },
    async stop() {
      stopWatching?.();
      await chain;
      await Promise.all([...retiring].map(stopGeneration));
      await active.engine.stop();
    },
  };
}
