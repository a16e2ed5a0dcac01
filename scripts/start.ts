import { createLogger } from '../lib/logger.js';
import { runMain, stopOnSignals } from '../lib/process-entry.js';
import { startTracing, TRACING_FLUSH_DEADLINE_MS } from '../lib/tracing/sdk.js';
import { ConfigError, loadConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/server.js';
import { SupergraphError } from '../gateway/supergraph.js';
import { loadSubgraphsConfig, SubgraphConfigError } from '../subgraphs/config.js';
import { runDataProducts } from '../subgraphs/run.js';
import { createEventBus } from '../lib/events/create.js';
import { MAX_RATE_PER_S, parseRate, runSimulation } from '../subgraphs/seed/simulate.js';

const EXAMPLE_QUERY = '{ customers(first: 3) { id name transactions(first: 2) { amount product { name } } } }';

/**
 * `npm start`: the whole stack in one process on embedded defaults: one in-memory PGlite shared by
 * the three data products (seeded), their subgraphs on 4001-4003, and the gateway on 4000.
 */
async function main(): Promise<void> {
  const started = performance.now();
  // `--simulate 5/s`: simulated purchases (with their events) for the subscriptions to show.
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--simulate');
  const simulate = at === -1 ? undefined : parseRate(argv[at + 1] ?? '');
  if (at !== -1 && simulate === undefined) throw new ConfigError(`Invalid command line: --simulate takes a rate, e.g. 5/s (at most ${MAX_RATE_PER_S}/s)`);
  if (at !== -1) argv.splice(at, 2);
  const subgraphsConfig = loadSubgraphsConfig(process.env, []);
  // Gateway and products in one process share one SDK, hence one service name; the products' spans
  // still name their product (dpg.data_product.name).
  const tracing = await startTracing(subgraphsConfig.tracing, { defaultServiceName: 'data-product-stack', logger: createLogger('start', subgraphsConfig.logLevel) });
  // One bus for the products' outbox relays and the gateway's subscriptions: NATS with NATS_URL, else in-process.
  const bus = await createEventBus(subgraphsConfig.events, createLogger('events', subgraphsConfig.logLevel), 'data-product-stack');
  const products = await runDataProducts({ ...subgraphsConfig, logger: createLogger('subgraphs', subgraphsConfig.logLevel), bus });
  const subgraphUrls = Object.fromEntries(Object.entries(products.subgraphs).map(([name, s]) => [name, s.url]));
  const config = loadConfig(
    { ...process.env, SUBGRAPH_URLS: Object.entries(subgraphUrls).map(([n, u]) => `${n}=${u}`).join(',') },
    argv,
  );
  const gateway = await startGateway(config, createLogger('gateway', config.logLevel), { bus });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const body = JSON.stringify({ query: EXAMPLE_QUERY });
  process.stdout.write(
    [
      '',
      `Data product gateway ready in ${seconds}s: ${gateway.url}`,
      `Subgraphs: ${Object.entries(subgraphUrls).map(([n, u]) => `${n} ${u}`).join(', ')}`,
      '',
      'Try it (a token from the development issuer, roles from policies/access.yaml):',
      '  TOKEN=$(npm run -s token -- --role sales-manager)',
      `  curl -s ${gateway.url} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \\`,
      `    -d '${body}'`,
      '',
      `Sandbox (GraphiQL, with every product's examples): open ${gateway.url} in a browser and sign in as a role`,
      `Usage for owners: ${gateway.url.replace(/\/graphql$/, '/usage')} (sign in as data-product-owner)`,
      '',
      `Live transactions (${simulate === undefined ? 'start with --simulate 5/s to generate some' : `${simulate}/s simulated`}):`,
      `  curl -N ${gateway.url} -H 'accept: text/event-stream' -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \\`,
      `    -d '{"query":"subscription { transactionCreated { id amount customer { name } product { name } } }"}'`,
      '',
    ].join('\n') + '\n',
  );
  const simulation = new AbortController();
  const simulating =
    simulate === undefined
      ? Promise.resolve()
      : runSimulation({ db: products.dbOf('finance'), perSecond: simulate, durationMs: undefined, seed: 1, segmentChanges: 0.05, logger: createLogger('simulate', subgraphsConfig.logLevel), signal: simulation.signal }).then(
          () => undefined,
          (error: unknown) => createLogger('simulate', subgraphsConfig.logLevel).error({ err: error }, 'simulation failed'),
        );
  stopOnSignals(async () => {
    try {
      simulation.abort();
      await simulating;
      await gateway.stop();
      await products.stop();
      await bus.close();
    } finally {
      await tracing.shutdown(TRACING_FLUSH_DEADLINE_MS);
    }
  });
}

runMain('start', main, (error) => error instanceof ConfigError || error instanceof SupergraphError || error instanceof SubgraphConfigError);
