import type { AccessPolicies } from '../../lib/policies.js';
import { scopesOfRoles } from '../../lib/policies.js';
import type { Principal } from '../../lib/principal.js';

export interface ClaimPaths {
  readonly rolesClaims: readonly string[];
  readonly scopesClaims: readonly string[];
  readonly clientIdClaims: readonly string[];
}

function at(payload: Record<string, unknown>, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
}

/**
 * A verified token's claims -> principal. Roles and scopes come from the first configured path
 * that holds them; the effective scopes add what the roles grant. Matching is exact throughout.
 */
export function principalFromClaims(payload: Record<string, unknown>, paths: ClaimPaths, policies: AccessPolicies): Principal {
  const find = (list: readonly string[], read: (value: unknown) => string[] | undefined) => {
    for (const path of list) {
      const found = read(at(payload, path));
      if (found) return found;
    }
    return [];
  };
  // Roles: an array of strings only. Scopes: OAuth's space-separated `scope` string or an array (`scp`).
  const roles = new Set(find(paths.rolesClaims, stringArray));
  const scopes = new Set(find(paths.scopesClaims, (value) => (typeof value === 'string' ? value.split(' ').filter(Boolean) : stringArray(value))));
  for (const scope of scopesOfRoles(policies, roles)) scopes.add(scope);
  let clientId: string | undefined;
  for (const path of paths.clientIdClaims) {
    const value = at(payload, path);
    if (typeof value === 'string' && value) {
      clientId = value;
      break;
    }
  }
  return {
    kind: 'authenticated',
    issuer: String(payload.iss),
    subject: typeof payload.sub === 'string' && payload.sub ? payload.sub : (clientId ?? 'unknown'),
    clientId,
    roles,
    scopes,
  };
}
