import { z } from 'zod';
import { CLASSIFICATION_LEVELS, PERSONAL_DATA_KINDS, TREATMENTS, type Treatment } from './classification/model.js';
import { describeIssues, readYamlFile } from './yaml-file.js';

/** The access rules of policies/access.yaml, validated: roles -> scopes and named policies. */
export interface AccessPolicies {
  readonly file: string;
  readonly scopes: ReadonlyMap<string, string>;
  readonly roles: ReadonlyMap<string, ReadonlySet<string>>;
  readonly policies: ReadonlyMap<string, Policy>;
  /**
   * Role -> what a holder of the role who does not meet a classified field's access rule sees of
   * it, by `LEVEL` or `LEVEL.KIND` (the more specific key wins). See lib/classification/policy.ts.
   */
  readonly treatments: ReadonlyMap<string, ReadonlyMap<string, Treatment>>;
}

export interface PolicyCondition {
  /** Holds when the principal has at least one of these roles. */
  readonly roles?: readonly string[];
  /** Holds when the principal has every one of these scopes. */
  readonly scopes?: readonly string[];
}

export interface Policy {
  readonly description: string;
  /** Passes when any entry passes; an entry passes when all its conditions hold. */
  readonly anyOf: readonly PolicyCondition[];
}

/** What a policy is evaluated against (a subset of the principal). */
export interface PolicySubject {
  readonly roles: ReadonlySet<string>;
  readonly scopes: ReadonlySet<string>;
}

export const DEFAULT_POLICIES_FILE = 'policies/access.yaml';

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
}

const NAME = /^[a-z][a-z0-9-]*(?::[a-z][a-z0-9-]*)*$/;
const name = (what: string) => z.string().regex(NAME, `${what} names are lower-case words joined by '-' (scopes may use ':')`);

const fileSchema = z
  .object({
    scopes: z.record(name('scope'), z.string().min(1, 'describe what the scope grants')),
    roles: z.record(name('role'), z.array(z.string()).min(1, 'a role grants at least one scope')),
    policies: z
      .record(
        name('policy'),
        z
          .object({
            description: z.string().min(1),
            anyOf: z
              .array(
                z
                  .object({ roles: z.array(z.string()).min(1).optional(), scopes: z.array(z.string()).min(1).optional() })
                  .strict()
                  .refine((c) => c.roles !== undefined || c.scopes !== undefined, 'an entry needs roles or scopes'),
              )
              .min(1),
          })
          .strict(),
      )
      .default({}),
    treatments: z.record(name('role'), z.record(z.string(), z.enum(TREATMENTS))).default({}),
  })
  .strict();

/** `PII` or `PII.EMAIL`: a level, optionally narrowed to one kind of personal data. */
const TREATMENT_KEY = new RegExp(`^(${CLASSIFICATION_LEVELS.join('|')})(\\.(${PERSONAL_DATA_KINDS.join('|')}))?$`);

/** Reads and validates the policy file; every problem is reported with the file and the entry. */
export function loadAccessPolicies(file: string = DEFAULT_POLICIES_FILE): AccessPolicies {
  return parseAccessPolicies(readYamlFile(file, (message) => new PolicyError(message)), file);
}

export function parseAccessPolicies(raw: unknown, file: string): AccessPolicies {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PolicyError(describeIssues(file, parsed.error));
  }
  const { scopes, roles, policies, treatments } = parsed.data;
  const problems: string[] = [];
  const known = new Set(Object.keys(scopes));
  for (const [role, granted] of Object.entries(roles)) {
    granted.forEach((scope, i) => {
      if (!known.has(scope)) problems.push(`${file}: roles.${role}.${i}: unknown scope "${scope}" (declare it under scopes)`);
    });
  }
  for (const [policy, { anyOf }] of Object.entries(policies)) {
    anyOf.forEach((entry, i) => {
      for (const role of entry.roles ?? []) if (!Object.hasOwn(roles, role)) problems.push(`${file}: policies.${policy}.anyOf.${i}.roles: unknown role "${role}"`);
      for (const scope of entry.scopes ?? []) if (!known.has(scope)) problems.push(`${file}: policies.${policy}.anyOf.${i}.scopes: unknown scope "${scope}"`);
    });
  }
  for (const [role, byKey] of Object.entries(treatments)) {
    if (!Object.hasOwn(roles, role)) problems.push(`${file}: treatments.${role}: unknown role "${role}" (declare it under roles)`);
    for (const key of Object.keys(byKey)) {
      if (!TREATMENT_KEY.test(key)) {
        problems.push(`${file}: treatments.${role}.${key}: expected LEVEL or LEVEL.KIND (levels ${CLASSIFICATION_LEVELS.join(', ')}; kinds ${PERSONAL_DATA_KINDS.join(', ')})`);
      }
    }
  }
  if (problems.length) throw new PolicyError(problems.join('\n'));
  return Object.freeze({
    file,
    scopes: new Map(Object.entries(scopes)),
    roles: new Map(Object.entries(roles).map(([role, granted]) => [role, new Set(granted)])),
    policies: new Map(Object.entries(policies)),
    treatments: new Map(Object.entries(treatments).map(([role, byKey]) => [role, new Map(Object.entries(byKey))])),
  });
}

/** The scopes a set of roles grants; unknown roles grant nothing. */
export function scopesOfRoles(policies: AccessPolicies, roles: Iterable<string>): Set<string> {
  const scopes = new Set<string>();
  for (const role of roles) for (const scope of policies.roles.get(role) ?? []) scopes.add(scope);
  return scopes;
}

/** Whether the named policy passes; an undeclared policy never passes (deny by default). */
export function evaluatePolicy(policies: AccessPolicies, name: string, subject: PolicySubject): boolean {
  const policy = policies.policies.get(name);
  if (!policy) return false;
  return policy.anyOf.some(
    (entry) =>
      (entry.roles === undefined || entry.roles.some((role) => subject.roles.has(role))) &&
      (entry.scopes === undefined || entry.scopes.every((scope) => subject.scopes.has(scope))),
  );
}
