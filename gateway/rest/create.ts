import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { HttpError, sendJson } from '../../lib/http.js';
import { httpStatusOf } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Principal } from '../../lib/principal.js';
import type { RequestScope } from '../../lib/http-server.js';
import type { Engine } from '../engine.js';
import { bindRoute, type BoundRoute } from './bind.js';
import { OPENAPI_PATH, openApiDocument, type JsonSchema } from './openapi.js';
import { matchPath, orderRoutes, readTarget, variablesOf } from './request.js';
import { restError, restResponse, type RestResponse } from './respond.js';
import type { RestRoute } from './routes.js';

/** Where REST views live: every path under it is answered here (unknown ones 404 in the REST error shape). */
export const REST_PREFIX = '/api/';

/** A route as the catalogue lists it. */
export interface RestRouteView {
  readonly method: string;
  readonly path: string;
  readonly version: string;
  readonly operationName: string;
  readonly description: string;
  /** Whether it answers: false while its operation does not validate against the schema served. */
  readonly available: boolean;
}

export interface RestViews {
  /** Whether a request is for the REST views (its path is under /api/). */
  owns(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void>;
  /** Binds every route to a new schema served; routes that no longer validate are logged and answer 503. */
  setSchema(schema: GraphQLSchema, supergraphHash: string): void;
  /** Each route and whether it binds to the schema served (tests, the catalogue). */
  routes(): readonly BoundRoute[];
  /** One product's routes, for the catalogue. */
  routesOf(product: string): RestRouteView[];
  /** The OpenAPI 3.1 document of the routes that bind. */
  openApi(): JsonSchema;
}

export interface RestViewsDeps {
  readonly routes: readonly RestRoute[];
  readonly logger: Logger;
  /** Whether the gateway takes requests (not starting or draining). */
  readonly ready: () => boolean;
  /** The same authentication as /graphql; throws HttpError (401, 503). */
  authenticate(req: IncomingMessage): Promise<Principal>;
  /** Runs work on the engine currently served (hot reload lets the request finish on it). */
  run<T>(work: (engine: Engine) => Promise<T>): Promise<T>;
  /** Anonymous callers may read the OpenAPI document (as they may introspect). */
  readonly anonymousDocument: boolean;
  readonly issuers: readonly string[];
}

const send = (res: ServerResponse, response: RestResponse) => sendJson(res, response.status, response.body, response.headers);
const fromHttpError = (error: HttpError): RestResponse => restError(error.code, error.message, error.extensions, error.headers, httpStatusOf(error.code));

/**
 * REST views of the graph: declared routes (rest/routes.ts) matched under /api/, their parameters
 * read into the operation's variables, the operation run through the engine as the caller's own
 * GraphQL request, and the answer mapped to a REST one (rest/respond.ts). The OpenAPI document is
 * rebuilt with each schema served.
 */
export function createRestViews(deps: RestViewsDeps): RestViews {
  let bound: BoundRoute[] = [];
  let ordered: BoundRoute[] = [];
  let document: JsonSchema = openApiDocument([], { issuers: deps.issuers, supergraphHash: 'none' });

  const answer = async (req: IncomingMessage, scope: RequestScope): Promise<RestResponse> => {
    if (!deps.ready()) return restError('SERVICE_UNAVAILABLE', 'The gateway is shutting down', {}, { 'retry-after': '1' });
    const target = readTarget(req.url ?? '/');
    const method = (req.method ?? 'GET').toUpperCase();
    if (target.path === OPENAPI_PATH) {
      if (method !== 'GET') return restError('METHOD_NOT_ALLOWED', 'Only GET', {}, { allow: 'GET' });
      const principal = await deps.authenticate(req);
      if (principal.kind === 'anonymous' && !deps.anonymousDocument) return restError('UNAUTHENTICATED', 'The OpenAPI document needs a bearer token', {}, { 'www-authenticate': 'Bearer realm="data-product-gateway"' });
      return { status: 200, headers: {}, body: JSON.stringify(document) };
    }
    const matches = ordered.map((route) => ({ route, values: matchPath(route.route, target.segments) })).filter((m) => m.values !== undefined);
    if (matches.length === 0) return restError('NOT_FOUND', 'No REST route at this path');
    const match = matches.find((m) => m.route.route.method === method);
    if (!match) return restError('METHOD_NOT_ALLOWED', `This route answers ${[...new Set(matches.map((m) => m.route.route.method))].join(', ')}`, {}, { allow: [...new Set(matches.map((m) => m.route.route.method))].join(', ') });
    const route = match.route;
    if (route.state !== 'ready') return restError('SERVICE_UNAVAILABLE', `${route.route.name} does not validate against the schema served; its owners must update it`, { route: route.route.name });
    const principal = await deps.authenticate(req);
    const variables = variablesOf(route.route, route.parameters, match.values!, target.search);
    const executed = await deps.run((engine) =>
      engine.execute(
        { query: route.route.query, operationName: route.route.name, variables },
        { requestId: scope.requestId, startedAt: scope.startedAt, principal, headers: req.headers, clientAddress: req.socket.remoteAddress ?? 'unknown' },
      ),
    );
    return restResponse(executed, route.route.result, principal);
  };

  return {
    owns: (req) => (req.url ?? '/').startsWith(REST_PREFIX),
    async handle(req, res, scope) {
      let response: RestResponse;
      try {
        response = await answer(req, scope);
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        response = fromHttpError(error);
      }
      send(res, response);
    },
    setSchema(schema, supergraphHash) {
      bound = deps.routes.map((route) => bindRoute(route, schema));
      ordered = orderRoutes(bound);
      for (const route of bound) {
        if (route.state === 'invalid') deps.logger.error({ route: route.route.name, path: route.route.path, file: route.route.file, problems: route.problems }, 'REST route does not validate against the supergraph served; it answers 503');
      }
      document = openApiDocument(bound, { issuers: deps.issuers, supergraphHash });
    },
    routes: () => bound,
    routesOf: (product) =>
      bound
        .filter((b) => b.route.product === product)
        .map((b) => ({ method: b.route.method, path: b.route.path, version: b.route.version, operationName: b.route.name, description: b.route.description, available: b.state === 'ready' })),
    openApi: () => document,
  };
}
