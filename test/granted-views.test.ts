import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApolloGateway } from '@apollo/gateway';
import { composeServices } from '@apollo/composition';
import {
  assertValidSchema,
  getIntrospectionQuery,
  getNamedType,
  graphqlSync,
  isAbstractType,
  isCompositeType,
  isInterfaceType,
  isNonNullType,
  isObjectType,
  isUnionType,
  parse,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
} from 'graphql';
import { decideAccess } from '../gateway/authz/enforce.js';
import { EMPTY_VIEW_FIELD } from '../gateway/authz/granted-schema.js';
import { createIntrospectionViews, type IntrospectionViews } from '../gateway/authz/introspection-views.js';
import { takeOverAuthorization } from '../gateway/authz/takeover.js';
import { createOperationFactsCache, type OperationFactsCache } from '../gateway/operation/cache.js';
import { indexCost } from '../gateway/operation/cost.js';
import { indexClassifications } from '../lib/classification/index.js';
import { loadAccessPolicies, scopesOfRoles } from '../lib/policies.js';
import { ANONYMOUS, type Principal } from '../lib/principal.js';
import { CATALOG } from './helpers/abstract-catalog.js';
import { SUPERGRAPH_FILE } from './helpers/stack.js';

/*
 * Granted introspection views (INTROSPECTION_VIEW=granted), without servers: each view is a valid
 * schema holding exactly what its principal may read, as the enforcement's own decision
 * (decideAccess over a real operation's analysis) says, on our supergraph and on a catalogue with
 * an interface and a union whose members carry rules of their own.
 */

const policies = loadAccessPolicies();
const ROLES = [...policies.roles.keys()];
const SCOPES = [...policies.scopes.keys()];
/** Fixed: a failure replays as it is (fast-check prints the path). */
const SEED = 16_03;

function principal(roles: readonly string[], scopes: readonly string[] = []): Extract<Principal, { kind: 'authenticated' }> {
  return { kind: 'authenticated', issuer: 'test', subject: `s-${roles.join('+')}`, clientId: undefined, roles: new Set(roles), scopes: new Set([...scopes, ...scopesOfRoles(policies, roles)]) };
}

interface Subject {
  readonly name: string;
  readonly schema: GraphQLSchema;
  readonly views: IntrospectionViews;
  readonly facts: OperationFactsCache;
}

async function subjectOf(name: string, supergraphSdl: string): Promise<Subject> {
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  const takeover = takeOverAuthorization(supergraphSdl);
  const gateway = new ApolloGateway({ supergraphSdl: takeover.gatewaySdl });
  const { schema } = await gateway.load();
  await gateway.stop();
  const classifications = indexClassifications(takeover.document);
  const views = createIntrospectionViews({ requirements: takeover.requirements, classifications, policies });
  views.update(schema);
  const facts = createOperationFactsCache(takeover.requirements, indexCost(takeover.document), { defaultListSize: 10, maxFields: 10_000 }, classifications);
  return { name, schema, views, facts };
}

/** A step from the query root: a field (its required arguments as variables) or a type condition. */
type Step = { readonly kind: 'field'; readonly field: GraphQLField<unknown, unknown> } | { readonly kind: 'on'; readonly type: string };

/** `query($v0: ID!) { customer(id: $v0) { ... on X { field { __typename } } } }` for a path of steps. */
function operationText(steps: readonly Step[]): string {
  const variables: string[] = [];
  let body: string | undefined;
  for (let i = steps.length - 1; i >= 0; i -= 1) {
    const step = steps[i]!;
    const inner = body ?? '__typename';
    if (step.kind === 'on') {
      body = `... on ${step.type} { ${inner} }`;
      continue;
    }
    const args = step.field.args
      .filter((a) => isNonNullType(a.type) && a.defaultValue === undefined)
      .map((a) => {
        variables.push(`$v${variables.length}: ${String(a.type)}`);
        return `${a.name}: $v${variables.length - 1}`;
      });
    const head = `${step.field.name}${args.length ? `(${args.join(', ')})` : ''}`;
    body = body === undefined && !isCompositeType(getNamedType(step.field.type)) ? head : `${head} { ${inner} }`;
  }
  return `query${variables.length ? `(${variables.join(', ')})` : ''} { ${body ?? '__typename'} }`;
}

/** Whether the enforcement denies anything of this path to the principal (the operation's own decision). */
function denies(subject: Subject, who: Principal, steps: readonly Step[]): boolean {
  const analysis = subject.facts.factsOf(subject.schema, parse(operationText(steps)), undefined);
  return decideAccess(analysis, who, policies, {}).denied.length > 0;
}

/** The shortest path, inside the view, from its query root to each composite type it holds. */
function pathsIn(view: GraphQLSchema): Map<string, Step[]> {
  const query = view.getQueryType()!;
  const paths = new Map<string, Step[]>([[query.name, []]]);
  const queue: GraphQLCompositeType[] = [query];
  const reach = (type: GraphQLCompositeType, steps: Step[]) => {
    if (paths.has(type.name)) return;
    paths.set(type.name, steps);
    queue.push(type);
  };
  for (let type = queue.shift(); type; type = queue.shift()) {
    const steps = paths.get(type.name)!;
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        const returned = getNamedType(field.type);
        if (isCompositeType(returned)) reach(returned, [...steps, { kind: 'field', field }]);
      }
    }
    if (isAbstractType(type)) for (const possible of view.getPossibleTypes(type)) reach(possible, [...steps, { kind: 'on', type: possible.name }]);
  }
  return paths;
}

/**
 * Why a composite type the view hides is hidden rightly: the principal may read nothing at this
 * position (every field denied, or returning a type hidden rightly itself; a union: every member).
 * An interface counts its own fields only: a schema needs one field per interface.
 */
function hiddenRightly(subject: Subject, view: GraphQLSchema, who: Principal, prefix: readonly Step[], type: GraphQLCompositeType, seen: ReadonlySet<string>): boolean {
  if (seen.has(type.name)) return true;
  if (view.getType(type.name)) return false;
  const inside = new Set([...seen, type.name]);
  if (isUnionType(type)) return type.getTypes().every((member) => hiddenRightly(subject, view, who, [...prefix, { kind: 'on', type: member.name }], member, inside));
  return Object.values(type.getFields()).every((field) => {
    const steps: Step[] = [...prefix, { kind: 'field', field }];
    if (denies(subject, who, steps)) return true;
    const returned = getNamedType(field.type);
    return isCompositeType(returned) && hiddenRightly(subject, view, who, steps, returned, inside);
  });
}

/** Every way the view disagrees with the enforcement, as `Type.field: why` (empty when it agrees). */
function disagreements(subject: Subject, who: Principal): string[] {
  const view = subject.views.viewOf(who)!;
  assertValidSchema(view);
  const out: string[] = [];
  const paths = pathsIn(view);
  for (const type of Object.values(view.getTypeMap())) {
    if (!(isObjectType(type) || isInterfaceType(type)) || type.name.startsWith('__')) continue;
    const subscriptions = subject.schema.getSubscriptionType();
    if (subscriptions && type.name === subscriptions.name && isObjectType(type)) {
      // A subscription's events are served as the query of their entity (gateway/subscriptions):
      // a subscription field is in the view exactly when the type it returns is.
      for (const field of Object.values(subscriptions.getFields())) {
        const returned = getNamedType(field.type).name;
        if (Boolean(type.getFields()[field.name]) !== Boolean(view.getType(returned))) out.push(`${type.name}.${field.name}: shown ${Boolean(type.getFields()[field.name])}, but ${returned} shown ${Boolean(view.getType(returned))}`);
      }
      continue;
    }
    const steps = paths.get(type.name);
    if (!steps) {
      out.push(`${type.name}: in the view but not reachable from its query root`);
      continue;
    }
    const full = subject.schema.getType(type.name);
    if (!(isObjectType(full) || isInterfaceType(full))) {
      out.push(`${type.name}: not a type of the full schema`);
      continue;
    }
    const shown = type.getFields();
    for (const field of Object.values(full.getFields())) {
      const path: Step[] = [...steps, { kind: 'field', field }];
      const denied = denies(subject, who, path);
      if (shown[field.name]) {
        // Sound: a field in the view is one the caller may read (its path too).
        if (denied) out.push(`${type.name}.${field.name}: in the view, but denied at ${operationText(path)}`);
        continue;
      }
      // Complete: a field left out is denied, or returns a type with nothing readable in it.
      const returned = getNamedType(field.type);
      if (!denied && !(isCompositeType(returned) && hiddenRightly(subject, view, who, path, returned, new Set()))) {
        out.push(`${type.name}.${field.name}: readable at ${operationText(path)}, but not in the view`);
      }
    }
    for (const name of Object.keys(shown)) if (!full.getFields()[name] && name !== EMPTY_VIEW_FIELD) out.push(`${type.name}.${name}: not a field of the full schema`);
  }
  return out;
}

const principals: fc.Arbitrary<Principal> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(ANONYMOUS) },
  { weight: 6, arbitrary: fc.record({ roles: fc.subarray(ROLES), scopes: fc.subarray(SCOPES, { maxLength: 3 }) }).map(({ roles, scopes }) => principal(roles, scopes)) },
);

let products: Subject;
let catalogue: Subject;
beforeAll(async () => {
  products = await subjectOf('our data products', readFileSync(SUPERGRAPH_FILE, 'utf8'));
  const composed = composeServices([{ name: 'catalog', url: 'http://127.0.0.1:9/graphql', typeDefs: parse(CATALOG) }]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  catalogue = await subjectOf('a catalogue with an interface and a union', composed.supergraphSdl);
});

describe('a granted view holds exactly what its principal may read', () => {
  it.each(['products', 'catalogue'] as const)('over roles and scopes, on %s: every field in the view readable, every readable field in it', (which) => {
    const subject = which === 'products' ? products : catalogue;
    fc.assert(
      fc.property(principals, (who) => {
        expect(disagreements(subject, who)).toEqual([]);
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  it.each([...ROLES, 'anonymous'])('for %s', (role) => {
    const who = role === 'anonymous' ? ANONYMOUS : principal([role]);
    expect(disagreements(products, who)).toEqual([]);
    expect(disagreements(catalogue, who)).toEqual([]);
  });
});

/** `Type.field` of every object and interface type of a schema (introspection's own left out). */
function coordinates(schema: GraphQLSchema): string[] {
  return Object.values(schema.getTypeMap())
    .filter((t) => (isObjectType(t) || isInterfaceType(t)) && !t.name.startsWith('__'))
    .flatMap((t) => Object.keys((t as GraphQLCompositeType & { getFields(): object }).getFields()).map((f) => `${t.name}.${f}`))
    .sort();
}

const introspect = (schema: GraphQLSchema) => graphqlSync({ schema, source: getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, specifiedByUrl: true }) });

describe('the views of our roles', () => {
  it('whoever may read everything sees the full API schema, introspected the same to the byte', () => {
    const everything = principal(ROLES);
    expect(JSON.stringify(introspect(products.views.viewOf(everything)!))).toBe(JSON.stringify(introspect(products.schema)));
  });

  it('admin sees the full API schema but the audit trail, which is the auditor role\'s alone', () => {
    const admin = products.views.viewOf(principal(['admin']))!;
    const missing = coordinates(products.schema).filter((c) => !coordinates(admin).includes(c));
    // accessAudit needs audit:read; its page type is reached through it alone (myAccess has its own).
    expect(missing).toEqual(['AuditRecordConnection.endCursor', 'AuditRecordConnection.hasNextPage', 'AuditRecordConnection.records', 'Query.accessAudit']);
    // Every type both hold is introspected alike, descriptions, deprecations and classifications included.
    const types = (schema: GraphQLSchema) => new Map((introspect(schema).data!.__schema as { types: { name: string }[] }).types.map((t) => [t.name, t]));
    const full = types(products.schema);
    for (const [name, type] of types(admin)) if (name !== 'Query') expect(type).toEqual(full.get(name));
  });

  it('marketing-analyst: no personal data, finance, risk, usage or audit field, nor a type only they reach', () => {
    const view = products.views.viewOf(principal(['marketing-analyst']))!;
    expect(Object.keys(view.getQueryType()!.getFields())).toEqual(['customer', 'customers', 'dataProducts', 'dataProduct', 'myAccess', 'product', 'products']);
    const customer = view.getType('Customer');
    expect(isObjectType(customer) && Object.keys(customer.getFields())).toEqual(['id', 'country', 'preferredLanguage', 'signupDate', 'status', 'segments', 'churnRisk']);
    for (const hidden of ['Transaction', 'LoanRiskAssessment', 'Money', 'RiskFactor', 'FieldUsage', 'UsagePoint']) expect(view.getType(hidden)).toBeUndefined();
  });

  it('data-scientist keeps what a treatment lets it read, with the classification and deprecation the full view shows', () => {
    const view = products.views.viewOf(principal(['data-scientist']))!;
    const customer = view.getType('Customer');
    const full = products.schema.getType('Customer');
    if (!isObjectType(customer) || !isObjectType(full)) throw new Error('Customer is an object type');
    for (const field of ['email', 'phone', 'name', 'fullName']) {
      expect(customer.getFields()[field]!.description).toBe(full.getFields()[field]!.description);
      expect(customer.getFields()[field]!.description).toMatch(/Classification: PII \((EMAIL|PHONE|NAME)\)\./);
    }
    expect(customer.getFields().fullName!.deprecationReason).toBe(full.getFields().fullName!.deprecationReason);
    expect(customer.getFields().fullName!.deprecationReason).toBeTruthy();
  });

  it('anonymous callers see a query root that says there is nothing for them, and still a valid schema', () => {
    const view = products.views.viewOf(ANONYMOUS)!;
    assertValidSchema(view);
    expect(Object.keys(view.getQueryType()!.getFields())).toEqual([EMPTY_VIEW_FIELD]);
  });

  it('through an interface and a union: rules of implementations and members hold', () => {
    const view = catalogue.views.viewOf(principal([]))!;
    const item = view.getType('Item');
    const dossier = view.getType('Dossier');
    const search = view.getType('SearchResult');
    if (!isInterfaceType(item) || !isObjectType(dossier) || !isUnionType(search)) throw new Error('catalogue types');
    // Dossier.title needs customer:pii, so Item.title does; Author needs finance:read.
    expect(Object.keys(item.getFields())).toEqual(['id', 'related']);
    expect(Object.keys(dossier.getFields())).toEqual(['id', 'related']);
    expect(view.getType('Author')).toBeUndefined();
    expect(search.getTypes().map((t) => t.name)).toEqual(['Book', 'Dossier']);
    const book = view.getType('Book');
    expect(isObjectType(book) && Object.keys(book.getFields())).toEqual(['id', 'title', 'related', 'isbn']);
  });
});

describe('the views cache', () => {
  it('one view per grant set, the least recently used out past its bound, all rebuilt on reload', () => {
    const views = createIntrospectionViews({ ...optionsOf(), maxEntries: 2 });
    expect(views.viewOf(principal(['admin']))).toBeUndefined(); // nothing loaded yet
    views.update(products.schema);
    const admin = views.viewOf(principal(['admin']))!;
    // Equal grants, another subject and token: the same view.
    expect(views.viewOf({ ...principal(['admin']), subject: 'someone-else', clientId: 'other-app' })).toBe(admin);
    const analyst = views.viewOf(principal(['marketing-analyst']))!;
    expect(views.viewOf(principal(['admin']))).toBe(admin); // admin is now the most recent
    views.viewOf(ANONYMOUS); // evicts the marketing analyst's
    expect(views.size).toBe(2);
    expect(views.viewOf(principal(['admin']))).toBe(admin);
    expect(views.viewOf(principal(['marketing-analyst']))).not.toBe(analyst);
    views.update(products.schema);
    expect(views.size).toBe(0);
    expect(views.viewOf(principal(['admin']))).not.toBe(admin);
  });
});

function optionsOf() {
  const takeover = takeOverAuthorization(readFileSync(SUPERGRAPH_FILE, 'utf8'));
  return { requirements: takeover.requirements, classifications: indexClassifications(takeover.document), policies };
}
