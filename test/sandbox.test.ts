import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kind, parse } from 'graphql';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APOLLO_SANDBOX_SCRIPT, prefersHtml, sandboxHandler, sandboxTabs, type SandboxExample } from '../gateway/sandbox/index.js';
import { PRODUCT_NAMES } from '../subgraphs/kit/data-product.js';
import { descriptorFile, loadDescriptor } from '../subgraphs/kit/descriptor.js';
import { postGraphQL } from './helpers/http.js';
import { startStack, tokenFor, type Stack } from './helpers/stack.js';

/*
 * The data scientists' sandbox: GraphiQL at GET /graphql for browsers, with every data product's
 * example operations as tabs, served entirely by the gateway. Checked over HTTP, then in a real
 * headless Chromium that may reach nothing but the gateway.
 */

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];
const SCREENSHOT = '/tmp/sandbox.png';
/** What a browser sends when the user opens a URL. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

const examples: SandboxExample[] = PRODUCT_NAMES.flatMap((product) =>
  loadDescriptor(descriptorFile(product), { product }).spec.exampleOperations.map((example) => ({ product, ...example })),
);

describe('sandbox tabs', () => {
  it('opens with how to sign in, then one tab per example with its description as a comment', () => {
    const tabs = sandboxTabs(examples);
    expect(tabs).toHaveLength(examples.length + 1);
    expect(tabs[0]!.query).toContain('# 1. Sign in (the bar above). Every tab runs as you.');
    expect(tabs[0]!.query).not.toContain('token');
    examples.forEach((example, i) => {
      const query = tabs[i + 1]!.query;
      expect(query.startsWith(`# ${example.product} · ${example.name}\n# ${example.description}\n`)).toBe(true);
      expect(query).toContain(example.query.trim());
    });
    // Every tab is a document GraphiQL can run as it is.
    for (const tab of tabs) expect(() => parse(tab.query)).not.toThrow();
  });

  it('takes a browser navigation for HTML and anything else for GraphQL', () => {
    expect(prefersHtml(BROWSER_ACCEPT)).toBe(true);
    expect(prefersHtml('text/html')).toBe(true);
    expect(prefersHtml(undefined)).toBe(false);
    expect(prefersHtml('*/*')).toBe(false);
    expect(prefersHtml('application/json')).toBe(false);
    expect(prefersHtml('application/graphql-response+json, application/json;q=0.9')).toBe(false);
    expect(prefersHtml('text/html, application/json')).toBe(false);
    expect(prefersHtml('application/json;q=0.5, text/html')).toBe(true);
    expect(prefersHtml('text/html;q=0')).toBe(false);
  });
});

let stack: Stack | undefined;
let browser: Browser | undefined;
let origin: string;
/** The page as the gateway serves it once the catalogue has filled in the examples. */
let html: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Browser tests need Debian's Chromium at ${CHROMIUM} (apt-get install -y chromium); they never download a browser.`);
  }
  // Both take seconds: start them together, and keep whichever started so afterAll can stop it.
  const [started, launched] = await Promise.allSettled([startStack(), chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })]);
  if (started.status === 'fulfilled') stack = started.value;
  if (launched.status === 'fulfilled') browser = launched.value;
  if (started.status === 'rejected') throw started.reason;
  if (launched.status === 'rejected') throw launched.reason;
  origin = new URL(stack!.url).origin;
  // The gateway asks the products for their descriptors now and rebuilds the sandbox with their examples.
  await stack!.gateway.refreshCatalog();
  html = await (await fetch(stack!.url, { headers: { accept: BROWSER_ACCEPT } })).text();
  if (!html.includes('CustomersInCountry')) throw new Error('the sandbox does not show the examples after a catalogue refresh');
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** The same-origin paths of the page's scripts and stylesheets. */
function assetsOf(html: string): { scripts: string[]; styles: string[] } {
  const scripts = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]!);
  const styles = [...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map((m) => m[1]!);
  return { scripts, styles };
}

describe('sandbox over HTTP', () => {
  it('answers a browser at GET /graphql with a page that loads only from the gateway', async () => {
    const res = await fetch(stack!.url, { headers: { accept: BROWSER_ACCEPT } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('vary')).toBe('Accept');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toMatch(/style-src 'self' 'nonce-[A-Za-z0-9+/=]{20,}';/);
    expect(csp).toContain("connect-src 'self';");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const page = await res.text();
    // No URL to any other host, and no inline script (only the JSON data block).
    expect(page).not.toMatch(/(?:https?:)?\/\/[a-z0-9.-]+/i);
    const inline = [...page.matchAll(/<script(?![^>]*\ssrc=)([^>]*)>/g)].map((m) => m[1]!.trim());
    expect(inline).toEqual(['type="application/json" id="sandbox-config"', 'type="application/json" id="sign-in-config"']);
    // On embedded defaults: development sign-in as any role of the policy file, no issuer.
    const signIn = JSON.parse(/<script type="application\/json" id="sign-in-config">(.*?)<\/script>/s.exec(page)![1]!) as { issuers: unknown[]; dev: { roles: string[]; tokenPath: string } };
    expect(signIn.issuers).toEqual([]);
    expect(signIn.dev.roles).toContain('data-scientist');
    expect(signIn.dev.tokenPath).toBe('/sign-in/dev-token');
    for (const example of examples) expect(page).toContain(example.name);
    // A fresh nonce per response.
    const again = await fetch(stack!.url, { headers: { accept: BROWSER_ACCEPT } });
    expect(again.headers.get('content-security-policy')).not.toBe(csp);
  });

  it('serves every script and stylesheet from memory, typed, fingerprinted and cacheable', async () => {
    const { scripts, styles: allStyles } = assetsOf(html);
    // The sign-in bar's style is shared with the usage page (see the sign-in test); the rest is the sandbox's own.
    expect(allStyles).toContain('/sign-in/sign-in.css');
    const styles = allStyles.filter((style) => style !== '/sign-in/sign-in.css');
    expect(scripts.map((s) => s.split('?')[0])).toEqual([
      '/graphql/sandbox/react.production.min.js',
      '/graphql/sandbox/react-dom.production.min.js',
      '/graphql/sandbox/graphiql.min.js',
      '/graphql/sandbox/sandbox.js',
    ]);
    expect(styles.map((s) => s.split('?')[0])).toEqual(['/graphql/sandbox/graphiql.min.css', '/graphql/sandbox/sandbox.css']);
    for (const [paths, contentType] of [[scripts, 'text/javascript; charset=utf-8'], [styles, 'text/css; charset=utf-8']] as const) {
      for (const path of paths) {
        expect(path).toMatch(/^\/graphql\/sandbox\/[a-z.-]+\?v=[A-Za-z0-9_-]{12}$/);
        const res = await fetch(origin + path);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-type'), path).toBe(contentType);
        expect(res.headers.get('cache-control'), path).toBe('public, max-age=31536000, immutable');
        expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
        expect((await res.arrayBuffer()).byteLength, path).toBeGreaterThan(100);
        const etag = res.headers.get('etag')!;
        const revalidated = await fetch(origin + path.split('?')[0], { headers: { 'if-none-match': etag } });
        expect(revalidated.status, path).toBe(304);
        expect(revalidated.headers.get('cache-control'), path).toBe('no-cache');
      }
    }
    const head = await fetch(`${origin}/graphql/sandbox/graphiql.min.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(100_000);
  });

  it('answers HEAD like GET, and refuses other methods on its assets', async () => {
    const head = await fetch(stack!.url, { method: 'HEAD', headers: { accept: BROWSER_ACCEPT } });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await head.text()).toBe('');
    const post = await fetch(`${origin}/graphql/sandbox/sandbox.js`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(((await post.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('METHOD_NOT_ALLOWED');
    expect((await fetch(`${origin}/graphql/sandbox/unknown.js`)).status).toBe(404);
  });

  it('leaves GraphQL over GET and POST to GraphQL', async () => {
    const query = encodeURIComponent('{__typename}');
    const get = await fetch(`${stack!.url}?query=${query}`, { headers: { accept: 'application/json', 'apollo-require-preflight': 'true' } });
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
    // A `query` parameter is GraphQL, whatever the Accept header says.
    const html = await fetch(`${stack!.url}?query=${query}`, { headers: { accept: BROWSER_ACCEPT, 'apollo-require-preflight': 'true' } });
    expect(html.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await html.json()).toEqual({ data: { __typename: 'Query' } });
    // API clients without a preference for HTML get GraphQL's answer (here: a GET without a query).
    for (const accept of ['*/*', 'application/json']) {
      const res = await fetch(stack!.url, { headers: { accept } });
      expect(res.headers.get('content-type'), accept).toMatch(/^application\/json/);
    }
    const post = await postGraphQL<{ __typename: string }>(stack!.url, '{ __typename }');
    expect(post.body).toEqual({ data: { __typename: 'Query' } });
  });
});

describe("Apollo's embedded Sandbox (apolloSandbox: true)", () => {
  let server: Server | undefined;
  let base: string;

  beforeAll(async () => {
    const sandbox = sandboxHandler({ examples, apolloSandbox: true });
    server = createServer((req, res) => {
      if (!sandbox(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  it("loads Apollo's script from Apollo's CDN and nothing else from another host", async () => {
    const res = await fetch(`${base}/graphql`, { headers: { accept: BROWSER_ACCEPT } });
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self' https://embeddable-sandbox.cdn.apollographql.com;");
    expect(csp).toContain('frame-src https://sandbox.embed.apollographql.com;');
    expect(csp).toContain("connect-src 'self';");
    const page = await res.text();
    expect([...page.matchAll(/https?:\/\/[^\s"'<>]+/g)].map((m) => m[0])).toEqual([APOLLO_SANDBOX_SCRIPT]);
    const { scripts } = assetsOf(page);
    expect(scripts[0]).toBe(APOLLO_SANDBOX_SCRIPT);
    const own = await fetch(base + scripts[1]!);
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    // The examples travel as one document; the GraphiQL files are not served in this mode.
    const config = JSON.parse(/<script type="application\/json" id="sandbox-config">(.*?)<\/script>/s.exec(page)![1]!) as { endpoint: string; document: string };
    expect(config.endpoint).toBe('/graphql');
    const operations = parse(config.document).definitions.map((d) => (d.kind === Kind.OPERATION_DEFINITION ? d.name?.value : undefined));
    expect(operations).toEqual(examples.map((e) => e.name));
    expect(config.document).toContain('npm run -s token -- --role data-scientist');
    expect((await fetch(`${base}/graphql/sandbox/graphiql.min.js`)).status).toBe(404);
  });
});

/** What the test reads inside the page (the test files compile without the DOM library). */
interface PageGlobals {
  __cspViolations: string[];
  localStorage: { length: number; key(i: number): string | null; getItem(key: string): string | null };
}

describe('sandbox in a browser, offline', () => {
  /** A page that may reach the gateway only; every other request is aborted and remembered. */
  async function openSandbox(): Promise<{ page: Page; blocked: string[]; errors: string[] }> {
    const context = await browser!.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const blocked: string[] = [];
    const errors: string[] = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      blocked.push(url);
      return route.abort('internetdisconnected');
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.addInitScript(() => {
      const globals = globalThis as unknown as PageGlobals & { document: { addEventListener(type: string, fn: (e: { violatedDirective: string; blockedURI: string }) => void): void } };
      globals.__cspViolations = [];
      globals.document.addEventListener('securitypolicyviolation', (e) => globals.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.goto(stack!.url);
    await page.locator('.graphiql-container').waitFor({ timeout: 15_000 });
    return { page, blocked, errors };
  }

  it('runs an example as a role signed in with one click, shows the docs, and needs nothing but the gateway', async () => {
    const token = await tokenFor('data-scientist');
    const { page, blocked, errors } = await openSandbox();

    // The welcome tab (the catalogue query), then one tab per example, titled by its operation name.
    await expect.poll(() => page.locator('.graphiql-tab').allInnerTexts()).toEqual(['DataProducts', ...examples.map((e) => e.name)]);
    const queryEditor = page.locator('.graphiql-query-editor .CodeMirror');
    await expect.poll(() => queryEditor.innerText()).toContain('Sign in (the bar above)');

    // Development sign-in: pick a role, one click; no token to paste.
    await page.selectOption('#dev-role', 'data-scientist');
    await page.click('#dev-sign-in');
    await expect.poll(() => page.locator('#sign-in-user').textContent()).toBe('dev:data-scientist');

    // The catalogue first, as the README tells a newcomer: which data products exist, who owns them.
    const catalogRun = page.waitForResponse((r) => r.request().method() === 'POST' && (r.request().postData() ?? '').includes('query DataProducts'));
    await queryEditor.click();
    await page.keyboard.press('Control+Enter');
    const catalog = (await (await catalogRun).json()) as {
      data?: { dataProducts: { name: string; owner: { team: string }; contracts: { rest: { path: string }[]; events: { subject: string }[] } }[] };
      errors?: unknown;
    };
    expect(catalog.errors).toBeUndefined();
    expect(catalog.data!.dataProducts.map((p) => [p.name, p.owner.team])).toEqual([['customer', 'customer-data'], ['finance', 'finance-data'], ['product', 'catalogue']]);
    // With each product's contracts: its REST views and event streams.
    const customer = catalog.data!.dataProducts[0]!;
    expect(customer.contracts.rest.map((r) => r.path)).toEqual(['/api/v2/customers/{id}/profile']);
    expect(customer.contracts.events.map((e) => e.subject)).toEqual(['dpg.customer.segment-changed.v1']);
    await expect.poll(() => page.locator('.result-window').innerText()).toContain('"customer-data"');

    const example = examples.find((e) => e.product === 'customer' && e.name === 'CustomersInCountry')!;
    await page.locator('.graphiql-tab', { hasText: example.name }).click();
    await expect.poll(() => queryEditor.innerText()).toContain(`# ${example.description}`);

    // Run it with Ctrl-Enter.
    const isRun = (request: Request) => request.method() === 'POST' && new URL(request.url()).pathname === '/graphql' && (request.postData() ?? '').includes(`query ${example.name}`);
    const responded = page.waitForResponse((response) => isRun(response.request()));
    await queryEditor.click();
    await page.keyboard.press('Control+Enter');
    const response = await responded;
    expect(response.status()).toBe(200);
    const sent = (response.request().headers()['authorization'] ?? '').replace(/^Bearer /, '');
    expect(JSON.parse(Buffer.from(sent.split('.')[1] ?? '', 'base64url').toString('utf8'))).toMatchObject({ sub: 'dev:data-scientist', roles: ['data-scientist'] });
    expect(response.request().headers()['apollographql-client-name']).toBe('sandbox');
    expect(response.request().headers()['content-type']).toMatch(/^application\/json/);
    // Never the previous tab's operation name (GraphiQL settles it 100 ms after a tab switch).
    expect([undefined, example.name]).toContain((JSON.parse(response.request().postData()!) as { operationName?: string }).operationName);
    const body = (await response.json()) as { data?: { customers: { id: string; country: string }[] }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data!.customers.length).toBeGreaterThan(0);
    for (const customer of body.data!.customers) {
      expect(customer.id).toMatch(/^C\d{6}$/);
      expect(customer.country).toBe('DE');
    }
    const resultPane = page.locator('.result-window');
    await expect.poll(() => resultPane.innerText()).toContain('"customers"');
    const shown = await resultPane.innerText();
    expect(shown).toMatch(/"C0000\d\d"/);
    expect(shown).not.toContain('"errors"');

    // The docs explorer: Query.customers with its description, then a deprecated field's reason.
    const schema = await postGraphQL<{ query: { fields: { name: string; description: string }[] }; customer: { fields: { name: string; isDeprecated: boolean; deprecationReason: string | null }[] } }>(
      stack!.url,
      '{ query: __type(name: "Query") { fields { name description } } customer: __type(name: "Customer") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } } }',
      { token },
    );
    const words = (text: string) => text.replace(/[`*_]/g, '').replace(/\s+/g, ' ').trim();
    const customersDescription = schema.body.data!.query.fields.find((f) => f.name === 'customers')!.description;
    const firstSentence = words(customersDescription).split('. ')[0]!;
    const deprecated = schema.body.data!.customer.fields.find((f) => f.isDeprecated)!;

    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.locator('.graphiql-doc-explorer-type-name', { hasText: /^Query$/ }).first().click();
    await expect.poll(async () => words(await docs.innerText())).toContain(firstSentence);
    await docs.locator('.graphiql-doc-explorer-type-name', { hasText: /^Customer$/ }).first().click();
    await docs.getByRole('button', { name: /show deprecated fields/i }).click();
    await expect.poll(async () => words(await docs.innerText())).toContain(words(deprecated.deprecationReason!));
    await expect.poll(async () => docs.innerText()).toContain(deprecated.name);
    await docs.getByText(words(deprecated.deprecationReason!)).scrollIntoViewIfNeeded();

    // A dialog adds a <style> element: allowed by the response's nonce, not by 'unsafe-inline'.
    await page.getByRole('button', { name: 'Open settings dialog' }).click();
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');

    await page.screenshot({ path: SCREENSHOT });

    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).__cspViolations)).toEqual([]);
    // The token lives in the tab's sessionStorage: neither tabs nor history (localStorage) keep it.
    const stored = await page.evaluate(() => {
      const storage = (globalThis as unknown as PageGlobals).localStorage;
      const values: string[] = [];
      for (let i = 0; i < storage.length; i += 1) values.push(storage.getItem(storage.key(i) ?? '') ?? '');
      return values;
    });
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.filter((value) => value.includes(sent.slice(-24)))).toEqual([]);
    await page.context().close();
  }, 90_000);
});
