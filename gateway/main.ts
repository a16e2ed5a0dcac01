import { createLogger } from '../lib/logger.js';
import { ConfigError, loadConfig } from './config.js';
import { startGateway } from './server.js';
import { SupergraphError } from './supergraph.js';

/** Composition root: configuration, logger, gateway, signals. */
async function main(): Promise<void> {
  const config = loadConfig(process.env, process.argv.slice(2));
  const logger = createLogger('gateway', config.logLevel);
  const gateway = await startGateway(config, logger);
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutdown requested');
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof SupergraphError) {
    process.stderr.write(`gateway: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`gateway: failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
