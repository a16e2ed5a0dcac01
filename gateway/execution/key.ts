import { createHash } from 'node:crypto';
import type { Principal } from '../../lib/principal.js';

/**
 * What authorization reads of a principal, and so everything about the caller that can change an
 * answer when the operation does not read the subject itself: whether it is signed in, its roles
 * (named policies test roles) and its effective scopes (lib/requirements.ts, lib/policies.ts; the
 * data products' shield reads the same two). Sorted, so equal grants give equal strings whatever
 * order the token listed them in. Issuer, subject and client are left out on purpose: two callers
 * holding equal grants are allowed exactly the same fields.
 */
export function grantSetOf(principal: Principal): string {
  const sorted = (values: ReadonlySet<string>) => [...values].sort();
  return canonicalJson({ kind: principal.kind, roles: sorted(principal.roles), scopes: sorted(principal.scopes) });
}

/** Who exactly asks: for operations whose answer may depend on the subject, not only on its grants. */
export function subjectOf(principal: Principal): string {
  return principal.kind === 'anonymous' ? 'anonymous' : `${principal.issuer}\u0000${principal.subject}`;
}

/** Everything that changes the answer of one execution. */
export interface ExecutionKeyParts {
  /** The supergraph being served (its hash): a reload never answers from the previous one. */
  readonly generation: string;
  /** The SHA-256 of the document as executed (after authorization removed what the caller may not read). */
  readonly queryHash: string;
  readonly operationName: string | null | undefined;
  readonly variables: Readonly<Record<string, unknown>> | undefined;
  readonly grants: string;
  /** Set when the operation reads subject-bound data (see reach.ts): the answer is then one subject's alone. */
  readonly subject: string | undefined;
}

/** A fixed-length key (SHA-256, hex): variables and subjects never appear in a key, in memory or in Redis. */
export function executionKey(parts: ExecutionKeyParts): string {
  return createHash('sha256')
    .update(canonicalJson([parts.generation, parts.queryHash, parts.operationName ?? null, parts.variables ?? {}, parts.grants, parts.subject ?? null]))
    .digest('hex');
}

/** JSON with object keys sorted at every level: `{a, b}` and `{b, a}` are the same variables. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    const record = inner as Record<string, unknown>;
    return Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k]]));
  });
}
