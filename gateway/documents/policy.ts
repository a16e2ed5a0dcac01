import { z } from 'zod';
import type { Principal } from '../../lib/principal.js';
import { describeIssues, readYamlFile } from '../../lib/yaml-file.js';

export const DEFAULT_OPERATIONS_POLICY_FILE = 'policies/operations.yaml';

/** What a client may send: only its manifests' documents, or anything. */
export const OPERATION_POLICIES = ['trusted-only', 'open'] as const;
export type OperationPolicy = (typeof OPERATION_POLICIES)[number];

/** policies/operations.yaml, validated: the policy of each client id, and the default of each mode. */
export interface OperationsPolicy {
  readonly file: string;
  /** The policy of a request's client: its token's client id when listed, else the mode's default. */
  policyOf(principal: Principal): OperationPolicy;
  /** The clients listed as trusted-only (to warn about those without a manifest). */
  readonly trustedOnly: readonly string[];
}

export class OperationsPolicyError extends Error {
  override readonly name = 'OperationsPolicyError';
}

const policy = z.enum(OPERATION_POLICIES);
const fileSchema = z
  .object({
    default: z.object({ production: policy, development: policy }).strict(),
    clients: z.record(z.string().min(1).max(256), policy).nullable().default({}),
  })
  .strict();

export function loadOperationsPolicy(file: string, mode: 'development' | 'production'): OperationsPolicy {
  return parseOperationsPolicy(readYamlFile(file, (message) => new OperationsPolicyError(message)), file, mode);
}

export function parseOperationsPolicy(raw: unknown, file: string, mode: 'development' | 'production'): OperationsPolicy {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new OperationsPolicyError(describeIssues(file, parsed.error));
  const clients = new Map(Object.entries(parsed.data.clients ?? {}));
  const fallback = parsed.data.default[mode];
  return Object.freeze({
    file,
    // Client ids come from tokens: looked up in a Map, never as object keys.
    policyOf: (principal: Principal) => (principal.kind === 'authenticated' && principal.clientId !== undefined ? clients.get(principal.clientId) : undefined) ?? fallback,
    trustedOnly: [...clients].filter(([, p]) => p === 'trusted-only').map(([client]) => client),
  });
}
