import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/logger.js';
import type { Handler } from '../lib/routes.js';
import type { DataProductCatalog } from './catalog/index.js';
import { CATALOG_REFRESH_MS } from './catalog/index.js';
import type { GatewayConfig } from './config.js';
import { sandboxHandler } from './sandbox/index.js';
import { DEV_TOKEN_PATH, devTokenRoute } from './sign-in/dev-token.js';
import { signInAssetsHandler, signInPageConfig } from './sign-in/index.js';
import { usagePageHandler } from './usage-page/index.js';

/**
 * The browser pages: the sandbox at GET /graphql (with every product's examples) and the owners'
 * usage page, both signing users in (gateway/sign-in).
 */
export interface Pages {
  /** Answers the request when it is for a page or one of its assets; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * Routes the pages add: development sign-in's token route, only in development mode with the
   * development issuer trusted; none otherwise (production never has it).
   */
  readonly routes: Readonly<Record<string, Handler>>;
  /** Reads the catalogue now and rebuilds the sandbox if the products' examples changed. */
  refresh(): Promise<void>;
  /** Refreshes now, then every CATALOG_REFRESH_MS. */
  start(): void;
  stop(): void;
}

/**
 * `roles`: the policy file's roles, offered as "sign in as <role>" when the gateway runs in
 * development mode and trusts the development issuer (never in production).
 */
export function createPages(config: Pick<GatewayConfig, 'sandbox' | 'mode' | 'auth'>, catalog: DataProductCatalog, logger: Logger, roles: readonly string[] = []): Pages {
  const devSignIn = config.mode === 'development' && config.auth.trustDevIssuer;
  const signIn = signInPageConfig({ issuers: config.auth.issuers, devRoles: devSignIn ? roles : undefined });
  const signInAssets = signInAssetsHandler();
  const usagePage = usagePageHandler(signIn);
  const apolloSandbox = config.sandbox === 'apollo';
  // The sandbox preloads the products' example operations, which come with the catalogue: it is
  // rebuilt when they change, never per request.
  let sandbox = config.sandbox === 'off' ? undefined : sandboxHandler({ examples: [], apolloSandbox, signIn });
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
    sandbox = sandboxHandler({ examples, apolloSandbox, signIn });
  };

  return {
    handle: (req, res) => Boolean(sandbox?.(req, res)) || usagePage(req, res) || signInAssets(req, res),
    routes: signIn.dev ? { [DEV_TOKEN_PATH]: devTokenRoute({ roles: signIn.dev.roles }) } : {},
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
