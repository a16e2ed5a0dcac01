import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { maskError } from '../../lib/error-mask.js';
import { graphqlHandler, HttpError, sendJson } from '../../lib/http.js';
import { listenHttp } from '../../lib/http-server.js';
import { json, router } from '../../lib/routes.js';
import { serverSpan } from '../../lib/tracing/http.js';
import { activeTracer, ATTR } from '../../lib/tracing/tracer.js';
import type { Logger } from '../../lib/logger.js';
import type { AccessPolicies } from '../../lib/policies.js';
import type { Principal } from '../../lib/principal.js';
import { protectSchema } from './shield.js';
import type { Db } from './db.js';
import type { DataProduct, SubgraphContext } from './data-product.js';
import { operationSpanPlugin } from './tracing.js';

export interface SubgraphServerOptions {
  db: Db;
  /** 0 picks a free port. */
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
  logger: Logger;
  /** Largest accepted request body, in bytes. @default 1 MiB */
  bodyLimitBytes?: number;
  /** Verifies the gateway's identity token; a request without a valid one is refused with 401. */
  verifyIdentity(token: string): Promise<Principal>;
  policies: AccessPolicies;
  /** The product's descriptor and live facts (quality, freshness), served at GET /data-product to the gateway. */
  describe?: () => Promise<unknown>;
  /** The product's version (its descriptor's), named on its spans. */
  version?: string;
}

export interface RunningSubgraph {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export const DEFAULT_SUBGRAPH_BODY_LIMIT = 1024 * 1024;
/** On stop, how long the gateway's in-flight calls may take to finish. */
const SUBGRAPH_SHUTDOWN_GRACE_MS = 5_000;

/**
 * Serves one data product as a Federation 2 subgraph: POST/GET /graphql, GET /healthz (liveness,
 * no database) and GET /readyz (the product's database answers).
 */
export async function startSubgraph<TLoaders>(
  product: DataProduct<TLoaders>,
  options: SubgraphServerOptions,
): Promise<RunningSubgraph> {
  const { db, logger } = options;
  const log = logger.child({ product: product.name });
  const apollo = new ApolloServer<SubgraphContext<TLoaders>>({
    schema: protectSchema(buildSubgraphSchema([{ typeDefs: product.typeDefs, resolvers: product.resolvers }]), product.typeDefs, options.policies),
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // Shutdown is ours (drain, then stop): Apollo's own handler would re-raise the signal mid-drain.
    stopOnTerminationSignals: false,
    plugins: [ApolloServerPluginLandingPageDisabled(), ...(activeTracer() ? [operationSpanPlugin<SubgraphContext<TLoaders>>()] : [])],
    logger: log,
    formatError: (formatted, error) => maskError(formatted, error, log),
  });
  await apollo.start();

  const handle = graphqlHandler<SubgraphContext<TLoaders>, Principal>({
    server: apollo,
    bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_SUBGRAPH_BODY_LIMIT,
    context: (principal) => ({ db, loaders: product.createLoaders(db), principal }),
  });

  const routes = router({
    // Traced (OTEL_*): the gateway's trace continues here; calls that carry none are not traced.
    '/graphql': serverSpan(async (req, res) => handle(req, res, await identify(req.headers.authorization)), {
      incoming: 'continue-only',
      route: '/graphql',
      attributes: { [ATTR.DATA_PRODUCT_NAME]: product.name, ...(options.version ? { [ATTR.DATA_PRODUCT_VERSION]: options.version } : {}) },
    }),
    ...(options.describe
      ? {
          '/data-product': async (req, res) => {
            await identify(req.headers.authorization);
            sendJson(res, 200, JSON.stringify(await options.describe!()));
          },
        }
      : {}),
    '/healthz': json(200, () => ({ status: 'ok', product: product.name })),
    '/readyz': async (_req, res) => {
      const ready = await db.query('select 1 as ok').then(
        () => true,
        () => false,
      );
      sendJson(res, ready ? 200 : 503, JSON.stringify({ status: ready ? 'ready' : 'unavailable', product: product.name }));
    },
  });

  async function identify(authorization: string | undefined): Promise<Principal> {
    const token = /^Bearer +(\S+)$/i.exec(authorization ?? '')?.[1];
    const challenge = { 'www-authenticate': 'Bearer realm="data-product", error="invalid_token"' };
    if (!token) throw new HttpError('UNAUTHENTICATED', 'Only the gateway may call this data product', challenge);
    try {
      return await options.verifyIdentity(token);
    } catch {
      throw new HttpError('UNAUTHENTICATED', 'Only the gateway may call this data product', challenge);
    }
  }

  let stopping = false;
  const http = await listenHttp({ host: options.host ?? '127.0.0.1', port: options.port, logger: log, route: routes, draining: () => stopping });
  const { port, url } = http;
  log.info({ url }, 'subgraph listening');

  return {
    name: product.name,
    url,
    port,
    async stop() {
      stopping = true;
      await http.drain(SUBGRAPH_SHUTDOWN_GRACE_MS);
      await apollo.stop();
    },
  };
}
