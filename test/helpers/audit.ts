import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { AccessEvent } from '../../gateway/audit/model.js';
import { auditRoles } from '../../gateway/audit/schema.js';
import { createScratchDatabase } from './database.js';

/**
 * A scratch audit database on the shared PostgreSQL (DATABASE_URL): its own database and a schema
 * name of its own, so the schema's roles (global to the server) are this run's alone. Dropping it
 * drops the database, then the roles.
 */
export async function createScratchAuditDb(baseUrl: string): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  const scratch = await createScratchDatabase(baseUrl);
  const schema = `audit_t_${randomBytes(4).toString('hex')}`;
  return {
    url: scratch.url,
    schema,
    async drop() {
      await scratch.drop();
      await dropAuditRoles(baseUrl, schema);
    },
  };
}

/** Drops an audit schema's roles (global to the server), once the database that used them is dropped. */
export async function dropAuditRoles(baseUrl: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    const { writer, reader } = auditRoles(schema);
    await client.query(`drop role if exists ${writer}`);
    await client.query(`drop role if exists ${reader}`);
  } finally {
    await client.end();
  }
}

/** An access event as the stage builds them. */
export function accessEvent(at: number, overrides: Partial<AccessEvent> = {}): AccessEvent {
  return {
    kind: 'access',
    at,
    principal: { issuer: 'https://issuer.test', subject: 'alice', clientName: 'web', clientVersion: '1.0', roles: ['sales-manager'] },
    operationName: 'Emails',
    documentHash: 'ab'.repeat(32),
    accesses: [{ coordinate: 'Customer.email', level: 'PII', kind: 'EMAIL', treatment: 'clear', product: 'customer', productVersion: '1.2.0' }],
    requestId: `req-${at}`,
    traceId: null,
    outcome: 'ok',
    ...overrides,
  };
}
