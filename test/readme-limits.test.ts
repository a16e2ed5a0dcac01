import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../gateway/config.js';
import { HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../lib/http-server.js';
import { loadRateLimitPolicy } from '../gateway/limits/policy.js';
import { ERROR_CODES, ERROR_STATUS, type ErrorCode } from '../lib/errors.js';
import { MAX_PAGE_SIZE } from '../subgraphs/kit/pagination.js';
import { MAX_SERIES_HOURS, PAGE_LIMITS } from '../subgraphs/platform/index.js';

/*
 * The README's limits table against the code and the shipped policy: every limit listed, with the
 * default the code really has, and the code and status a request over it really gets.
 */
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Limits'), readme.indexOf('\n## ', readme.indexOf('## Limits') + 1));
const rows = new Map(
  section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      return [cells[0]!.replace(/`/g, ''), { value: cells[1]!, where: cells[2]!, over: cells[3]! }] as const;
    }),
);

const config = loadConfig({}, []);
const policy = loadRateLimitPolicy();
const yaml = readFileSync(new URL('../policies/rate-limits.yaml', import.meta.url), 'utf8');

/** The number a default cell starts with ("1048576 bytes" -> 1048576). */
const leading = (cell: string) => Number(/^(\d+)/.exec(cell)?.[1]);

describe('README limits table', () => {
  const expected: Record<string, number> = {
    MAX_BODY_BYTES: config.maxBodyBytes,
    MAX_TOKEN_BYTES: config.auth.maxTokenBytes,
    ...Object.fromEntries(Object.entries(policy.operation).map(([key, value]) => [`operation.${key}`, value])),
    windowSeconds: policy.windowMs / 1000,
    first: MAX_PAGE_SIZE,
    'fieldUsage(first:)': PAGE_LIMITS.fieldUsage,
    'clients(first:)': PAGE_LIMITS.clients,
    'fieldOperations(first:)': PAGE_LIMITS.fieldOperations,
    'dataProducts(first:)': PAGE_LIMITS.dataProducts,
    fieldUsageSeries: MAX_SERIES_HOURS,
    USAGE_RETENTION_DAYS: config.usage.retentionMs / 86_400_000,
    USAGE_MAX_CLIENTS: config.usage.maxClientsPerHour,
    USAGE_MAX_OPERATIONS: config.usage.maxOperationsPerHour,
    SUBGRAPH_TIMEOUT_MS: config.subgraphTimeoutMs,
    requestTimeout: REQUEST_TIMEOUT_MS / 1000,
  };

  it.each(Object.entries(expected))('%s: listed with the default the code has', (key, value) => {
    expect(rows.get(key), `README limits row for ${key}`).toBeDefined();
    expect(leading(rows.get(key)!.value)).toBe(value);
  });

  it('every per-operation limit of the policy file is listed (a new limit cannot go undocumented)', () => {
    for (const key of Object.keys(policy.operation)) expect(rows.has(`operation.${key}`), key).toBe(true);
    for (const key of Object.keys(PAGE_LIMITS)) expect(rows.has(`${key}(first:)`), key).toBe(true);
  });

  it('budgets match the shipped policy file', () => {
    const budget = (name: string) => new RegExp(`^${name}: \\{ requests: (\\d+), cost: (\\d+) \\}`, 'm').exec(yaml)!;
    for (const name of ['anonymous', 'default']) {
      const [, requests, cost] = budget(name);
      expect(rows.get(name)!.value).toBe(`${requests} requests, ${cost} points`);
    }
    expect(rows.get('requestTimeout')!.over).toContain(`${HEADERS_TIMEOUT_MS / 1000} seconds`);
  });

  it('every code named is in the closed set, with its own HTTP status', () => {
    for (const [key, row] of rows) {
      for (const [, status, code] of row.over.matchAll(/(?:(\d{3}) )?`([A-Z_]+)`/g)) {
        expect(ERROR_CODES, `${key}: ${code}`).toContain(code);
        if (status) expect(Number(status), `${key}: ${code}`).toBe(ERROR_STATUS[code as ErrorCode]);
      }
    }
  });
});
