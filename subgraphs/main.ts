import { nameList } from '../lib/cli-usage.js';
import { createLogger } from '../lib/logger.js';
import { runMain, stopOnSignals } from '../lib/process-entry.js';
import { startTracing, TRACING_FLUSH_DEADLINE_MS } from '../lib/tracing/sdk.js';
import { loadSubgraphsConfig, SUBGRAPH_CONFIG_KEYS, SubgraphConfigError } from './config.js';
import { PRODUCT_NAMES } from './kit/data-product.js';
import { runDataProducts } from './run.js';
import { createEventBus } from '../lib/events/create.js';
import { DescriptorError } from './kit/descriptor.js';
import { PolicyError } from '../lib/policies.js';

const USAGE = `Usage: node dist/subgraphs/main.js [--product <name>]... [--port <n>]
       npm run subgraph -- [same flags]           (development, from the TypeScript sources)

Serves data products as Federation 2 subgraphs: ${PRODUCT_NAMES.join(', ')} (every one without
--product; --product may repeat; --port only with exactly one --product). On PostgreSQL each
product connects with its own URL (CUSTOMER_DATABASE_URL, ...; else DATABASE_URL) and applies its
pending migrations first unless MIGRATE_ON_START=false. Without any URL they share one embedded
database, migrated and seeded at start. The README's Configuration section explains every
variable and its default:
${nameList(SUBGRAPH_CONFIG_KEYS)}

Exit codes: 0 stopped by SIGTERM or SIGINT, 1 failed, 2 bad configuration, policy or descriptor.
`;

/** Serves one or more data products: `npm run subgraph -- --product customer [--port 4001]`. */
async function main(): Promise<void> {
  if (process.argv.slice(2).includes('--help')) {
    process.stdout.write(USAGE);
    return;
  }
  const config = loadSubgraphsConfig(process.env, process.argv.slice(2));
  const logger = createLogger('subgraphs', config.logLevel);
  // One product per process (as deployed): data-product-<name>; several in one process share a name.
  const defaultServiceName = config.products.length === 1 ? `data-product-${config.products[0]}` : 'data-products';
  const tracing = await startTracing(config.tracing, { defaultServiceName, logger });
  // Without NATS_URL a products-only process has nobody to hand events to: they wait in the outboxes.
  const bus = config.events.natsUrl ? await createEventBus(config.events, logger, 'data-products') : undefined;
  const running = await runDataProducts({ ...config, logger, bus });
  stopOnSignals(async () => {
    try {
      await running.stop();
      await bus?.close();
    } finally {
      await tracing.shutdown(TRACING_FLUSH_DEADLINE_MS);
    }
  }, logger);
}

runMain('subgraphs', main, (error) => error instanceof SubgraphConfigError || error instanceof DescriptorError || error instanceof PolicyError);
