import {
  getNamedType,
  isAbstractType,
  isEnumType,
  isListType,
  isNonNullType,
  isScalarType,
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { isObjectType, isInterfaceType } from 'graphql';
import { ERROR_CODES } from '../../lib/errors.js';
import type { BoundParameter, BoundRoute } from './bind.js';
import type { RestRoute } from './routes.js';

/** A JSON Schema (2020-12, OpenAPI 3.1's dialect) as built here. */
export type JsonSchema = { readonly [key: string]: unknown };

/** Where the document is served. */
export const OPENAPI_PATH = '/api/openapi.json';

/** Statuses every route may answer besides 200, each with the error body. */
const ERROR_RESPONSES: Readonly<Record<string, string>> = {
  '400': 'A parameter is malformed (BAD_USER_INPUT, naming it in `errors[0].extensions.parameter`), or the operation is refused as over a limit or past a sunset.',
  '401': 'No bearer token where one is needed, or an invalid one (UNAUTHENTICATED; see WWW-Authenticate).',
  '403': "The caller's roles may not read what the route answers (FORBIDDEN).",
  '404': 'Nothing found for these parameters, or no such route (NOT_FOUND).',
  '429': "The caller's request or cost budget is spent (RATE_LIMITED; see Retry-After and RateLimit).",
  '502': 'A data product failed or could not be reached (SUBGRAPH_ERROR, SUBGRAPH_UNAVAILABLE).',
  '503': "The gateway is draining, or the route's operation does not validate against the schema served (SERVICE_UNAVAILABLE).",
  '504': 'A data product did not answer in time (SUBGRAPH_TIMEOUT).',
};

const SCALARS: Readonly<Record<string, JsonSchema>> = {
  Int: { type: 'integer', format: 'int32' },
  Float: { type: 'number' },
  String: { type: 'string' },
  ID: { type: 'string' },
  Boolean: { type: 'boolean' },
  DateTime: { type: 'string', format: 'date-time' },
  Date: { type: 'string', format: 'date' },
};

function leafSchema(type: GraphQLNamedType): JsonSchema {
  if (isEnumType(type)) return { type: 'string', enum: type.getValues().map((v) => v.name), ...(type.description ? { description: type.description } : {}) };
  const known = SCALARS[type.name];
  if (known) return known;
  // A custom scalar's JSON form is its own: described, not constrained.
  return type.description ? { description: type.description } : {};
}

/** The same schema, also admitting null (JSON Schema 2020-12 has no `nullable`). */
function orNull(schema: JsonSchema): JsonSchema {
  const type = schema.type;
  if (typeof type === 'string') {
    const widened: Record<string, unknown> = { ...schema, type: [type, 'null'] };
    if (Array.isArray(schema.enum)) widened.enum = [...(schema.enum as unknown[]), null];
    return widened;
  }
  if (Object.keys(schema).length === 0 || (Object.keys(schema).length === 1 && 'description' in schema)) return schema;
  return { anyOf: [schema, { type: 'null' }] };
}

/** The JSON Schema of a selection over an output type: lists, nullability, enums, descriptions and deprecations carried over. */
function outputSchema(type: GraphQLOutputType, selection: SelectionSetNode | undefined, fragments: ReadonlyMap<string, FragmentDefinitionNode>, schema: GraphQLSchema): JsonSchema {
  if (isNonNullType(type)) return strict(type.ofType, selection, fragments, schema);
  return orNull(strict(type, selection, fragments, schema));
}

function strict(type: GraphQLOutputType, selection: SelectionSetNode | undefined, fragments: ReadonlyMap<string, FragmentDefinitionNode>, schema: GraphQLSchema): JsonSchema {
  if (isNonNullType(type)) return strict(type.ofType, selection, fragments, schema);
  if (isListType(type)) return { type: 'array', items: outputSchema(type.ofType, selection, fragments, schema) };
  const named = getNamedType(type);
  if (isScalarType(named) || isEnumType(named)) return leafSchema(named);
  const properties: Record<string, JsonSchema> = {};
  const required = new Set<string>();
  const visit = (set: SelectionSetNode, typeName: string, always: boolean, seen: Set<string>) => {
    const parent = schema.getType(typeName);
    for (const node of set.selections) {
      if (node.kind === Kind.FIELD) {
        const key = node.alias?.value ?? node.name.value;
        if (node.name.value === '__typename') properties[key] = { type: 'string' };
        else if (parent && (isObjectType(parent) || isInterfaceType(parent))) {
          const field = parent.getFields()[node.name.value];
          if (field) properties[key] = fieldSchema(field, node, fragments, schema);
        }
        // A field under @include/@skip, or on a possible type only, may be absent.
        if (always && !(node.directives ?? []).some((d) => d.name.value === 'include' || d.name.value === 'skip')) required.add(key);
      } else if (node.kind === Kind.INLINE_FRAGMENT) {
        const on = node.typeCondition?.name.value ?? typeName;
        visit(node.selectionSet, on, always && on === typeName, seen);
      } else if (!seen.has(node.name.value)) {
        const fragment = fragments.get(node.name.value);
        if (!fragment) continue;
        const on = fragment.typeCondition.name.value;
        visit(fragment.selectionSet, on, always && on === typeName, new Set([...seen, node.name.value]));
      }
    }
  };
  if (selection) visit(selection, named.name, !isAbstractType(named), new Set());
  return {
    type: 'object',
    ...(named.description ? { description: named.description } : {}),
    properties,
    ...(required.size ? { required: [...required].filter((k) => k in properties) } : {}),
    additionalProperties: false,
  };
}

function fieldSchema(field: GraphQLField<unknown, unknown>, node: FieldNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>, schema: GraphQLSchema): JsonSchema {
  const base = outputSchema(field.type, node.selectionSet, fragments, schema);
  const extra: Record<string, unknown> = {};
  if (field.description) extra.description = field.description;
  if (field.deprecationReason) extra.deprecated = true;
  if (!Object.keys(extra).length) return base;
  // A $ref-free schema may carry annotations beside its own keywords; an anyOf gets them at the top.
  return { ...base, ...extra };
}

function parameterSchema(route: RestRoute, name: string, bound: BoundParameter): JsonSchema {
  const parameter = route.parameters.find((p) => p.name === name)!;
  const base = leafSchema(bound.type);
  return parameter.patternSource ? { ...base, pattern: `^(?:${parameter.patternSource})$` } : base;
}

/** Whether the route's operation reads a deprecated field anywhere. */
function readsDeprecated(route: Extract<BoundRoute, { state: 'ready' }>): boolean {
  const root = route.schema.getQueryType()!;
  let found = false;
  const walk = (set: SelectionSetNode | undefined, type: GraphQLNamedType) => {
    for (const node of set?.selections ?? []) {
      if (node.kind !== Kind.FIELD) {
        const fragment = node.kind === Kind.INLINE_FRAGMENT ? node : route.route.document.definitions.find((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === node.name.value);
        const on = fragment?.typeCondition ? route.schema.getType(fragment.typeCondition.name.value) : type;
        if (fragment && on) walk(fragment.selectionSet, on);
        continue;
      }
      const field = isObjectType(type) || isInterfaceType(type) ? type.getFields()[node.name.value] : undefined;
      if (!field) continue;
      if (field.deprecationReason) found = true;
      walk(node.selectionSet, getNamedType(field.type));
    }
  };
  walk(route.route.operation.selectionSet, root);
  return found;
}

export interface OpenApiOptions {
  /** Trusted OIDC issuers: each is offered as an openIdConnect security scheme beside plain bearer JWTs. */
  readonly issuers: readonly string[];
  /** The supergraph served, named in the document's info. */
  readonly supergraphHash: string;
}

/**
 * The OpenAPI 3.1 document of the REST views: one path per route with its parameters (typed from
 * the operation's variables), its 200 body (the JSON Schema of the route's selection over the
 * schema served), its error answers and the bearer security scheme. Routes that do not bind to
 * the schema are left out (they answer 503 until fixed).
 */
export function openApiDocument(routes: readonly BoundRoute[], options: OpenApiOptions): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  const oidc = options.issuers.map((issuer, i) => [`oidc${i + 1}`, issuer] as const);
  const security = [{ bearer: [] as string[] }, ...oidc.map(([name]) => ({ [name]: [] as string[] }))];
  for (const bound of routes) {
    if (bound.state !== 'ready') continue;
    const { route } = bound;
    const fragments = new Map(route.document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
    const body = outputSchema(bound.result.field.type, bound.result.node.selectionSet, fragments, bound.schema);
    // The body is the value itself, never null: a null value answers 404 (or the error that nulled it).
    const nonNullBody = 'anyOf' in body ? (body.anyOf as JsonSchema[])[0]! : Array.isArray(body.type) ? { ...body, type: (body.type as string[])[0], ...(Array.isArray(body.enum) ? { enum: (body.enum as unknown[]).filter((v) => v !== null) } : {}) } : body;
    const errors = Object.fromEntries(Object.keys(ERROR_RESPONSES).map((status) => [status, { $ref: `#/components/responses/Error${status}` }]));
    paths[route.path] = {
      ...paths[route.path],
      [route.method.toLowerCase()]: {
        operationId: route.name,
        summary: route.name,
        description: route.description,
        tags: [route.product],
        ...(readsDeprecated(bound) ? { deprecated: true } : {}),
        'x-product': route.product,
        'x-version': route.version,
        'x-graphql-operation': route.query,
        parameters: route.parameters.map((p) => ({
          name: p.name,
          in: p.in,
          required: p.required,
          ...(p.description ? { description: p.description } : {}),
          schema: parameterSchema(route, p.name, bound.parameters.get(p.name)!),
        })),
        responses: {
          '200': {
            description: `The ${route.result.join('.')} value of ${route.name}. Fields the caller may not read are null, listed in Dpg-Field-Errors.`,
            headers: {
              'Dpg-Field-Errors': { $ref: '#/components/headers/FieldErrors' },
              'Dpg-Field-Error-Count': { $ref: '#/components/headers/FieldErrorCount' },
              RateLimit: { $ref: '#/components/headers/RateLimit' },
              'RateLimit-Policy': { $ref: '#/components/headers/RateLimitPolicy' },
              Deprecation: { $ref: '#/components/headers/Deprecation' },
              Sunset: { $ref: '#/components/headers/Sunset' },
            },
            content: { 'application/json': { schema: nonNullBody } },
          },
          ...errors,
        },
        security,
      },
    };
  }
  const text = (description: string) => ({ description, schema: { type: 'string' } });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Data product gateway: REST views',
      version: options.supergraphHash,
      description:
        'REST views of the data products: each route runs a named GraphQL operation through the same pipeline as /graphql (authentication, access rules, masking, rate limits, usage, deprecation).',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    paths,
    components: {
      schemas: {
        Error: {
          type: 'object',
          description: 'Every error answer: `error` decided the status; `errors` lists every error, in the GraphQL error format.',
          required: ['error', 'errors'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string', enum: [...ERROR_CODES] }, message: { type: 'string' } },
            },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                required: ['message', 'extensions'],
                properties: {
                  message: { type: 'string' },
                  path: { type: 'array', items: { type: ['string', 'integer'] } },
                  extensions: { type: 'object', required: ['code'], properties: { code: { type: 'string' } } },
                },
              },
            },
          },
        },
      },
      responses: Object.fromEntries(
        Object.entries(ERROR_RESPONSES).map(([status, description]) => [
          `Error${status}`,
          {
            description,
            ...(status === '401' ? { headers: { 'WWW-Authenticate': text('The bearer challenge (RFC 6750).') } } : {}),
            ...(status === '429' ? { headers: { 'Retry-After': text('Seconds until the budget allows another request.') } } : {}),
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          },
        ]),
      ),
      headers: {
        FieldErrors: text('Field errors of a partial answer (RFC 8941 list): `"CODE";pointer="/json/pointer";coordinate="Type.field"`, at most 20.'),
        FieldErrorCount: text('How many field errors the answer has.'),
        RateLimit: text("The caller's remaining budgets (IETF RateLimit header fields draft)."),
        RateLimitPolicy: text("The caller's budgets and window."),
        Deprecation: text('The route reads a deprecated field: since when (RFC 9745).'),
        Sunset: text('When a deprecated field it reads is retired (RFC 8594).'),
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token of a trusted issuer (OIDC), as for /graphql.' },
        ...Object.fromEntries(oidc.map(([name, issuer]) => [name, { type: 'openIdConnect', openIdConnectUrl: `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration` }])),
      },
    },
  };
}
