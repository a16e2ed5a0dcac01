import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/logger.js';
import type { DataProductCatalog } from './catalog/index.js';
import { CATALOG_REFRESH_MS } from './catalog/index.js';
import type { GatewayConfig } from './config.js';
import { sandboxHandler } from './sandbox/index.js';
import { usagePageHandler } from './usage-page/index.js';

/** The browser pages: the sandbox at GET /graphql (with every product's examples) and the owners' usage page. */
export interface Pages {
  /** Answers the request when it is for a page or one of its assets; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Reads the catalogue now and rebuilds the sandbox if the products' examples changed. */
  refresh(): Promise<void>;
  /** Refreshes now, then every CATALOG_REFRESH_MS. */
  start(): void;
  stop(): void;
}

export function createPages(config: Pick<GatewayConfig, 'sandbox'>, catalog: DataProductCatalog, logger: Logger): Pages {
  const usagePage = usagePageHandler();
  const apolloSandbox = config.sandbox === 'apollo';
  // The sandbox preloads the products' example operations, which come with the catalogue: it is
  // rebuilt when they change, never per request.
  let sandbox = config.sandbox === 'off' ? undefined : sandboxHandler({ examples: [], apolloSandbox });
  let shownExamples = '[]';
  let timer: NodeJS.Timeout | undefined;

  const refresh = async () => {
    try {
      await catalog.list();
    } catch (error) {
      logger.warn({ err: error }, 'catalogue refresh failed');
      return;
    }
    const examples = catalog.examples();
    const key = JSON.stringify(examples);
    if (!sandbox || key === shownExamples) return;
    shownExamples = key;
    sandbox = sandboxHandler({ examples, apolloSandbox });
  };

  return {
    handle: (req, res) => Boolean(sandbox?.(req, res)) || usagePage(req, res),
    refresh,
    start() {
      void refresh();
      timer = setInterval(() => void refresh(), CATALOG_REFRESH_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
