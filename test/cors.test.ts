import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { ConfigError, loadConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

/*
 * CORS: a browser app served from another origin calls the gateway. The allowed origin reads the
 * answer; any other origin is blocked by the browser itself, because the gateway sends it no CORS
 * header. Two pages on two loopback ports, in a real headless Chromium.
 */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];

let toy: Toy;
let gateway: RunningGateway;
let browser: Browser;
const apps: { server: Server; origin: string }[] = [];

/** A tiny web app on its own port: its page only exists to give the browser an origin. */
async function startApp(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>app</title><p>app</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const app = { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  apps.push(app);
  return app;
}

let allowed: { origin: string };
let other: { origin: string };

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Browser tests need Debian's Chromium at ${CHROMIUM} (apt-get install -y chromium).`);
  toy = await startToySubgraphs();
  allowed = await startApp();
  other = await startApp();
  gateway = await startGateway(
    loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', SUPERGRAPH: toy.supergraphPath, CORS_ORIGINS: `${allowed.origin},https://app.example.com`, CORS_MAX_AGE_S: '120' }),
    createLogger('test', 'silent'),
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await toy?.stop();
  for (const app of apps) await new Promise<void>((resolve) => app.server.close(() => resolve()));
});

/** From a page of `origin`: a fetch with a bearer token and JSON (so a preflight first), as an app does. */
async function callFrom(origin: string, token: string): Promise<{ ok: true; status: number; body: unknown; rateLimit: string | null } | { ok: false; error: string }> {
  const page = await browser.newPage();
  try {
    await page.goto(origin);
    return await page.evaluate(
      async ({ url, token }) => {
        try {
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'apollographql-client-name': 'web' },
            body: JSON.stringify({ query: '{ books { id title } }' }),
          });
          return { ok: true as const, status: response.status, body: await response.json(), rateLimit: response.headers.get('ratelimit') };
        } catch (error) {
          return { ok: false as const, error: String(error) };
        }
      },
      { url: gateway.url, token },
    );
  } finally {
    await page.close();
  }
}

describe('CORS in a browser', () => {
  it('an allowed origin calls the gateway and reads the answer and its RateLimit header', async () => {
    const result = await callFrom(allowed.origin, await mintDevToken({ roles: ['marketing-analyst'] }));
    expect(result).toEqual({ ok: true, status: 200, body: { data: { books: [{ id: '1', title: 'Dune' }, { id: '2', title: 'Emma' }] } }, rateLimit: expect.stringMatching(/^"requests";r=\d+/) });
  });

  it('another origin is blocked by the browser', async () => {
    const result = await callFrom(other.origin, await mintDevToken({ roles: ['marketing-analyst'] }));
    expect(result).toEqual({ ok: false, error: expect.stringContaining('Failed to fetch') });
  });
});

describe('CORS over HTTP', () => {
  const preflight = (origin: string) =>
    fetch(gateway.url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });

  it('a preflight from an allowed origin gets the policy', async () => {
    const response = await preflight(allowed.origin);
    expect(response.status).toBe(204);
    expect(Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-') || name === 'vary'))).toEqual({
      'access-control-allow-origin': allowed.origin,
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'authorization, content-type, apollographql-client-name, apollographql-client-version, apollo-require-preflight, x-apollo-operation-name, traceparent, tracestate, x-request-id',
      'access-control-max-age': '120',
      vary: 'Origin',
    });
  });

  it('a preflight from any other origin is refused, with no CORS header', async () => {
    const response = await preflight(other.origin);
    expect(response.status).toBe(403);
    expect([...response.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
    expect(await response.json()).toEqual({ errors: [{ message: 'This origin may not call the gateway from a browser', extensions: { code: 'FORBIDDEN' } }] });
  });

  it('an answer to an allowed origin names it (never *) and varies on Origin; to another origin, no CORS header', async () => {
    const ask = (origin: string) => fetch(gateway.url, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    const yes = await ask('https://app.example.com');
    expect(yes.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(yes.headers.get('access-control-expose-headers')).toBe('ratelimit, ratelimit-policy, retry-after, deprecation, sunset, link, x-request-id');
    expect(yes.headers.get('vary')?.split(/,\s*/)).toContain('Origin');
    const no = await ask('https://evil.example.com');
    expect(no.status).toBe(200);
    expect([...no.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
  });

  it.each(['*', 'https://app.example.com/', 'https://*.example.com', 'app.example.com', 'ftp://app.example.com'])('CORS_ORIGINS=%s is refused at start', (origins) => {
    expect(() => loadConfig({ CORS_ORIGINS: origins }, [])).toThrow(ConfigError);
    expect(() => loadConfig({ CORS_ORIGINS: origins }, [])).toThrow(/CORS_ORIGINS: expected exact origins/);
  });
});
