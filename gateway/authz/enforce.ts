import { createHash } from 'node:crypto';
import { GraphQLError, Kind, type DocumentNode, type FieldNode, type SelectionSetNode, visit } from 'graphql';
import { atOrAbove, type AuditGate, type Classification, type ClassifiedAccess, type Treatment } from '../../lib/classification/model.js';
import { grantedTreatment } from '../../lib/classification/policy.js';
import { httpStatusOf } from '../../lib/errors.js';
import { forbiddenError } from '../../lib/forbidden.js';
import type { AccessPolicies } from '../../lib/policies.js';
import type { Principal } from '../../lib/principal.js';
import { checkRequirement, type Denial, type Requirement } from '../../lib/requirements.js';
import type { OperationAnalysis } from '../operation/analysis.js';
import type { Condition, GuardedField } from '../operation/authorization.js';

/** Refused because the audit trail cannot record the read now (fail-closed), not for lack of rights. */
export interface AuditRefusal {
  readonly reason: 'audit-unavailable';
}

export interface DeniedField {
  readonly field: GuardedField;
  readonly denial: Denial | AuditRefusal;
}

/** A classified field the caller reads treated: it misses the field's own rule, a role grants a treatment. */
export interface TreatedField {
  readonly field: GuardedField;
  readonly treatment: 'masked' | 'pseudonymized';
}

/** What one request may read of an operation, decided before it executes. */
export interface AccessDecision {
  /** Outermost denied fields only (a denied field inside a denied field is not read either way). */
  readonly denied: DeniedField[];
  readonly treated: TreatedField[];
  /** Every classified coordinate that runs, with the treatment the caller gets (denied inside a denied field too). */
  readonly classified: ClassifiedAccess[];
}

/**
 * Per request: for each guarded or classified field that will run (per @skip/@include), whether
 * the principal reads it clear, treated or not at all. A caller who meets the field's access rule
 * reads it clear; one who misses only the field's own rule reads it treated when one of its roles
 * grants a treatment for its classification (the most revealing one); otherwise it is denied.
 * With an audit gate that is closed and not accepting, classified fields at or above its level
 * that would have been read are refused instead.
 */
export function decideAccess(
  analysis: OperationAnalysis,
  principal: Principal,
  policies: AccessPolicies,
  variables: Readonly<Record<string, unknown>> | undefined,
  audit?: AuditGate,
): AccessDecision {
  if (analysis.guarded.length === 0) return { denied: [], treated: [], classified: [] };
  const variableDefaults = analysis.variableDefaults;
  const decided = new Map<Requirement, Denial | undefined>();
  const check = (requirement: Requirement): Denial | undefined => {
    if (decided.has(requirement)) return decided.get(requirement);
    const denial = checkRequirement(requirement, principal, policies);
    decided.set(requirement, denial);
    return denial;
  };
  let auditClosed: boolean | undefined;
  const auditRefuses = (classification: Classification): boolean => {
    if (!audit || audit.failMode !== 'closed' || !atOrAbove(classification.level, audit.level)) return false;
    // Asked once per operation: every audited field of it gets the same answer.
    auditClosed ??= !audit.accepting();
    return auditClosed;
  };
  const denied: DeniedField[] = [];
  const treated: TreatedField[] = [];
  const reads: { field: GuardedField; treatment: Treatment }[] = [];
  for (const field of analysis.guarded) {
    if (!field.conditions.every((c) => conditionHolds(c, variables, variableDefaults))) continue;
    const denial = check(field.requirement);
    const classification = field.classification;
    if (!classification) {
      if (denial) denied.push({ field, denial });
      continue;
    }
    let treatment: Treatment = 'clear';
    if (denial) treatment = check(field.residual) ? 'denied' : grantedTreatment(policies, principal.roles, classification);
    if (treatment !== 'denied' && auditRefuses(classification)) {
      denied.push({ field, denial: { reason: 'audit-unavailable' } });
      reads.push({ field, treatment: 'denied' });
      continue;
    }
    reads.push({ field, treatment });
    if (treatment === 'denied') denied.push({ field, denial: denial! });
    else if (treatment !== 'clear') treated.push({ field, treatment });
  }
  const outermost = new Set(denied.map((d) => d.field.path.join('\u0000')));
  const insideDenied = (path: readonly string[]) => path.some((_, i) => i > 0 && outermost.has(path.slice(0, i).join('\u0000')));
  const classified = new Map<string, ClassifiedAccess>();
  for (const { field, treatment } of reads) {
    const seen = insideDenied(field.path) ? 'denied' : treatment;
    const key = `${field.coordinate}\u0000${seen}`;
    if (!classified.has(key)) classified.set(key, { coordinate: field.coordinate, classification: field.classification!, treatment: seen });
  }
  return {
    denied: denied.filter((d) => !insideDenied(d.field.path)),
    treated: treated.filter((t) => !insideDenied(t.field.path)),
    classified: [...classified.values()],
  };
}

function conditionHolds(condition: Condition, variables: Readonly<Record<string, unknown>> | undefined, defaults: ReadonlyMap<string, boolean>): boolean {
  let value: unknown;
  if ('literal' in condition) value = condition.literal;
  else value = variables?.[condition.variable] ?? defaults.get(condition.variable);
  // Unknown at this point (validation will refuse it anyway): treat the field as selected, never as skipped.
  if (typeof value !== 'boolean') return true;
  return condition.directive === 'include' ? value : !value;
}

/**
 * The client-facing error for one denied field, with its path and coordinate: FORBIDDEN naming what
 * is missing, or AUDIT_UNAVAILABLE when only the audit trail stood in the way.
 */
export function forbiddenFieldError(denied: DeniedField, options: { rejectsRequest?: boolean } = {}): GraphQLError {
  const { field, denial } = denied;
  if (denial.reason !== 'audit-unavailable') return forbiddenError(field.coordinate, denial, { path: field.path, rejectsRequest: options.rejectsRequest });
  const extensions: Record<string, unknown> = { code: 'AUDIT_UNAVAILABLE', coordinate: field.coordinate };
  if (options.rejectsRequest) extensions.http = { status: httpStatusOf('AUDIT_UNAVAILABLE') };
  return new GraphQLError(`${field.coordinate} cannot be read now: its reads are audited and the audit trail is unavailable`, { path: [...field.path], extensions });
}

/** Where to put one null back, and on which objects. */
export interface NullPlacement {
  readonly path: readonly string[];
  /** Only objects of these concrete types (read from a `__typename` added for the purpose); all when undefined. */
  readonly onTypes: readonly string[] | undefined;
}

/** The operation without the denied fields, and how to put nulls back into its result. */
export interface FilteredOperation {
  readonly document: DocumentNode;
  /** Distinct per filtered shape, so the gateway's query plan cache never mixes shapes. */
  readonly queryHash: string;
  /** Fields set to null in every (matching) object holding them. */
  readonly nullValues: readonly NullPlacement[];
  /** Objects (matching) in the value at the path replaced by null (a denied non-null field inside them). */
  readonly nullItems: readonly NullPlacement[];
  /** Paths of fields added to keep selection sets non-empty or to learn object types; removed from results. */
  readonly added: readonly (readonly string[])[];
}

export const PLACEHOLDER_ALIAS = '_authorizationPlaceholder';
export const TYPENAME_ALIAS = '_authorizationTypename';

const typenameField = (alias: string): FieldNode => ({
  kind: Kind.FIELD,
  alias: { kind: Kind.NAME, value: alias },
  name: { kind: Kind.NAME, value: '__typename' },
});

/**
 * Builds (once per document, operation and set of denied fields) the filtered operation. `typedPaths`
 * are further selection sets (by their owner's path) that must return their object's `__typename`
 * (treatments narrowed by a type condition read it). `answeredElsewhere` are root introspection
 * selections the caller's granted view answers (authz/introspection.ts): removed, no null put back.
 */
export function filteredOperation(
  analysis: OperationAnalysis,
  denied: readonly DeniedField[],
  queryHash: string,
  typedPaths: readonly (readonly string[])[] = [],
  answeredElsewhere: ReadonlySet<FieldNode> = new Set(),
): FilteredOperation {
  const key = denied.map((d) => d.field.id).join(',') + (typedPaths.length ? `|${typedPaths.map((p) => p.join('.')).join(',')}` : '') + (answeredElsewhere.size ? '|introspection' : '');
  const cached = analysis.filtered.get(key) as FilteredOperation | undefined;
  if (cached) return cached;
  const removed = new Set<FieldNode>(answeredElsewhere);
  const nullValues: NullPlacement[] = [];
  const nullItems: NullPlacement[] = [];
  /** Selection sets (by the path of the field owning them) that need the object's __typename. */
  const typed = new Set<string>(typedPaths.map((p) => p.join('\u0000')));
  for (const { field } of denied) {
    const target = field.target;
    if (target.kind === 'value') {
      removed.add(target.node);
      nullValues.push({ path: target.path, onTypes: target.onTypes });
      if (target.onTypes) typed.add(target.path.slice(0, -1).join('\u0000'));
    } else if (target.kind === 'items') {
      removed.add(target.removed);
      nullItems.push({ path: target.path, onTypes: target.onTypes });
      if (target.onTypes) typed.add(target.path.join('\u0000'));
    }
  }
  const added: string[][] = [];
  const path: string[] = [];
  const operation = visit(analysis.operation, {
    Field: {
      enter(node) {
        if (removed.has(node)) return null;
        path.push(node.alias?.value ?? node.name.value);
        return undefined;
      },
      leave() {
        path.pop();
      },
    },
    SelectionSet: {
      leave(node): SelectionSetNode | undefined {
        const extra: FieldNode[] = [];
        if (typed.has(path.join('\u0000'))) extra.push(typenameField(TYPENAME_ALIAS));
        if (!hasField(node) && extra.length === 0) extra.push(typenameField(PLACEHOLDER_ALIAS));
        if (extra.length === 0) return undefined;
        added.push([...path]);
        return { ...node, selections: [...node.selections, ...extra] };
      },
    },
  });
  const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [operation] };
  const result: FilteredOperation = {
    document,
    queryHash: createHash('sha256').update(queryHash).update('\0authz:').update(key).digest('hex'),
    nullValues,
    nullItems,
    added,
  };
  analysis.filtered.set(key, result);
  return result;
}

function hasField(set: SelectionSetNode): boolean {
  return set.selections.some((s) => s.kind === Kind.FIELD || (s.kind === Kind.INLINE_FRAGMENT && hasField(s.selectionSet)));
}

const matches = (object: Record<string, unknown>, onTypes: readonly string[] | undefined) =>
  onTypes === undefined || onTypes.includes(object[TYPENAME_ALIAS] as string);

/** Puts the nulls of a filtered operation back into its result, in place. */
export function restoreNulls(data: Record<string, unknown>, filtered: FilteredOperation): void {
  for (const { path, onTypes } of filtered.nullValues) {
    forEachObject(data, path.slice(0, -1), (object) => {
      if (matches(object, onTypes)) object[path[path.length - 1]!] = null;
    });
  }
  for (const { path, onTypes } of filtered.nullItems) {
    forEachObject(data, path.slice(0, -1), (object) => {
      const key = path[path.length - 1]!;
      object[key] = nullObjects(object[key], onTypes);
    });
  }
  for (const path of filtered.added) {
    forEachObject(data, path, (object) => {
      delete object[PLACEHOLDER_ALIAS];
      delete object[TYPENAME_ALIAS];
    });
  }
}

function nullObjects(value: unknown, onTypes: readonly string[] | undefined): unknown {
  if (Array.isArray(value)) return value.map((item) => nullObjects(item, onTypes));
  if (value === null || typeof value !== 'object') return value;
  return matches(value as Record<string, unknown>, onTypes) ? null : value;
}

function forEachObject(value: unknown, path: readonly string[], fn: (object: Record<string, unknown>) => void): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    for (const item of value) forEachObject(item, path, fn);
    return;
  }
  if (typeof value !== 'object') return;
  const object = value as Record<string, unknown>;
  if (path.length === 0) fn(object);
  else forEachObject(object[path[0]!], path.slice(1), fn);
}
