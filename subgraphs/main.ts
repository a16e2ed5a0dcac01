import { createLogger } from '../lib/logger.js';
import { loadSubgraphsConfig, SubgraphConfigError } from './config.js';
import { runDataProducts } from './run.js';
import { DescriptorError } from './kit/descriptor.js';
import { PolicyError } from '../lib/policies.js';

/** Serves one or more data products: `npm run subgraph -- --product customer [--port 4001]`. */
async function main(): Promise<void> {
  const config = loadSubgraphsConfig(process.env, process.argv.slice(2));
  const logger = createLogger('subgraphs', config.logLevel);
  const running = await runDataProducts({ ...config, logger });
  const shutdown = () => {
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  const known = error instanceof SubgraphConfigError || error instanceof DescriptorError || error instanceof PolicyError;
  process.stderr.write(`subgraphs: ${known ? '' : 'failed to start: '}${(error as Error).message}\n`);
  process.exit(known ? 2 : 1);
});
