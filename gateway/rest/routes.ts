import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kind, OperationTypeNode, parse, type DocumentNode, type OperationDefinitionNode, type TypeNode } from 'graphql';
import semver from 'semver';
import { z } from 'zod';
import { describeIssues, readYamlFile } from '../../lib/yaml-file.js';
import { ConfigError } from '../config.js';

/**
 * REST views of the graph: each data product declares, in one file (schema/rest/<product>.yaml),
 * routes that are named GraphQL operations stored by the owner. This module reads and checks the
 * files on their own (shape, paths, the operation's own variables); rest/bind.ts checks them
 * against each supergraph served.
 */

/** Most routes one file (one product) may declare, and in all: every route is matched per request; the catalogue lists 20 per product. */
export const REST_LIMITS = { routesPerFile: 20, routes: 500, operationBytes: 16 * 1024, pathSegments: 16, queryParameters: 20 } as const;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LITERAL_SEGMENT = /^[A-Za-z0-9._~-]+$/;
const PLACEHOLDER = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

const parameterSchema = z
  .object({
    /** The operation variable it sets; the parameter's own name by default. */
    variable: z.string().regex(NAME, 'a GraphQL variable name, without $').optional(),
    /** A regular expression (anchored by the gateway) the raw value must match, else 400 BAD_USER_INPUT. */
    pattern: z
      .string()
      .max(200)
      .refine((p) => {
        try {
          new RegExp(p, 'u');
          return true;
        } catch {
          return false;
        }
      }, 'a valid regular expression')
      .optional(),
    description: z.string().min(1).max(500).optional(),
  })
  .strict();

const routeSchema = z
  .object({
    /** The operation's name: what usage, audit and traces record for this route. */
    name: z.string().regex(NAME, 'a GraphQL operation name'),
    method: z.literal('GET').default('GET'),
    path: z.string().min(2).max(300).startsWith('/api/', 'REST views live under /api/'),
    version: z.string().refine((v) => semver.valid(v) === v, 'a semantic version such as 1.0.0'),
    description: z.string().min(10, 'describe the route in a sentence'),
    /** Path placeholders and query parameters; a placeholder not listed sets the variable of its own name. */
    parameters: z.record(z.string().regex(NAME, 'a parameter name'), parameterSchema).default({}),
    /** Response names from `data` to the value answered, for example `customer.transactions`; the operation's one root field by default. */
    result: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'response names joined by dots').optional(),
    operation: z.string().min(1).max(REST_LIMITS.operationBytes),
  })
  .strict();

const fileSchema = z
  .object({
    product: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a data product name'),
    routes: z.array(routeSchema).min(1).max(REST_LIMITS.routesPerFile),
  })
  .strict();

/** One segment of a path template: literal text, or a placeholder bound to a parameter. */
export type PathSegment = { readonly kind: 'literal'; readonly text: string } | { readonly kind: 'parameter'; readonly name: string };

/** A parameter of a route, where it is read and which variable it sets. */
export interface RouteParameter {
  readonly name: string;
  readonly in: 'path' | 'query';
  readonly variable: string;
  /** The variable's type as the operation declares it (its definition's type node). */
  readonly type: TypeNode;
  /** Whether the caller must give it: path parameters always, query parameters when the variable is non-null without a default. */
  readonly required: boolean;
  readonly pattern: RegExp | undefined;
  /** The pattern as written, for the OpenAPI document. */
  readonly patternSource: string | undefined;
  readonly description: string | undefined;
}

/** A declared route, checked on its own (not yet against a schema). */
export interface RestRoute {
  readonly product: string;
  readonly name: string;
  readonly method: 'GET';
  readonly path: string;
  readonly segments: readonly PathSegment[];
  readonly version: string;
  readonly description: string;
  readonly parameters: readonly RouteParameter[];
  /** Response names from `data` to the value answered (at least the root field's). */
  readonly result: readonly string[];
  readonly query: string;
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  /** The file it was declared in, for messages. */
  readonly file: string;
}

/** Reads every `*.yaml` file of a directory (none when it does not exist); a mistake names the file, route and field. */
export function loadRestRoutes(dir: string): RestRoute[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(`${dir}: cannot read the REST routes directory (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const routes = files.flatMap((f) => parseRestRoutes(readYamlFile(join(dir, f), (message) => new ConfigError(message)), join(dir, f)));
  checkTogether(routes);
  return routes;
}

/** One file's routes, checked on their own. */
export function parseRestRoutes(raw: unknown, file: string): RestRoute[] {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeIssues(file, parsed.error));
  const problems: string[] = [];
  const routes: RestRoute[] = [];
  parsed.data.routes.forEach((declared, i) => {
    const at = `${file}: routes.${i} (${declared.name})`;
    const route = readRoute(parsed.data.product, declared, file, (problem) => problems.push(`${at}: ${problem}`));
    if (route) routes.push(route);
  });
  if (problems.length) throw new ConfigError(problems.join('\n'));
  return routes;
}

type DeclaredRoute = z.infer<typeof routeSchema>;

function readRoute(product: string, declared: DeclaredRoute, file: string, problem: (message: string) => void): RestRoute | undefined {
  const segments = pathSegments(declared.path, problem);
  let document: DocumentNode;
  try {
    document = parse(declared.operation, { noLocation: false, maxTokens: 2_000 });
  } catch (error) {
    problem(`operation: does not parse (${(error as Error).message})`);
    return undefined;
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) {
    problem('operation: must hold exactly one operation');
    return undefined;
  }
  const operation = operations[0]!;
  if (operation.operation !== OperationTypeNode.QUERY) problem('operation: a REST view reads: only queries may be routes');
  if (operation.name?.value !== declared.name) problem(`operation: must be named ${declared.name}, the route's name`);
  const variables = new Map((operation.variableDefinitions ?? []).map((v) => [v.variable.name.value, v]));
  const placeholders = segments.flatMap((s) => (s.kind === 'parameter' ? [s.name] : []));
  const queryParameters = Object.keys(declared.parameters).filter((name) => !placeholders.includes(name));
  if (queryParameters.length > REST_LIMITS.queryParameters) problem(`parameters: at most ${REST_LIMITS.queryParameters} query parameters`);
  const parameters: RouteParameter[] = [];
  const names = [...new Set([...placeholders, ...Object.keys(declared.parameters)])];
  const bound = new Set<string>();
  for (const name of names) {
    const spec = declared.parameters[name] ?? {};
    const inPath = placeholders.includes(name);
    const variable = spec.variable ?? name;
    const definition = variables.get(variable);
    if (!definition) {
      problem(`parameters.${name}: the operation has no variable $${variable} for this ${inPath ? 'path' : 'query'} parameter`);
      continue;
    }
    if (bound.has(variable)) problem(`parameters.${name}: $${variable} is already set by another parameter`);
    bound.add(variable);
    if (definition.type.kind === Kind.LIST_TYPE || (definition.type.kind === Kind.NON_NULL_TYPE && definition.type.type.kind === Kind.LIST_TYPE)) {
      problem(`parameters.${name}: $${variable} is a list; a parameter sets one scalar or enum value`);
    }
    parameters.push({
      name,
      in: inPath ? 'path' : 'query',
      variable,
      type: definition.type,
      required: inPath || (definition.type.kind === Kind.NON_NULL_TYPE && definition.defaultValue === undefined),
      pattern: spec.pattern === undefined ? undefined : new RegExp(`^(?:${spec.pattern})$`, 'u'),
      patternSource: spec.pattern,
      description: spec.description,
    });
  }
  // A required variable no parameter sets would fail every call: a mistake of the declaration.
  for (const [name, definition] of variables) {
    if (!bound.has(name) && definition.type.kind === Kind.NON_NULL_TYPE && definition.defaultValue === undefined) {
      problem(`operation: $${name} is required but no path or query parameter sets it`);
    }
  }
  const roots = operation.selectionSet.selections.filter((s) => s.kind === Kind.FIELD);
  let result: string[];
  if (declared.result) result = declared.result.split('.');
  else if (roots.length === 1 && operation.selectionSet.selections.length === 1) result = [roots[0]!.alias?.value ?? roots[0]!.name.value];
  else {
    problem('result: the operation selects several root fields; say which one is answered (result: customer)');
    result = [];
  }
  return {
    product,
    name: declared.name,
    method: declared.method,
    path: declared.path,
    segments,
    version: declared.version,
    description: declared.description,
    parameters,
    result,
    query: declared.operation,
    document,
    operation,
    file,
  };
}

function pathSegments(path: string, problem: (message: string) => void): PathSegment[] {
  const parts = path.split('/').slice(1);
  if (parts.length > REST_LIMITS.pathSegments) problem(`path: at most ${REST_LIMITS.pathSegments} segments`);
  const seen = new Set<string>();
  return parts.map((part): PathSegment => {
    const placeholder = PLACEHOLDER.exec(part);
    if (placeholder) {
      const name = placeholder[1]!;
      if (seen.has(name)) problem(`path: {${name}} appears twice`);
      seen.add(name);
      return { kind: 'parameter', name };
    }
    if (!LITERAL_SEGMENT.test(part)) problem(`path: segment "${part}" is neither literal text (letters, digits, . _ ~ -) nor a {placeholder}`);
    return { kind: 'literal', text: part };
  });
}

/** Across files: one route per method and path shape, one route per operation name (usage tells them apart by it). */
function checkTogether(routes: readonly RestRoute[]): void {
  const problems: string[] = [];
  if (routes.length > REST_LIMITS.routes) problems.push(`at most ${REST_LIMITS.routes} REST routes in all (found ${routes.length})`);
  const shapes = new Map<string, RestRoute>();
  const names = new Map<string, RestRoute>();
  for (const route of routes) {
    const shape = `${route.method} /${route.segments.map((s) => (s.kind === 'literal' ? s.text : '{}')).join('/')}`;
    const clash = shapes.get(shape);
    if (clash) problems.push(`${route.file}: route ${route.name}: ${route.method} ${route.path} is the same path as ${clash.name} (${clash.file})`);
    shapes.set(shape, route);
    const named = names.get(route.name);
    if (named) problems.push(`${route.file}: route ${route.name}: the operation name is already used by a route of ${named.file}`);
    names.set(route.name, route);
  }
  if (problems.length) throw new ConfigError(problems.join('\n'));
}
