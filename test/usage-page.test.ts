import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL } from './helpers/http.js';
import { startStack, tokenFor, type Stack } from './helpers/stack.js';

/*
 * The owners' usage page (GET /usage) in a real headless Chromium against the real stack: known
 * traffic goes through the gateway first, then the page must show exactly what the usage API
 * answers, mark unused fields, draw the hourly series, and show refusals as a status code.
 */

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];
const SCREENSHOT = '/tmp/usage-page.png';

const COUNTRY_QUERY = '{ customers(first: 2) { id country } }';
const SEGMENTS_QUERY = '{ customers(first: 2) { id country segments { name } } }';
/** The traffic sent before the page opens: Customer.country is selected by all of it. */
const TRAFFIC = [
  { query: COUNTRY_QUERY, client: 'web', version: '2.1.0' },
  { query: COUNTRY_QUERY, client: 'web', version: '2.1.0' },
  { query: COUNTRY_QUERY, client: 'web', version: '2.1.0' },
  { query: SEGMENTS_QUERY, client: 'mobile', version: '1.0.0' },
];

interface ClientUsage { name: string; version: string | null; requests: number; errors: number; lastSeen: string | null }
interface FieldUsage {
  coordinate: string;
  product: string;
  requests: number;
  errors: number;
  rejected: number;
  clients: ClientUsage[];
  lastSeen: string | null;
  deprecated: boolean;
}

const FIELD_USAGE = `query ($product: String!, $since: DateTime) {
  fieldUsage(product: $product, since: $since) {
    coordinate product requests errors rejected lastSeen deprecated
    clients { name version requests errors lastSeen }
  }
}`;

/** What the tests read inside the page (the test files compile without the DOM library). */
interface PageGlobals {
  Chart?: { getChart(id: string): { config: { type: string }; data: { datasets: { label: string; data: number[] }[] } } | undefined };
  sessionStorage: { length: number; setItem(key: string, value: string): void };
  localStorage: { length: number };
}
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}

let stack: Stack | undefined;
let browser: Browser | undefined;
let base: string;
let ownerToken: string;
let analystToken: string;

async function fieldUsage(product: string): Promise<FieldUsage[]> {
  const since = new Date(Date.now() - 24 * 3_600_000).toISOString();
  const result = await postGraphQL<{ fieldUsage: FieldUsage[] }>(stack!.url, FIELD_USAGE, { token: ownerToken, variables: { product, since } });
  if (result.status !== 200 || result.body.errors) throw new Error(`fieldUsage failed: HTTP ${result.status} ${JSON.stringify(result.body.errors)}`);
  return result.body.data!.fieldUsage;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Browser tests need Debian's Chromium at ${CHROMIUM} (apt-get install -y chromium); they never download a browser.`);
  }
  // Both take seconds: start them together, and keep whichever started so afterAll can stop it.
  const started = await Promise.allSettled([
    startStack().then((s) => (stack = s)),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }).then((b) => (browser = b)),
  ]);
  for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
  base = stack!.url.replace(/\/graphql$/, '');
  [ownerToken, analystToken] = await Promise.all([tokenFor('data-product-owner'), tokenFor('marketing-analyst')]);

  for (const { query, client, version } of TRAFFIC) {
    const result = await postGraphQL(stack!.url, query, {
      token: analystToken,
      headers: { 'apollographql-client-name': client, 'apollographql-client-version': version },
    });
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
  }

  // What the traffic recorded reaches the store now, so the API (and the page) show all of it.
  await stack!.gateway.flushUsage();
  const country = (await fieldUsage('customer')).find((f) => f.coordinate === 'Customer.country');
  if (!country || country.requests < TRAFFIC.length) throw new Error(`usage not visible through the API after a flush: ${JSON.stringify(country)}`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Console errors and uncaught exceptions of a page: CSP violations and script errors land here. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  return problems;
}

/** The page, signed in as `role` with development sign-in (one click, no token pasted). */
async function openAs(role: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 1360, height: 1100 } });
  const problems = watch(page);
  const response = await page.goto(`${base}/usage`);
  expect(response?.status()).toBe(200);
  await page.selectOption('#dev-role', role);
  await page.click('#dev-sign-in');
  await page.waitForSelector('#sign-in[data-status="signed-in"]');
  return { page, problems };
}

describe('usage page: HTTP', () => {
  const chartFile = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js');

  it('serves the page with a strict CSP, no inline script and no caching without revalidation', async () => {
    const response = await fetch(`${base}/usage`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const html = await response.text();
    for (const id of ['sign-in', 'product', 'window', 'client', 'load', 'status', 'fields', 'series']) expect(html).toContain(`id="${id}"`);
    // No inline script: the only script without src is the sign-in configuration, a JSON data block.
    expect([...html.matchAll(/<script(?![^>]*\bsrc=)([^>]*)>/gi)].map((m) => m[1]!.trim())).toEqual(['type="application/json" id="sign-in-config"']);
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('serves its script, its style and Chart.js from node_modules (no CDN)', async () => {
    const cases = [
      ['/usage/app.js', 'text/javascript; charset=utf-8'],
      ['/usage/app.css', 'text/css; charset=utf-8'],
      ['/usage/chart.umd.js', 'text/javascript; charset=utf-8'],
    ] as const;
    for (const [path, type] of cases) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type'), path).toBe(type);
      expect(response.headers.get('cache-control'), path).toBe('no-cache');
      expect(response.headers.get('content-security-policy'), path).toContain("default-src 'self'");
      const body = await response.text();
      if (path === '/usage/chart.umd.js') expect(body).toBe(readFileSync(chartFile, 'utf8'));
      else expect(body.length).toBeGreaterThan(100);
    }
  });

  it('answers HEAD with the headers alone and revalidates with the ETag', async () => {
    const get = await fetch(`${base}/usage`);
    const length = (await get.arrayBuffer()).byteLength;
    const head = await fetch(`${base}/usage`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(length));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const etag = get.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${base}/usage`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
  });

  it('refuses other methods with 405, an allow header and a METHOD_NOT_ALLOWED body', async () => {
    for (const [method, path] of [['POST', '/usage'], ['PUT', '/usage/app.js'], ['DELETE', '/usage/chart.umd.js']] as const) {
      const response = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD');
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await response.json()).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'METHOD_NOT_ALLOWED' } }] });
    }
  });

  it('leaves other paths to the gateway (404 NOT_FOUND)', async () => {
    for (const path of ['/usage/other.js', '/usage/../package.json', '/usagex']) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.json()).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'NOT_FOUND' } }] });
    }
  });
});

describe('usage page: in the browser', () => {
  it('shows exactly the API counts, marks unused fields, sorts, and draws the series of a clicked row', async () => {
    const { page, problems } = await openAs('data-product-owner');
    try {
      await page.waitForSelector('#product option[value="customer"]', { state: 'attached' });
      await page.selectOption('#product', 'customer');
      await page.selectOption('#window', '24h');
      await page.click('#load');
      await page.waitForSelector('tr[data-coordinate="Customer.country"]');
      expect(await page.getAttribute('#status', 'data-state')).toBe('ok');

      // Page == API, row for row (the page's own queries touch no customer field).
      const api = await fieldUsage('customer');
      const shown = await page.$$eval('table#fields tbody tr[data-coordinate]', (rows) =>
        rows.map((row) => ({
          coordinate: row.getAttribute('data-coordinate'),
          requests: Number(row.querySelector('td[data-col="requests"]')?.getAttribute('data-value')),
          clients: Number(row.querySelector('td[data-col="clients"]')?.getAttribute('data-value')),
          errors: Number(row.querySelector('td[data-col="errors"]')?.getAttribute('data-value')),
          rejected: Number(row.querySelector('td[data-col="rejected"]')?.getAttribute('data-value')),
          className: row.getAttribute('class') ?? '',
        })),
      );
      const byCoordinate = new Map(shown.map((r) => [r.coordinate, r]));
      expect(shown).toHaveLength(api.length);
      for (const field of api) {
        expect(byCoordinate.get(field.coordinate), field.coordinate).toMatchObject({
          requests: field.requests,
          clients: field.clients.length,
          errors: field.errors,
          rejected: field.rejected,
        });
      }

      const country = api.find((f) => f.coordinate === 'Customer.country');
      expect(country).toMatchObject({ requests: TRAFFIC.length, errors: 0, rejected: 0 });
      expect(country!.clients.map((c) => [c.name, c.version, c.requests])).toEqual([['web', '2.1.0', 3], ['mobile', '1.0.0', 1]]);
      expect(await page.textContent('tr[data-coordinate="Customer.country"] td[data-col="requests"]')).toBe(String(TRAFFIC.length));
      const clientsTitle = await page.getAttribute('tr[data-coordinate="Customer.country"] td[data-col="clients"]', 'title');
      expect(clientsTitle).toContain('web 2.1.0: 3 requests,');
      expect(clientsTitle).toContain('mobile 1.0.0: 1 request,');
      expect(byCoordinate.get('Customer.country')!.className.split(' ')).not.toContain('unused');

      expect(api.find((f) => f.coordinate === 'Customer.email')).toMatchObject({ requests: 0 });
      expect(byCoordinate.get('Customer.email')!.className.split(' ')).toContain('unused');
      // Customer.fullName is deprecated and was never used: unused, not deprecated-used.
      expect(byCoordinate.get('Customer.fullName')!.className.split(' ')).toEqual(['unused']);

      // Sorting: requests descending on first click, ascending on the second.
      await page.click('th[data-sort="requests"]');
      expect(await page.getAttribute('th[data-sort="requests"]', 'aria-sort')).toBe('descending');
      const descending = await page.$$eval('tbody tr[data-coordinate] td[data-col="requests"]', (cells) => cells.map((c) => Number(c.getAttribute('data-value'))));
      expect(descending).toEqual([...descending].sort((a, b) => b - a));
      expect(descending[0]).toBe(Math.max(...api.map((f) => f.requests)));
      await page.click('th[data-sort="requests"]');
      expect(await page.getAttribute('th[data-sort="requests"]', 'aria-sort')).toBe('ascending');
      const ascending = await page.$$eval('tbody tr[data-coordinate] td[data-col="requests"]', (cells) => cells.map((c) => Number(c.getAttribute('data-value'))));
      expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
      await page.click('th[data-sort="requests"]');

      // The series of the clicked row: a Chart.js line chart whose requests add up to the count.
      await page.click('tr[data-coordinate="Customer.country"]');
      // Functions, not strings: the page's CSP (no unsafe-eval) refuses string predicates.
      await page.waitForFunction(() => ((globalThis as unknown as PageGlobals).Chart?.getChart('series')?.data.datasets[0]?.data.length ?? 0) > 0);
      const chart = await page.evaluate(() => {
        const c = (globalThis as unknown as PageGlobals).Chart!.getChart('series')!;
        return { type: c.config.type, labels: c.data.datasets.map((d) => d.label), requests: c.data.datasets[0]!.data, errors: c.data.datasets[1]!.data };
      });
      expect(chart.type).toBe('line');
      expect(chart.labels).toEqual(['Requests', 'Errors']);
      expect(chart.requests.reduce((a, b) => a + b, 0)).toBe(TRAFFIC.length);
      expect(chart.errors.reduce((a, b) => a + b, 0)).toBe(0);
      // Painted pixels (alpha > 0) on the canvas: the chart really drew something.
      const painted = await page.$eval('canvas#series', (canvas: CanvasLike) => {
        const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) n += 1;
        return n;
      });
      expect(painted).toBeGreaterThan(1000);
      expect(await page.getAttribute('tr[data-coordinate="Customer.country"]', 'aria-selected')).toBe('true');

      // The operations that read the clicked field: each document by its hash, with its clients and last use.
      await page.waitForSelector('#operations-section:not([hidden]) #operations tbody tr[data-operation]');
      const operations = await page.$$eval('#operations tbody tr[data-operation]', (rows) =>
        rows.map((row) => ({
          name: row.getAttribute('data-operation'),
          hash: row.getAttribute('data-hash'),
          shownHash: row.querySelector('td[data-col="hash"]')?.textContent,
          requests: Number(row.querySelector('td[data-col="requests"]')?.getAttribute('data-value')),
          clients: row.querySelector('td[data-col="clients"]')?.textContent,
          lastSeen: row.querySelector('td[data-col="lastSeen"]')?.getAttribute('data-value'),
        })),
      );
      const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
      const lastSeen = country!.lastSeen;
      expect(operations).toEqual([
        { name: '(anonymous)', hash: sha256(COUNTRY_QUERY), shownHash: sha256(COUNTRY_QUERY).slice(0, 12), requests: 3, clients: 'web', lastSeen },
        { name: '(anonymous)', hash: sha256(SEGMENTS_QUERY), shownHash: sha256(SEGMENTS_QUERY).slice(0, 12), requests: 1, clients: 'mobile', lastSeen },
      ]);
      expect(await page.textContent('#operations-heading')).toBe('Operations reading Customer.country');

      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('shows FORBIDDEN in the status line and no rows for a user without usage:read', async () => {
    const { page } = await openAs('marketing-analyst');
    try {
      await page.waitForSelector('#status[data-code="FORBIDDEN"]');
      await page.click('#load');
      await page.waitForSelector('#status[data-state="error"][data-code="FORBIDDEN"]');
      const status = (await page.textContent('#status')) ?? '';
      expect(status).toMatch(/^FORBIDDEN /);
      expect(status).not.toMatch(/\bat .+:\d+:\d+|Error:/);
      expect(await page.$$('table#fields tbody tr')).toHaveLength(0);
      expect(await page.isDisabled('#product')).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('shows UNAUTHENTICATED for a token the gateway refuses, then renews it and carries on; tokens stay in sessionStorage only', async () => {
    const page = await browser!.newPage({ viewport: { width: 1360, height: 1100 } });
    try {
      // A development session whose token the gateway cannot verify (as after a restart with new keys).
      await page.addInitScript(() => {
        const now = Date.now();
        const { sessionStorage } = globalThis as unknown as PageGlobals;
        if (sessionStorage.length > 0) return;
        sessionStorage.setItem(
          'dpg.sign-in.session.v1',
          JSON.stringify({ kind: 'dev', issuer: 'development', subject: 'stale', label: 'dev:data-product-owner', roles: ['data-product-owner'], role: 'data-product-owner', accessToken: 'not-a-jwt', refreshToken: null, issuedAt: now, expiresAt: now + 3_600_000 }),
        );
      });
      const statuses: string[] = [];
      page.on('response', async (response) => {
        if (response.url().endsWith('/graphql')) statuses.push(String(response.status()));
      });
      const renewed = page.waitForResponse((r) => r.url().endsWith('/sign-in/dev-token'));
      await page.goto(`${base}/usage`);
      expect((await renewed).status()).toBe(200);
      await page.waitForSelector('#product option[value="customer"]', { state: 'attached' });
      expect(statuses[0]).toBe('401');
      expect(await page.textContent('#sign-in-user')).toBe('dev:data-product-owner');
      const storage = await page.evaluate(() => {
        const { sessionStorage, localStorage } = globalThis as unknown as PageGlobals;
        return { session: sessionStorage.length, local: localStorage.length };
      });
      expect(storage).toEqual({ session: 1, local: 0 });
    } finally {
      await page.close();
    }
  });
});
