import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface TestLimits {
  windowSeconds?: number;
  anonymous?: { requests: number; cost: number };
  default?: { requests: number; cost: number };
  tiers?: Record<string, { requests: number; cost: number }>;
  roles?: Record<string, string>;
  clients?: Record<string, { requests: number; cost: number }>;
  clientCeilings?: Record<string, { requests: number; cost: number }>;
  operation?: Partial<Record<'maxCost' | 'defaultListSize' | 'maxDepth' | 'maxAliases' | 'maxDirectives' | 'maxTokens' | 'maxBatch' | 'maxFields' | 'maxNesting', number>>;
}

/** A rate-limit policy file for one test (same format as policies/rate-limits.yaml). */
export function writeLimits(limits: TestLimits = {}): string {
  const file = join(mkdtempSync(join(tmpdir(), 'dpg-limits-')), 'rate-limits.yaml');
  writeFileSync(
    file,
    stringify({
      windowSeconds: limits.windowSeconds ?? 600,
      anonymous: limits.anonymous ?? { requests: 1000, cost: 1_000_000 },
      default: limits.default ?? { requests: 1000, cost: 1_000_000 },
      tiers: limits.tiers ?? {},
      roles: limits.roles ?? {},
      clients: limits.clients ?? {},
      clientCeilings: limits.clientCeilings ?? {},
      operation: { maxCost: 10_000, defaultListSize: 10, maxDepth: 10, maxAliases: 20, maxDirectives: 20, maxTokens: 1000, maxBatch: 5, ...limits.operation },
    }),
  );
  return file;
}
