import { describe, expect, it } from 'vitest';
import { principalFromClaims } from '../gateway/auth/claims.js';
import { DEFAULT_CLIENT_ID_CLAIMS, DEFAULT_ROLES_CLAIMS, DEFAULT_SCOPES_CLAIMS } from '../gateway/auth/issuers.js';
import { loadAccessPolicies, PolicyError, parseAccessPolicies } from '../lib/policies.js';

const policies = loadAccessPolicies();
const paths = { rolesClaims: DEFAULT_ROLES_CLAIMS, scopesClaims: DEFAULT_SCOPES_CLAIMS, clientIdClaims: DEFAULT_CLIENT_ID_CLAIMS };
const base = { iss: 'https://idp.example', sub: 'u1' };

describe('claims -> principal', () => {
  it('reads top-level roles, Keycloak realm_access.roles, a scope string or an scp array; roles add their scopes', () => {
    expect(principalFromClaims({ ...base, roles: ['marketing-analyst'], azp: 'web' }, paths, policies)).toEqual({
      kind: 'authenticated', issuer: 'https://idp.example', subject: 'u1', clientId: 'web',
      roles: new Set(['marketing-analyst']), scopes: new Set(['customer:read', 'product:read']),
    });
    expect(principalFromClaims({ ...base, realm_access: { roles: ['risk-analyst'] } }, paths, policies).scopes).toEqual(new Set(['customer:read', 'finance:read', 'risk:read']));
    expect(principalFromClaims({ ...base, scope: 'customer:pii  usage:read' }, paths, policies).scopes).toEqual(new Set(['customer:pii', 'usage:read']));
    expect(principalFromClaims({ ...base, scp: ['finance:read'], client_id: 'svc' }, paths, policies)).toMatchObject({ scopes: new Set(['finance:read']), clientId: 'svc' });
  });

  it('matches exactly: no substrings, no case folding, no roles from a string', () => {
    const p = principalFromClaims({ ...base, roles: 'admin risk-analyst', scope: 'customer:PII customer:pii:all', realm_access: { roles: ['Admin'] } }, paths, policies);
    expect(p.roles).toEqual(new Set(['Admin']));
    expect(p.scopes).toEqual(new Set(['customer:PII', 'customer:pii:all']));
  });
});

describe('policies/access.yaml validation', () => {
  const valid = { scopes: { 'a:read': 'A' }, roles: { reader: ['a:read'] }, policies: { p: { description: 'P', anyOf: [{ roles: ['reader'] }] } } };
  const error = (raw: unknown) => {
    try {
      parseAccessPolicies(raw, 'policies/test.yaml');
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyError);
      return (e as Error).message;
    }
    throw new Error('expected a PolicyError');
  };

  it('accepts the shipped file and a minimal one', () => {
    expect(policies.roles.size).toBe(8);
    expect(parseAccessPolicies(valid, 'x').roles.get('reader')).toEqual(new Set(['a:read']));
  });

  it('names the file and the entry of every mistake', () => {
    expect(error({ ...valid, roles: { reader: ['a:write'] } })).toBe('policies/test.yaml: roles.reader.0: unknown scope "a:write" (declare it under scopes)');
    expect(error({ ...valid, policies: { p: { description: 'P', anyOf: [{ roles: ['writer'] }] } } })).toBe('policies/test.yaml: policies.p.anyOf.0.roles: unknown role "writer"');
    expect(error({ ...valid, roles: { Reader: ['a:read'] } })).toContain('policies/test.yaml: roles.Reader');
    expect(error({ ...valid, roles: { reader: [] } })).toContain('policies/test.yaml: roles.reader: a role grants at least one scope');
    expect(error({ ...valid, surprise: 1 })).toContain('policies/test.yaml: (top level)');
    expect(error({ ...valid, policies: { p: { description: 'P', anyOf: [{}] } } })).toContain('policies/test.yaml: policies.p.anyOf.0: an entry needs roles or scopes');
  });
});
