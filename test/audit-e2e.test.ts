import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ISSUER } from '../gateway/auth/authenticate.js';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { postGraphQL } from './helpers/http.js';
import { startStack, type Stack } from './helpers/stack.js';

/*
 * The audit trail end to end: real data products, a real gateway, real HTTP; records read back
 * through the auditors' API. With DATABASE_URL the trail is in PostgreSQL (a scratch schema of the
 * stack's own), else in the embedded store.
 */
const EMAILS = 'query Emails { customers(first: 2) { id email } }';
const RECORD = 'at writerId seq issuer subject clientName clientVersion roles operationName documentHash accesses { coordinate level kind treatment product productVersion } requestId traceId outcome hash';
const AUDIT = `query Audit($subject: String, $since: DateTime!) { accessAudit(subject: $subject, since: $since, first: 10) { records { ${RECORD} } } }`;

let stack: Stack;
let auditor: string;
const since = new Date(Date.now() - 3_600_000).toISOString();

beforeAll(async () => {
  stack = await startStack();
  // The records name each product's version as the catalogue read it: read it before anything is audited.
  await stack.gateway.refreshCatalog();
  auditor = await mintDevToken({ roles: ['auditor'], subject: 'carol' });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

async function recordsOf(subject: string): Promise<Record<string, unknown>[]> {
  await stack.gateway.flushAudit();
  const result = await postGraphQL<{ accessAudit: { records: Record<string, unknown>[] } }>(stack.url, AUDIT, { token: auditor, variables: { subject, since } });
  expect(result.body.errors).toBeUndefined();
  return result.body.data!.accessAudit.records;
}

describe('audit trail through the gateway', () => {
  it('an operation reading Customer.email writes exactly one record with every listed field', async () => {
    const token = await mintDevToken({ roles: ['sales-manager'], subject: 'sam', clientId: 'crm' });
    const read = await postGraphQL(stack.url, EMAILS, { token, headers: { 'apollographql-client-name': 'crm-web', 'apollographql-client-version': '4.2.0' } });
    expect(read.status).toBe(200);
    expect(read.body.errors).toBeUndefined();
    const records = await recordsOf('sam');
    expect(records).toEqual([
      {
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        writerId: expect.any(String),
        seq: expect.any(Number),
        issuer: DEV_ISSUER,
        subject: 'sam',
        clientName: expect.any(String),
        clientVersion: expect.toSatisfy((v: unknown) => v === null || typeof v === 'string'),
        roles: ['sales-manager'],
        operationName: 'Emails',
        documentHash: createHash('sha256').update(EMAILS).digest('hex'),
        accesses: [{ coordinate: 'Customer.email', level: 'PII', kind: 'EMAIL', treatment: 'clear', product: 'customer', productVersion: expect.stringMatching(/^\d+\.\d+\.\d+/) }],
        requestId: read.headers.get('x-request-id'),
        traceId: null,
        outcome: 'ok',
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    ]);
  });

  it('a refused read writes a denial record; a read without classified fields writes none', async () => {
    const token = await mintDevToken({ roles: ['marketing-analyst'], subject: 'mia' });
    const refused = await postGraphQL(stack.url, EMAILS, { token });
    expect(refused.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    const plain = await postGraphQL(stack.url, '{ customers(first: 2) { id segments { name } } }', { token });
    expect(plain.body.errors).toBeUndefined();
    const records = await recordsOf('mia');
    expect(records.map((r) => ({ operationName: r.operationName, accesses: r.accesses, outcome: r.outcome, requestId: r.requestId }))).toEqual([
      { operationName: 'Emails', accesses: [{ coordinate: 'Customer.email', level: 'PII', kind: 'EMAIL', treatment: 'denied', product: 'customer', productVersion: expect.any(String) }], outcome: 'denied', requestId: refused.headers.get('x-request-id') },
    ]);
  });
});
