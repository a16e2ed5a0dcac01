import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScratchAuditDb } from '../test/helpers/audit.js';

export interface BenchAuditStores {
  /** What the run's JSON and progress line say about where audit records went. */
  readonly description: string;
  /** The audit settings of one of our gateways (each gets its own: an embedded store is one process's). */
  envFor(gateway: string): Record<string, string>;
  /** Drops the scratch database (and its roles) or removes the embedded stores' directories. */
  stop(): Promise<void>;
}

/**
 * Our gateways run in production mode, which requires an audit store: PostgreSQL as in production
 * when DATABASE_URL is set (a scratch database and schema of this run's own, dropped afterwards:
 * the writes cost the gateway a pg round trip per batch, the database's CPU is another process's),
 * else the embedded store on disk (PGlite inside the gateway process: its writes count in the
 * gateway's CPU). Every operation that reads a classified field at or above AUDIT_LEVEL (the
 * lookup reads Customer.name and Customer.email) appends a record, so the figures include the
 * audit trail.
 */
export async function benchAuditStores(): Promise<BenchAuditStores> {
  const baseUrl = process.env.DATABASE_URL;
  if (baseUrl) {
    const scratch = await createScratchAuditDb(baseUrl);
    return {
      description: `PostgreSQL (DATABASE_URL, scratch database, schema ${scratch.schema})`,
      envFor: () => ({ AUDIT_DATABASE_URL: scratch.url, AUDIT_SCHEMA: scratch.schema }),
      stop: () => scratch.drop(),
    };
  }
  const dirs: string[] = [];
  return {
    description: 'embedded (PGlite on disk, inside each gateway process; set DATABASE_URL for PostgreSQL)',
    envFor: (gateway) => {
      const dir = mkdtempSync(join(tmpdir(), `dpg-bench-audit-${gateway}-`));
      dirs.push(dir);
      return { AUDIT_DATA_DIR: dir };
    },
    stop: async () => {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}
