import { z } from 'zod';
import { describeIssues, readYamlFile } from '../../lib/yaml-file.js';
import type { Principal } from '../../lib/principal.js';

export const DEFAULT_RATE_LIMITS_FILE = 'policies/rate-limits.yaml';

/** A caller's allowance for one window. */
export interface Budget {
  readonly requests: number;
  readonly cost: number;
}

export interface OperationLimits {
  readonly maxCost: number;
  readonly defaultListSize: number;
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxDirectives: number;
  readonly maxTokens: number;
  readonly maxBatch: number;
  /** Field selections of one operation once its fragments are expanded. */
  readonly maxFields: number;
  /** Bracket nesting (`{ [ (`) of a document and of its JSON variables, checked before parsing. */
  readonly maxNesting: number;
  /** List and input-object nesting of a literal value in a document (arguments, variable defaults). */
  readonly maxValueNesting: number;
}

/** Defaults of the limits a policy file may leave out (added after the first release of the file format). */
export const DEFAULT_MAX_FIELDS = 2_000;
export const DEFAULT_MAX_NESTING = 64;
export const DEFAULT_MAX_VALUE_NESTING = 12;

export interface RateLimitPolicy {
  readonly file: string;
  readonly windowMs: number;
  readonly operation: OperationLimits;
  /** The budget of one principal: its client's override, else the most generous tier of its roles, else the default. */
  budgetOf(principal: Principal): Budget;
  /** The budget shared by every principal of the principal's OAuth client, when one is configured. */
  ceilingOf(principal: Principal): Budget | undefined;
}

const budget = z.object({ requests: z.number().int().min(1), cost: z.number().int().min(1) }).strict();
const limit = (max: number) => z.number().int().min(1).max(max);
const fileSchema = z
  .object({
    windowSeconds: z.number().int().min(1).max(86_400),
    anonymous: budget,
    default: budget,
    tiers: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'tier names are lower-case words joined by -'), budget).default({}),
    roles: z.record(z.string(), z.string()).default({}),
    clients: z.record(z.string().min(1), budget).default({}),
    clientCeilings: z.record(z.string().min(1), budget).default({}),
    operation: z
      .object({
        maxCost: limit(100_000_000),
        defaultListSize: limit(10_000),
        maxDepth: limit(1_000),
        maxAliases: limit(10_000),
        maxDirectives: limit(10_000),
        maxTokens: limit(1_000_000),
        maxBatch: limit(1_000),
        maxFields: limit(100_000).default(DEFAULT_MAX_FIELDS),
        // Deep enough for any real document; far below where a recursive parser runs out of stack.
        maxNesting: limit(1_000).default(DEFAULT_MAX_NESTING),
        // @apollo/federation's planner walks a literal's lists twice per level: 2^n in its depth.
        maxValueNesting: limit(30).default(DEFAULT_MAX_VALUE_NESTING),
      })
      .strict(),
  })
  .strict();

export class RateLimitPolicyError extends Error {
  override readonly name = 'RateLimitPolicyError';
}

export function loadRateLimitPolicy(file: string = DEFAULT_RATE_LIMITS_FILE, knownRoles?: ReadonlySet<string>): RateLimitPolicy {
  return parseRateLimitPolicy(readYamlFile(file, (message) => new RateLimitPolicyError(message)), file, knownRoles);
}

export function parseRateLimitPolicy(raw: unknown, file: string, knownRoles?: ReadonlySet<string>): RateLimitPolicy {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new RateLimitPolicyError(describeIssues(file, parsed.error));
  }
  const data = parsed.data;
  const problems: string[] = [];
  for (const [role, tier] of Object.entries(data.roles)) {
    if (!Object.hasOwn(data.tiers, tier)) problems.push(`${file}: roles.${role}: unknown tier "${tier}"`);
    if (knownRoles && !knownRoles.has(role)) problems.push(`${file}: roles.${role}: not a role of the access policy`);
  }
  // A document of depth d nests its selection sets d + 1 deep: a nesting bound at or below the depth would refuse allowed documents.
  if (data.operation.maxNesting <= data.operation.maxDepth) {
    problems.push(`${file}: operation.maxNesting: must be greater than operation.maxDepth (${data.operation.maxDepth})`);
  }
  if (problems.length) throw new RateLimitPolicyError(problems.join('\n'));

  const generous = (a: Budget, b: Budget): Budget => (b.requests > a.requests || (b.requests === a.requests && b.cost > a.cost) ? b : a);
  const byPrincipal = new WeakMap<Principal, Budget>();
  return Object.freeze({
    file,
    windowMs: data.windowSeconds * 1000,
    operation: Object.freeze({ ...data.operation }),
    budgetOf(principal: Principal): Budget {
      if (principal.kind === 'anonymous') return data.anonymous;
      let found = byPrincipal.get(principal);
      if (found) return found;
      // Client ids and roles come from tokens: look them up as own keys only.
      const client = principal.clientId && Object.hasOwn(data.clients, principal.clientId) ? data.clients[principal.clientId] : undefined;
      if (client) found = client;
      else {
        for (const role of principal.roles) {
          const tier = Object.hasOwn(data.roles, role) ? data.roles[role] : undefined;
          if (tier) found = found ? generous(found, data.tiers[tier]!) : data.tiers[tier]!;
        }
      }
      found ??= data.default;
      byPrincipal.set(principal, found);
      return found;
    },
    ceilingOf(principal: Principal): Budget | undefined {
      if (principal.kind === 'anonymous' || !principal.clientId) return undefined;
      return Object.hasOwn(data.clientCeilings, principal.clientId) ? data.clientCeilings[principal.clientId] : undefined;
    },
  });
}
