import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { postGraphQL } from './helpers/http.js';
import { writeLimits } from './helpers/limits.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

// Prometheus metrics at /metrics, in the text exposition format.
let toy: Toy;
let gateway: RunningGateway;

beforeAll(async () => {
  toy = await startToySubgraphs();
  gateway = await startGateway(
    loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: toy.supergraphPath, RATE_LIMITS_FILE: writeLimits({ anonymous: { requests: 3, cost: 1000 } }) }),
    createLogger('test', 'silent'),
  );
});
afterAll(async () => {
  await gateway?.stop();
  await toy?.stop();
});

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',');
    if (want.every((w) => have.includes(w))) return Number(match[3]);
  }
  return undefined;
}

describe('/metrics', () => {
  it('counts requests by operation and outcome, subgraph fetches, authentication failures and rate-limit rejections', async () => {
    await postGraphQL(gateway.url, 'query Shelf { books { id rating } }');
    await postGraphQL(gateway.url, 'query Shelf { books { id } }');
    await postGraphQL(gateway.url, '{ books { id } }', { headers: { authorization: 'Bearer not-a-token' } });
    await postGraphQL(gateway.url, 'query Shelf { books { id } }');
    await postGraphQL(gateway.url, 'query Shelf { books { id } }'); // over the budget of 3
    const response = await fetch(gateway.url.replace('/graphql', '/metrics'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(sample(text, 'dpg_requests_total', { operation: 'shelf', outcome: 'ok' })).toBe(3);
    expect(sample(text, 'dpg_requests_total', { operation: 'shelf', outcome: 'rate_limited' })).toBe(1);
    expect(sample(text, 'dpg_rate_limit_rejections_total', { kind: 'rate_limited' })).toBe(1);
    expect(sample(text, 'dpg_authentication_failures_total', { reason: 'invalid_token' })).toBe(1);
    expect(sample(text, 'dpg_request_duration_seconds_count', { operation: 'shelf', outcome: 'ok' })).toBe(3);
    expect(sample(text, 'dpg_subgraph_fetch_duration_seconds_count', { subgraph: 'books' })).toBe(3);
    expect(sample(text, 'dpg_subgraph_fetch_duration_seconds_count', { subgraph: 'reviews' })).toBe(1);
    expect(text).toContain('# TYPE dpg_usage_flush_lag_seconds gauge');
    expect(text).toContain('# TYPE dpg_process_cpu_user_seconds_total counter');
  });

  it('counts subgraph errors by code', async () => {
    await toy.stopReviews();
    // Signed in: its own budget, not the anonymous one the first test spent.
    await postGraphQL(gateway.url, '{ books { rating } }', { token: await mintDevToken({ roles: ['admin'] }) });
    const text = await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text();
    expect(sample(text, 'dpg_subgraph_errors_total', { subgraph: 'reviews', code: 'SUBGRAPH_UNAVAILABLE' })).toBe(1);
  });
});

describe('/metrics with METRICS_TOKEN', () => {
  it('needs the token', async () => {
    const guarded = await startGateway(
      loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: toy.supergraphPath, METRICS_TOKEN: 'scrape-secret-0123456789' }),
      createLogger('test', 'silent'),
    );
    try {
      const url = guarded.url.replace('/graphql', '/metrics');
      const refused = await fetch(url, { headers: { authorization: 'Bearer wrong' } });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(await refused.json()).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }] });
      const allowed = await fetch(url, { headers: { authorization: 'Bearer scrape-secret-0123456789' } });
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toContain('dpg_requests_total');
    } finally {
      await guarded.stop();
    }
  });
});
