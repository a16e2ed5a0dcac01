import { nameList } from '../lib/cli-usage.js';
import { createLogger } from '../lib/logger.js';
import { runMain, stopOnSignals } from '../lib/process-entry.js';
import { startTracing, TRACING_FLUSH_DEADLINE_MS } from '../lib/tracing/sdk.js';
import { CONFIG_KEYS, ConfigError, loadConfig } from './config.js';
import { startGateway } from './server.js';
import { SupergraphError } from './supergraph.js';
import { ManifestError } from './documents/manifest.js';
import { OperationsPolicyError } from './documents/policy.js';

const USAGE = `Usage: node dist/gateway/main.js [--supergraph <file or URL>] [--port <n>] [--host <address>]
       npm run gateway -- [same flags]            (development, from the TypeScript sources)

Serves one GraphQL endpoint over a Federation 2 supergraph (a file, relative paths from the
working directory, or an http(s) URL). Flags win over the environment; the README's
Configuration section explains every variable and its default:
${nameList(CONFIG_KEYS)}

Exit codes: 0 stopped by SIGTERM or SIGINT after draining, 1 failed, 2 bad configuration.
`;

/** The gateway process: its configuration, then the gateway (gateway/server.ts assembles it), stopped by a signal. */
async function main(): Promise<void> {
  if (process.argv.slice(2).includes('--help')) {
    process.stdout.write(USAGE);
    return;
  }
  const config = loadConfig(process.env, process.argv.slice(2));
  const logger = createLogger('gateway', config.logLevel);
  // Before the gateway is built: its components decide once, when built, whether they trace.
  const tracing = await startTracing(config.tracing, { defaultServiceName: 'data-product-gateway', logger });
  const gateway = await startGateway(config, logger);
  stopOnSignals(async () => {
    try {
      await gateway.stop();
    } finally {
      // After the drain: the spans of the last requests are exported before the process exits.
      await tracing.shutdown(TRACING_FLUSH_DEADLINE_MS);
    }
  }, logger);
}

runMain('gateway', main, (error) => error instanceof ConfigError || error instanceof SupergraphError || error instanceof ManifestError || error instanceof OperationsPolicyError);
