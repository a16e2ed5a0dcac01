import { readFileSync } from 'node:fs';
import { Supergraph } from '@apollo/federation-internals';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { decideAccess } from '../gateway/authz/enforce.js';
import { takeOverAuthorization } from '../gateway/authz/takeover.js';
import { applyTreatments, treatmentPlan } from '../gateway/authz/treat.js';
import { createOperationFactsCache } from '../gateway/operation/cache.js';
import { indexCost } from '../gateway/operation/cost.js';
import { indexRequirements } from '../lib/auth-directives.js';
import type { AuditGate } from '../lib/classification/model.js';
import { createPseudonymizer } from '../lib/classification/pseudonym.js';
import type { Principal } from '../lib/principal.js';
import { ClassificationError, describeClassification, indexClassifications } from '../lib/classification/index.js';
import { grantedTreatment, roleTreatment, validateTreatments } from '../lib/classification/policy.js';
import { loadAccessPolicies, parseAccessPolicies, PolicyError, scopesOfRoles } from '../lib/policies.js';
import { classificationWarnings, formatClassificationWarning } from '../scripts/classification-lint.js';
import { classificationWarningsOfProducts } from '../scripts/compose.js';
import { SUPERGRAPH_FILE } from './helpers/stack.js';

const supergraph = parse(readFileSync(SUPERGRAPH_FILE, 'utf8'));
const customerSdl = readFileSync(new URL('../schema/customer.graphql', import.meta.url), 'utf8');

/** What schema/customer.graphql says, read by eye: every field customer:pii protects, and the country. */
const EXPECTED = {
  'Customer.name': { level: 'PII', kind: 'NAME' },
  'Customer.firstName': { level: 'PII', kind: 'NAME' },
  'Customer.lastName': { level: 'PII', kind: 'NAME' },
  'Customer.fullName': { level: 'PII', kind: 'NAME' },
  'Customer.email': { level: 'PII', kind: 'EMAIL' },
  'Customer.phone': { level: 'PII', kind: 'PHONE' },
  'Customer.country': { level: 'INTERNAL', kind: 'ADDRESS' },
};

describe('the classification index', () => {
  it('reads the same classifications from the supergraph and from the customer subgraph', () => {
    // The supergraph also holds the platform's team mailbox, classified INTERNAL (not personal data).
    expect(Object.fromEntries(indexClassifications(supergraph))).toEqual({ ...EXPECTED, 'DataProductOwner.email': { level: 'INTERNAL' } });
    expect(Object.fromEntries(indexClassifications(parse(customerSdl)))).toEqual(EXPECTED);
  });

  it('every field that needs customer:pii is classified (no personal field left out)', () => {
    const protectedByPii = [...customerSdl.matchAll(/^ {2}(\w+)(?:\([^)]*\))?: [^\n]*(?:\n {4}@[^\n]*)*customer:pii/gm)].map((m) => `Customer.${m[1]}`);
    expect(protectedByPii.sort()).toEqual(Object.keys(EXPECTED).filter((c) => c !== 'Customer.country').sort());
  });

  it('follows renames (`as:`) and refuses a level or kind outside the vocabulary, naming the field', () => {
    const sdl = (level: string, kind = 'EMAIL') => parse(`
      extend schema @link(url: "https://specs.data-product-gateway.dev/classification/v0.1", as: "dc")
      type Query { email: String @dc(level: ${level}, kind: ${kind}) other: String }`);
    expect(Object.fromEntries(indexClassifications(sdl('PII')))).toEqual({ 'Query.email': { level: 'PII', kind: 'EMAIL' } });
    expect(Object.fromEntries(indexClassifications(sdl('"SENSITIVE_PII"', '"ID"')))).toEqual({ 'Query.email': { level: 'SENSITIVE_PII', kind: 'ID' } });
    expect(() => indexClassifications(sdl('SECRET'))).toThrow(new ClassificationError('@classification on Query.email: level must be one of PUBLIC, INTERNAL, CONFIDENTIAL, PII, SENSITIVE_PII, got SECRET'));
    expect(() => indexClassifications(sdl('PII', 'SHOE_SIZE'))).toThrow(/^@classification on Query\.email: kind must be one of EMAIL, PHONE/);
    expect(() => indexClassifications(sdl('3'))).toThrow('@classification on Query.email: level must be an enum value');
    // Not linked: a directive of the same name from elsewhere is not ours.
    expect(indexClassifications(parse('directive @classification(level: String) on FIELD_DEFINITION type Query { a: String @classification(level: "PII") }')).size).toBe(0);
  });

  it('the data dictionary: introspected descriptions end with the classification, before the access rule', () => {
    const api = parse(takeOverAuthorization(supergraph).gatewaySdl);
    const descriptions = new Map<string, string>();
    for (const d of api.definitions) {
      if (d.kind !== 'ObjectTypeDefinition' || d.name.value !== 'Customer') continue;
      for (const f of d.fields ?? []) descriptions.set(f.name.value, f.description?.value ?? '');
    }
    expect(descriptions.get('email')).toBe('Contact email address, lower case. Personal data.\n\nClassification: PII (EMAIL).\n\nAccess: reading this field needs scope customer:pii.');
    expect(descriptions.get('country')).toMatch(/\n\nClassification: INTERNAL \(ADDRESS\)\.$/);
    expect(descriptions.get('id')).not.toContain('Classification');
    expect(describeClassification({ level: 'CONFIDENTIAL', kind: undefined })).toBe('CONFIDENTIAL');
  });
});

describe('treatments in policies/access.yaml', () => {
  const base = { scopes: { 'a:read': 'A' }, roles: { reader: ['a:read'], other: ['a:read'] } };
  const parseWith = (treatments: unknown) => parseAccessPolicies({ ...base, treatments }, 'policies/test.yaml');
  const problems = (treatments: unknown) => {
    try {
      parseWith(treatments);
    } catch (error) {
      expect(error).toBeInstanceOf(PolicyError);
      return (error as Error).message;
    }
    return '';
  };

  it('the shipped file: data-scientist pseudonymized emails, masked phones and names; marketing-analyst denied', () => {
    const policies = loadAccessPolicies();
    const pii = (kind: 'EMAIL' | 'PHONE' | 'NAME') => ({ level: 'PII' as const, kind });
    expect(grantedTreatment(policies, ['data-scientist'], pii('EMAIL'))).toBe('pseudonymized');
    expect(grantedTreatment(policies, ['data-scientist'], pii('PHONE'))).toBe('masked');
    expect(grantedTreatment(policies, ['data-scientist'], pii('NAME'))).toBe('masked');
    for (const role of ['marketing-analyst', 'risk-analyst', 'data-product-owner']) expect(grantedTreatment(policies, [role], pii('EMAIL'))).toBe('denied');
    expect(grantedTreatment(policies, [], pii('EMAIL'))).toBe('denied');
    expect(() => validateTreatments(policies, supergraph)).not.toThrow();
  });

  it('the more specific key wins for a role; across roles the most revealing treatment wins', () => {
    const policies = parseWith({ reader: { PII: 'masked', 'PII.EMAIL': 'denied' }, other: { 'PII.EMAIL': 'pseudonymized' } });
    expect(roleTreatment(policies, 'reader', { level: 'PII', kind: 'EMAIL' })).toBe('denied');
    expect(roleTreatment(policies, 'reader', { level: 'PII', kind: 'PHONE' })).toBe('masked');
    expect(roleTreatment(policies, 'reader', { level: 'PII', kind: undefined })).toBe('masked');
    expect(roleTreatment(policies, 'reader', { level: 'SENSITIVE_PII', kind: 'EMAIL' })).toBe('denied');
    expect(grantedTreatment(policies, ['reader', 'other'], { level: 'PII', kind: 'EMAIL' })).toBe('pseudonymized');
    expect(grantedTreatment(policies, ['reader', 'other'], { level: 'PII', kind: 'NAME' })).toBe('masked');
    expect(grantedTreatment(policies, ['nobody'], { level: 'PII', kind: 'NAME' })).toBe('denied');
  });

  it('is validated at start, naming the file and the entry', () => {
    expect(problems({ ghost: { PII: 'masked' } })).toBe('policies/test.yaml: treatments.ghost: unknown role "ghost" (declare it under roles)');
    expect(problems({ reader: { SECRET: 'masked' } })).toMatch(/^policies\/test\.yaml: treatments\.reader\.SECRET: expected LEVEL or LEVEL\.KIND/);
    expect(problems({ reader: { 'PII.SHOE': 'masked' } })).toMatch(/^policies\/test\.yaml: treatments\.reader\.PII\.SHOE: expected LEVEL or LEVEL\.KIND/);
    expect(problems({ reader: { PII: 'hidden' } })).toContain('policies/test.yaml');
    expect(problems({ reader: { PII: 'hidden' } })).toContain('treatments.reader.PII');
  });

  it('masked and pseudonymized only where every field of that classification is a String or ID', () => {
    const schema = parse(`
      extend schema @link(url: "https://specs.data-product-gateway.dev/classification/v0.1", import: ["@classification"])
      type Query { person: Person }
      type Person { email: String! @classification(level: PII, kind: EMAIL) born: Int @classification(level: PII, kind: DATE_OF_BIRTH) tags: [ID] @classification(level: PII) }`);
    expect(() => validateTreatments(parseWith({ reader: { 'PII.EMAIL': 'masked', 'PII.DATE_OF_BIRTH': 'denied', PII: 'pseudonymized' } }), schema)).not.toThrow();
    expect(() => validateTreatments(parseWith({ reader: { PII: 'masked' } }), schema)).toThrow(
      new PolicyError('policies/test.yaml: treatments.reader.PII: masked applies to Person.born (PII (DATE_OF_BIRTH)), a Int; only String and ID fields can be masked'),
    );
    expect(() => validateTreatments(parseWith({ reader: { 'PII.DATE_OF_BIRTH': 'pseudonymized' } }), schema)).toThrow(/treatments\.reader\.PII\.DATE_OF_BIRTH: pseudonymized applies to Person\.born/);
    expect(() => validateTreatments(parseWith({ reader: { 'PII.DATE_OF_BIRTH': 'clear' } }), schema)).not.toThrow();
  });
});

describe('what authorization records for the audit trail (OperationState.classified)', () => {
  const sdl = readFileSync(SUPERGRAPH_FILE, 'utf8');
  const schema = Supergraph.build(sdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
  const facts = createOperationFactsCache(indexRequirements(supergraph), indexCost(supergraph), { defaultListSize: 10, maxFields: 2000 }, indexClassifications(supergraph));
  const policies = loadAccessPolicies();
  const as = (...roles: string[]): Principal => ({ kind: 'authenticated', issuer: 'i', subject: 's', clientId: undefined, roles: new Set(roles), scopes: scopesOfRoles(policies, roles) });
  const decide = (query: string, principal: Principal, variables: Record<string, unknown> = {}, audit?: AuditGate) =>
    decideAccess(facts.factsOf(schema, parse(query), undefined), principal, policies, variables, audit);
  const pii = (kind: string) => ({ level: 'PII', kind });
  const QUERY = 'query Q($tel: Boolean!) { customer(id: "C1") { a: email b: email phone @include(if: $tel) country ...F } } fragment F on Customer { name }';

  it('every classified coordinate selected once, with the treatment each role gets; skipped fields are not read', () => {
    expect(decide(QUERY, as('admin'), { tel: true }).classified).toEqual([
      { coordinate: 'Customer.email', classification: pii('EMAIL'), treatment: 'clear' },
      { coordinate: 'Customer.phone', classification: pii('PHONE'), treatment: 'clear' },
      { coordinate: 'Customer.country', classification: { level: 'INTERNAL', kind: 'ADDRESS' }, treatment: 'clear' },
      { coordinate: 'Customer.name', classification: pii('NAME'), treatment: 'clear' },
    ]);
    const scientist = decide(QUERY, as('data-scientist'), { tel: false });
    expect(scientist.classified.map((c) => [c.coordinate, c.treatment])).toEqual([
      ['Customer.email', 'pseudonymized'],
      ['Customer.country', 'clear'],
      ['Customer.name', 'masked'],
    ]);
    expect(scientist.denied).toEqual([]);
    expect(scientist.treated.map((t) => [t.field.path.join('.'), t.treatment])).toEqual([
      ['customer.a', 'pseudonymized'],
      ['customer.b', 'pseudonymized'],
      ['customer.name', 'masked'],
    ]);
    const marketing = decide(QUERY, as('marketing-analyst'), { tel: true });
    expect(marketing.classified.map((c) => [c.coordinate, c.treatment])).toEqual([
      ['Customer.email', 'denied'],
      ['Customer.phone', 'denied'],
      ['Customer.country', 'clear'],
      ['Customer.name', 'denied'],
    ]);
    expect(marketing.denied.map((d) => d.field.path.join('.'))).toEqual(['customer.a', 'customer.b', 'customer.phone', 'customer.name']);
  });

  it('a classified field under a denied field is recorded denied (the caller asked for it and got nothing)', () => {
    const decision = decide('{ transactions(first: 1) { customer { email country } } }', as('customer-success-agent'));
    expect(decision.denied.map((d) => d.field.coordinate)).toEqual(['Query.transactions']);
    expect(decision.classified.map((c) => [c.coordinate, c.treatment])).toEqual([
      ['Customer.email', 'denied'],
      ['Customer.country', 'denied'],
    ]);
  });

  it('an audit gate closed and not accepting refuses the fields at or above its level that would be read, and records them denied', () => {
    let asked = 0;
    const gate = (failMode: 'closed' | 'open'): AuditGate => ({ level: 'PII', failMode, accepting: () => (asked++, false) });
    const closed = decide(QUERY, as('data-scientist'), { tel: true }, gate('closed'));
    expect(closed.classified.map((c) => [c.coordinate, c.treatment])).toEqual([
      ['Customer.email', 'denied'],
      ['Customer.phone', 'denied'],
      ['Customer.country', 'clear'],
      ['Customer.name', 'denied'],
    ]);
    expect(closed.denied.map((d) => [d.field.path.join('.'), d.denial.reason])).toEqual([
      ['customer.a', 'audit-unavailable'],
      ['customer.b', 'audit-unavailable'],
      ['customer.phone', 'audit-unavailable'],
      ['customer.name', 'audit-unavailable'],
    ]);
    expect(closed.treated).toEqual([]);
    // Asked once per operation, not once per field.
    expect(asked).toBe(1);
    const open = decide(QUERY, as('data-scientist'), { tel: true }, gate('open'));
    expect(open.classified.map((c) => c.treatment)).toEqual(['pseudonymized', 'masked', 'clear', 'masked']);
    expect(open.denied).toEqual([]);
  });
});

describe('schema check: personal data without a classification is a warning', () => {
  const sdl = (fields: string) =>
    parse(`extend schema @link(url: "https://specs.data-product-gateway.dev/classification/v0.1", import: ["@classification"])
      type Query { person: Person product: Product }
      type Person { id: ID! ${fields} }
      type Product { name: String sku: ID }`);

  it('names each unclassified field named like personal data; a bare name only on a type holding personal data', () => {
    expect(classificationWarnings(sdl('contactEmail: String mobilePhone: String dateOfBirth: String homeAddress: String lastName: String name: String')).map((w) => w.coordinate)).toEqual([
      'Person.contactEmail',
      'Person.mobilePhone',
      'Person.dateOfBirth',
      'Person.homeAddress',
      'Person.lastName',
      'Person.name',
    ]);
    expect(classificationWarnings(sdl('email: String @classification(level: PII, kind: EMAIL) name: String'))).toEqual([
      { coordinate: 'Person.name', message: 'named like personal data but has no @classification (nothing masks, pseudonymizes or audits it)' },
    ]);
    expect(classificationWarnings(sdl('email: String @classification(level: PII, kind: EMAIL) name: String @classification(level: PII, kind: NAME)'))).toEqual([]);
    expect(formatClassificationWarning('schema/x.graphql', { coordinate: 'Person.name', message: 'm' })).toBe('schema/x.graphql: Person.name: m [CLASSIFICATION_MISSING]');
  });

  it('the products as they are: every field named like personal data is classified; an unclassified one is flagged, not blocked', () => {
    expect(classificationWarningsOfProducts()).toEqual([]);
    const withoutEmail = customerSdl.replace('@classification(level: PII, kind: EMAIL)', '');
    expect(classificationWarningsOfProducts({ customer: withoutEmail })).toContain(
      'schema/customer.graphql: Customer.email: named like personal data but has no @classification (nothing masks, pseudonymizes or audits it) [CLASSIFICATION_MISSING]',
    );
  });
});

describe('applying a treatment plan to a result', () => {
  const sdl = readFileSync(SUPERGRAPH_FILE, 'utf8');
  const schema = Supergraph.build(sdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
  const facts = createOperationFactsCache(indexRequirements(supergraph), indexCost(supergraph), { defaultListSize: 10, maxFields: 2000 }, indexClassifications(supergraph));
  const policies = loadAccessPolicies();
  const scientist: Principal = { kind: 'authenticated', issuer: 'i', subject: 's', clientId: undefined, roles: new Set(['data-scientist']), scopes: scopesOfRoles(policies, ['data-scientist']) };
  const pseudonyms = createPseudonymizer(Buffer.alloc(32, 3));

  it('treats every path (aliases, lists, nested entities) in one walk, copy on write: the executed result is never changed', () => {
    const analysis = facts.factsOf(schema, parse('{ customers(first: 2) { id mail: email name } transactions(first: 1) { customer { phone } } }'), undefined);
    const { treated } = decideAccess(analysis, scientist, policies, {});
    const plan = treatmentPlan(analysis, treated);
    expect(treatmentPlan(analysis, treated)).toBe(plan);
    const executed = {
      customers: [{ id: 'C1', mail: 'ada@example.com', name: 'Ada Lovelace' }, { id: 'C2', mail: null, name: 'Bob' }],
      transactions: [{ customer: { phone: '+44 20 7946 0789' } }, { customer: null }],
    };
    const before = structuredClone(executed);
    const out = applyTreatments(executed, plan, pseudonyms);
    expect(executed).toEqual(before);
    expect(out).toEqual({
      customers: [{ id: 'C1', mail: pseudonyms.pseudonymize('ada@example.com'), name: 'A. L.' }, { id: 'C2', mail: null, name: 'B.' }],
      transactions: [{ customer: { phone: '+44 ****** 789' } }, { customer: null }],
    });
  });

  it('a field narrowed to some types (through an interface or union) is treated on objects of those types only, by their __typename', () => {
    const analysis = { treatments: new Map() } as unknown as Parameters<typeof treatmentPlan>[0];
    const field = (path: string[], onTypes: string[] | undefined) =>
      ({ path, onTypes, classification: { level: 'PII', kind: 'EMAIL' } }) as unknown as Parameters<typeof treatmentPlan>[1][number]['field'];
    const plan = treatmentPlan(analysis, [{ field: field(['search', 'contact'], ['Person']), treatment: 'masked' }]);
    expect(plan.typedPaths).toEqual([['search']]);
    const out = applyTreatments(
      { search: [{ _authorizationTypename: 'Person', contact: 'ada@example.com' }, { _authorizationTypename: 'Shop', contact: 'shop@example.com' }] },
      plan,
      pseudonyms,
    );
    expect(out).toEqual({ search: [{ _authorizationTypename: 'Person', contact: 'a***@example.com' }, { _authorizationTypename: 'Shop', contact: 'shop@example.com' }] });
  });
});
