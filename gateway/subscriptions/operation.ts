import {
  getOperationAST,
  getArgumentValues,
  getVariableValues,
  Kind,
  parse,
  print,
  validate,
  visit,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type VariableDefinitionNode,
} from 'graphql';
import type { ErrorCode } from '../../lib/errors.js';
import { SUBSCRIPTION_SOURCES, type SubscriptionSource } from './sources.js';

/** The variable that carries each event's entity id into the derived query (reserved). */
export const EVENT_ID_VARIABLE = 'dpgEventId';

export interface SubscriptionRequest {
  readonly query: string;
  readonly variables?: Readonly<Record<string, unknown>> | null | undefined;
  readonly operationName?: string | null | undefined;
}

/** A subscription ready to run: where its events come from, which pass its filters, and the query each becomes. */
export interface PreparedSubscription {
  readonly source: SubscriptionSource;
  /** Argument filters (customerId), compared with the event's payload. */
  readonly filters: Readonly<Record<string, string>>;
  /** The per-event query: the subscription's selection under the entity field, aliased to the subscription's response key. */
  readonly query: string;
  readonly operationName: string | undefined;
  /** The caller's variables the query uses; the event id is added per event. */
  readonly variables: Readonly<Record<string, unknown>>;
  /** The subscription's field, e.g. Subscription.transactionCreated (for logs and metrics). */
  readonly field: string;
}

export type Prepared = { readonly ok: true; readonly subscription: PreparedSubscription } | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

const refuse = (code: ErrorCode, message: string): Prepared => ({ ok: false, code, message });

/**
 * Checks a subscription against the served schema and derives the query its events run:
 * `subscription($c: ID) { tc: transactionCreated(customerId: $c) { id amount } }` becomes
 * `query($c: ID, $dpgEventId: ID!) { tc: transaction(id: $dpgEventId) { id amount } }` (unused
 * variables dropped), so each event goes through the same pipeline as any query.
 */
export function prepareSubscription(schema: GraphQLSchema, request: SubscriptionRequest, maxTokens: number): Prepared {
  let document: DocumentNode;
  try {
    document = parse(request.query, { maxTokens });
  } catch (error) {
    return refuse('GRAPHQL_PARSE_FAILED', (error as Error).message);
  }
  const invalid = validate(schema, document);
  if (invalid.length > 0) return refuse('GRAPHQL_VALIDATION_FAILED', invalid[0]!.message);
  const operation = getOperationAST(document, request.operationName ?? undefined);
  if (!operation) return refuse('OPERATION_RESOLUTION_FAILURE', request.operationName ? `No operation named "${request.operationName}"` : 'The document holds several operations: name one with operationName');
  if (operation.operation !== 'subscription') return refuse('BAD_REQUEST', 'Only subscriptions are served over WebSocket and event streams; send queries and mutations as HTTP requests');
  // Validation (single root field) guarantees one field, possibly under fragments: only a plain field is served.
  const root = operation.selectionSet.selections[0];
  if (operation.selectionSet.selections.length !== 1 || root?.kind !== Kind.FIELD) return refuse('BAD_REQUEST', 'A subscription selects its one field directly (no fragment around it)');
  const source = SUBSCRIPTION_SOURCES[root.name.value];
  const fieldDef = schema.getSubscriptionType()?.getFields()[root.name.value];
  if (!source || !fieldDef) return refuse('BAD_REQUEST', `Subscription.${root.name.value} has no event stream at this gateway`);
  if (operation.variableDefinitions?.some((d) => d.variable.name.value === EVENT_ID_VARIABLE)) return refuse('BAD_REQUEST', `$${EVENT_ID_VARIABLE} is reserved`);
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], { ...(request.variables ?? {}) });
  if (coerced.errors) return refuse('BAD_USER_INPUT', coerced.errors[0]!.message);
  const args = getArgumentValues(fieldDef, root, coerced.coerced);
  const filters: Record<string, string> = {};
  for (const [name, value] of Object.entries(args)) if (typeof value === 'string') filters[name] = value;

  const entity: FieldNode = {
    ...root,
    alias: { kind: Kind.NAME, value: root.alias?.value ?? root.name.value },
    name: { kind: Kind.NAME, value: source.entityField },
    arguments: [{ kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: source.idArgument }, value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: EVENT_ID_VARIABLE } } }],
  };
  const idDefinition = parse(`query($${EVENT_ID_VARIABLE}: ${source.idType}) { __typename }`).definitions[0] as OperationDefinitionNode;
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
  const draft: OperationDefinitionNode = {
    ...operation,
    operation: 'query' as OperationDefinitionNode['operation'],
    selectionSet: { kind: Kind.SELECTION_SET, selections: [entity] },
    variableDefinitions: [...(operation.variableDefinitions ?? []), ...(idDefinition.variableDefinitions ?? [])],
  };
  // Variables only the subscription's arguments used are dropped (an unused variable does not validate).
  const used = new Set<string>();
  for (const node of [draft, ...fragments]) {
    visit(node.kind === Kind.OPERATION_DEFINITION ? { ...node, variableDefinitions: [] } : node, { Variable: (v) => void used.add(v.name.value) });
  }
  const variableDefinitions: VariableDefinitionNode[] = (draft.variableDefinitions ?? []).filter((d) => used.has(d.variable.name.value));
  const query = print({ kind: Kind.DOCUMENT, definitions: [{ ...draft, variableDefinitions }, ...fragments] });
  const variables = Object.fromEntries(Object.entries(request.variables ?? {}).filter(([name]) => used.has(name) && name !== EVENT_ID_VARIABLE));
  return { ok: true, subscription: { source, filters, query, operationName: operation.name?.value, variables, field: `Subscription.${root.name.value}` } };
}
