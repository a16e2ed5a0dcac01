import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../gateway/config.js';
import { SANDBOX_CLIENT_NAME } from '../gateway/sandbox/index.js';
import { DEV_SIGN_IN_TTL_S, DEV_TOKEN_PATH } from '../gateway/sign-in/dev-token.js';
import { signInConnectSources, signInPageConfig } from '../gateway/sign-in/index.js';
import { startGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { DEFAULT_POLICIES_FILE, loadAccessPolicies } from '../lib/policies.js';
import { postGraphQL } from './helpers/http.js';
import { LOGIN_ACCESS_TOKEN_TTL_S, startLoginProvider, type LoginProvider } from './helpers/oidc-login.js';
import { gatewayEnv, startStack, tokenFor, type Stack } from './helpers/stack.js';

/*
 * Signing in on the sandbox and the usage page, in a real headless Chromium: through a real OpenID
 * provider (authorization code + PKCE, its login and consent pages driven by the browser), and in
 * development as a role of the policy file. No token is pasted anywhere. Production mode offers no
 * development sign-in at all.
 */

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];
/** What a browser sends when the user opens a URL. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
/** Where the session lives in the tab (gateway/sign-in/session.js). */
const SESSION_KEY = 'dpg.sign-in.session.v1';
/** DOCS_SCREENSHOTS=1 writes the README's screenshots into docs/; otherwise they go to /tmp. */
const SCREENSHOTS = process.env.DOCS_SCREENSHOTS === '1' ? fileURLToPath(new URL('../docs/', import.meta.url)) : tmpdir();
const BROWSER_CLIENT_ID = 'gateway-pages';
const silent = createLogger('test', 'silent');

/** What the tests read inside the page (the test files compile without the DOM library). */
interface PageGlobals {
  __cspViolations: string[];
  sessionStorage: { getItem(key: string): string | null };
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function bearerOf(request: Request): string | undefined {
  const header = request.headers()['authorization'];
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
}

const isGraphQLPost = (origin: string) => (request: Request) => request.method() === 'POST' && request.url() === `${origin}/graphql`;

let browser: Browser | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Browser tests need Debian's Chromium at ${CHROMIUM}; they never download a browser.`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
});

/**
 * A page that may reach only `origins`: every other request is aborted, and remembered when a page
 * of `origins[0]` (the gateway's) made it (the test provider's own pages load a web font); CSP
 * violations and script errors are collected.
 */
async function openPage(origins: readonly string[]): Promise<{ page: Page; blocked: string[]; problems: string[] }> {
  const context = await browser!.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const blocked: string[] = [];
  const problems: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (origins.includes(new URL(url).origin)) return route.continue();
    let from = '';
    try {
      from = route.request().frame().url();
    } catch {
      // Not made by a frame.
    }
    if (!from.startsWith('http') || new URL(from).origin === origins[0]) blocked.push(url);
    return route.abort('internetdisconnected');
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  await page.addInitScript(() => {
    const globals = globalThis as unknown as PageGlobals & { document: { addEventListener(type: string, fn: (e: { violatedDirective: string; blockedURI: string }) => void): void } };
    globals.__cspViolations = [];
    globals.document.addEventListener('securitypolicyviolation', (e) => globals.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, blocked, problems };
}

const cspViolations = (page: Page) => page.evaluate(() => (globalThis as unknown as PageGlobals).__cspViolations);
const storedSession = (page: Page) => page.evaluate((key) => (globalThis as unknown as PageGlobals).sessionStorage.getItem(key), SESSION_KEY);

/** Runs the open tab of the sandbox with Ctrl-Enter and returns the request and its JSON answer. */
async function runTab(page: Page, origin: string, operation: string): Promise<{ request: Request; body: { data?: Record<string, unknown>; errors?: unknown } }> {
  const answered = page.waitForResponse((r) => isGraphQLPost(origin)(r.request()) && (r.request().postData() ?? '').includes(`query ${operation}`));
  await page.locator('.graphiql-query-editor .CodeMirror').click();
  await page.keyboard.press('Control+Enter');
  const response = await answered;
  return { request: response.request(), body: (await response.json()) as { data?: Record<string, unknown>; errors?: unknown } };
}

describe('browserClient in OIDC_ISSUERS', () => {
  const configError = (issuers: unknown): string => {
    try {
      loadConfig({ OIDC_ISSUERS: JSON.stringify(issuers) }, []);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('is validated once, at start, with openid as the default scope', () => {
    const config = loadConfig({ OIDC_ISSUERS: JSON.stringify([{ issuer: 'https://login.example.com/realms/acme', audiences: ['gw'], browserClient: { clientId: 'pages' } }]) }, []);
    expect(config.auth.issuers[0]!.browserClient).toEqual({ clientId: 'pages', scopes: ['openid'] });
    for (const bad of [
      { clientId: '' },
      { clientId: 'pages', scopes: [] },
      { clientId: 'pages', scopes: ['openid profile'] },
      { clientId: 'pages', resource: 'not a url' },
      { clientId: 'pages', clientSecret: 'a page cannot keep one' },
    ]) {
      expect(configError([{ issuer: 'https://i.example', audiences: ['gw'], browserClient: bad }]), JSON.stringify(bad)).toContain('OIDC_ISSUERS');
    }
    expect(configError([{ issuer: 'not a url', audiences: ['gw'], browserClient: { clientId: 'pages' } }])).toContain('OIDC_ISSUERS');
    // Tokens of a page travel over TLS, unless the issuer is on this machine.
    expect(configError([{ issuer: 'http://idp.example.com', audiences: ['gw'], browserClient: { clientId: 'pages' } }])).toContain('needs an https issuer');
    expect(loadConfig({ OIDC_ISSUERS: JSON.stringify([{ issuer: 'http://127.0.0.1:8080', audiences: ['gw'], browserClient: { clientId: 'pages' } }]) }, []).auth.issuers).toHaveLength(1);
  });

  it('offers only the issuers with a browser client, and lets the pages call their origins only', () => {
    const config = signInPageConfig({
      issuers: loadConfig({
        OIDC_ISSUERS: JSON.stringify([
          { issuer: 'https://login.example.com/realms/acme', audiences: ['gw'], browserClient: { clientId: 'pages', scopes: ['openid', 'offline_access'], resource: 'https://gw.example.com' } },
          { issuer: 'https://machines.example.com', audiences: ['gw'] },
        ]),
      }).auth.issuers,
      devRoles: undefined,
    });
    expect(config).toEqual({
      issuers: [{ issuer: 'https://login.example.com/realms/acme', label: 'login.example.com', clientId: 'pages', scopes: ['openid', 'offline_access'], resource: 'https://gw.example.com', insecure: false }],
      dev: null,
    });
    expect(signInConnectSources(config)).toEqual(['https://login.example.com']);
    expect(signInPageConfig({ issuers: [], devRoles: ['admin'] }).dev).toEqual({ roles: ['admin'], tokenPath: DEV_TOKEN_PATH });
  });
});

describe('sign-in through an OpenID provider (authorization code + PKCE)', () => {
  let idp: LoginProvider | undefined;
  let stack: Stack | undefined;
  let origin: string;

  beforeAll(async () => {
    idp = await startLoginProvider({ accounts: { dana: ['data-scientist', 'data-product-owner'] } });
    const issuers = [{ issuer: idp.issuer, audiences: [idp.audience], browserClient: { clientId: BROWSER_CLIENT_ID, scopes: ['openid'] } }];
    stack = await startStack({ env: { OIDC_ISSUERS: JSON.stringify(issuers) } });
    origin = new URL(stack.url).origin;
    idp.register({ clientId: BROWSER_CLIENT_ID, redirectUris: [`${origin}/graphql`, `${origin}/usage`] });
    await stack.gateway.refreshCatalog();
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await idp?.stop();
  });

  it("offers the issuer, lets the pages call exactly its origin, and offers no development sign-in", async () => {
    for (const path of ['/graphql', '/usage']) {
      const res = await fetch(`${origin}${path}`, { headers: { accept: BROWSER_ACCEPT } });
      expect(res.status, path).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(/connect-src ([^;]*)/.exec(csp)?.[1], path).toBe(`'self' ${idp!.issuer}`);
      const page = await res.text();
      const config = JSON.parse(/<script type="application\/json" id="sign-in-config">(.*?)<\/script>/s.exec(page)![1]!) as unknown;
      expect(config, path).toEqual({
        issuers: [{ issuer: idp!.issuer, label: new URL(idp!.issuer).host, clientId: BROWSER_CLIENT_ID, scopes: ['openid'], insecure: true }],
        dev: null,
      });
    }
    // Development mode with an external issuer: the development issuer is not trusted, so no development sign-in.
    const dev = await fetch(`${origin}${DEV_TOKEN_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"role":"admin"}' });
    expect(dev.status).toBe(404);
  });

  it('signs in on the sandbox, runs the catalogue as the user, loads the usage page, renews the token, asks to sign in again, signs out', async () => {
    const { page, blocked, problems } = await openPage([origin, idp!.issuer]);
    const authorizationRequests: string[] = [];
    const tokenCalls: { body: string; authorization: string | undefined }[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin !== idp!.issuer) return;
      if (url.pathname === '/auth') authorizationRequests.push(request.url());
      if (url.pathname === '/token' && request.method() === 'POST') tokenCalls.push({ body: request.postData() ?? '', authorization: request.headers()['authorization'] });
    });
    const graphqlCalls: Request[] = [];
    page.on('request', (request) => {
      if (isGraphQLPost(origin)(request)) graphqlCalls.push(request);
    });
    try {
      await page.goto(`${origin}/graphql`);
      await page.locator('.graphiql-container').waitFor();
      await expect.poll(() => page.locator('#sign-in').getAttribute('data-status')).toBe('signed-out');
      expect(await page.locator('#dev-role').count()).toBe(0);

      // The issuer's own login and consent pages, in the browser.
      await page.getByRole('button', { name: `Sign in with ${new URL(idp!.issuer).host}` }).click();
      await page.locator('input[name="login"]').waitFor();
      expect(new URL(page.url()).origin).toBe(idp!.issuer);
      await page.fill('input[name="login"]', 'dana');
      await page.fill('input[name="password"]', 'any password');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect.poll(() => page.locator('#sign-in-user').textContent(), { timeout: 15_000 }).toBe('dana');
      // The code and state are gone from the address bar.
      expect(page.url()).toBe(`${origin}/graphql`);

      // Authorization code with PKCE (S256) as a public client: no secret anywhere.
      expect(authorizationRequests).toHaveLength(1);
      const authorization = new URL(authorizationRequests[0]!).searchParams;
      expect(Object.fromEntries([...authorization].filter(([name]) => !['code_challenge', 'state', 'nonce'].includes(name)))).toEqual({
        client_id: BROWSER_CLIENT_ID,
        redirect_uri: `${origin}/graphql`,
        response_type: 'code',
        scope: 'openid',
        code_challenge_method: 'S256',
      });
      expect(tokenCalls).toHaveLength(1);
      const exchange = new URLSearchParams(tokenCalls[0]!.body);
      expect(exchange.get('grant_type')).toBe('authorization_code');
      expect(exchange.get('client_id')).toBe(BROWSER_CLIENT_ID);
      expect(exchange.has('client_secret')).toBe(false);
      expect(tokenCalls[0]!.authorization).toBeUndefined();
      expect(createHash('sha256').update(exchange.get('code_verifier')!).digest('base64url')).toBe(authorization.get('code_challenge'));

      // The catalogue (the first tab) runs as dana, marked as the sandbox's.
      const catalogue = await runTab(page, origin, 'DataProducts');
      expect(catalogue.body.errors).toBeUndefined();
      expect((catalogue.body.data!.dataProducts as { name: string }[]).map((p) => p.name)).toEqual(['customer', 'finance', 'product']);
      const token = bearerOf(catalogue.request)!;
      expect(claimsOf(token)).toMatchObject({ iss: idp!.issuer, sub: 'dana', aud: idp!.audience, roles: ['data-scientist', 'data-product-owner'] });
      expect(catalogue.request.headers()['apollographql-client-name']).toBe(SANDBOX_CLIENT_NAME);
      // Every call since sign-in (the schema fetched again as dana included) carried the session.
      const since = graphqlCalls.filter((request) => bearerOf(request) !== undefined);
      expect(since.length).toBeGreaterThan(1);
      // GraphiQL fetched the schema again as dana (under INTROSPECTION_VIEW=granted, her view of the graph).
      expect(since.some((request) => (request.postData() ?? '').includes('IntrospectionQuery'))).toBe(true);
      for (const request of since) expect(request.headers()['apollographql-client-name']).toBe(SANDBOX_CLIENT_NAME);

      // Sign-out forgets the tokens: the next run is anonymous.
      await page.locator('#sign-out').click();
      await expect.poll(() => page.locator('#sign-in').getAttribute('data-status')).toBe('signed-out');
      expect(await storedSession(page)).toBeNull();
      const anonymous = await runTab(page, origin, 'DataProducts');
      expect(bearerOf(anonymous.request)).toBeUndefined();

      // Signing in again: the issuer remembers dana and her consent, so it is one click.
      await page.getByRole('button', { name: `Sign in with ${new URL(idp!.issuer).host}` }).click();
      await expect.poll(() => page.locator('#sign-in-user').textContent(), { timeout: 15_000 }).toBe('dana');

      // The usage page, in the same tab: already signed in, its calls carry the session.
      await page.clock.install();
      await page.goto(`${origin}/usage`);
      await expect.poll(() => page.locator('#sign-in-user').textContent()).toBe('dana');
      await page.waitForSelector('#product option[value="customer"]', { state: 'attached' });
      await page.selectOption('#product', 'customer');
      const loaded = page.waitForRequest((r) => isGraphQLPost(origin)(r) && (r.postData() ?? '').includes('FieldUsage'));
      await page.click('#load');
      const before = bearerOf(await loaded)!;
      expect(claimsOf(before)).toMatchObject({ iss: idp!.issuer, sub: 'dana' });
      await page.waitForSelector('tr[data-coordinate="Customer.country"]');

      // Close to its expiry, the token is renewed with the refresh token (the page's clock jumps ahead).
      const refreshed = page.waitForResponse((r) => r.url() === `${idp!.issuer}/token` && (r.request().postData() ?? '').includes('grant_type=refresh_token'));
      await page.clock.fastForward(LOGIN_ACCESS_TOKEN_TTL_S * 1000);
      expect((await refreshed).status()).toBe(200);
      const reloaded = page.waitForRequest((r) => isGraphQLPost(origin)(r) && (r.postData() ?? '').includes('FieldUsage'));
      await page.click('#load');
      const after = bearerOf(await reloaded)!;
      expect(after).not.toBe(before);
      expect(claimsOf(after)).toMatchObject({ iss: idp!.issuer, sub: 'dana' });
      await page.waitForSelector('#status[data-state="ok"]');

      // The issuer is down when the token runs out: the page asks to sign in again.
      idp!.setDown(true);
      await page.clock.fastForward(LOGIN_ACCESS_TOKEN_TTL_S * 1000 + 1_000);
      await expect.poll(() => page.locator('#sign-in').getAttribute('data-status')).toBe('expired');
      expect(await page.locator('#sign-in-notice').textContent()).toMatch(/sign in again/);
      await expect.poll(() => page.getByRole('button', { name: `Sign in with ${new URL(idp!.issuer).host}` }).count()).toBe(1);
      expect(await storedSession(page)).toBeNull();
      await page.click('#load');
      await page.waitForSelector('#status[data-state="error"][data-code="NO_TOKEN"]');
      idp!.setDown(false);

      expect(blocked).toEqual([]);
      expect(problems).toEqual([]);
      expect(await cspViolations(page)).toEqual([]);
    } finally {
      idp!.setDown(false);
      await page.context().close();
    }
  }, 120_000);
  it('a cancelled sign-in and a forged callback leave the user signed out, told why, with a clean address bar', async () => {
    const { page, blocked, problems } = await openPage([origin, idp!.issuer]);
    const tokenCalls: string[] = [];
    page.on('request', (request) => {
      if (request.url() === `${idp!.issuer}/token`) tokenCalls.push(request.postData() ?? '');
    });
    try {
      await page.goto(`${origin}/usage`);
      await page.getByRole('button', { name: `Sign in with ${new URL(idp!.issuer).host}` }).click();
      await page.locator('input[name="login"]').waitFor();
      await page.getByRole('link', { name: '[ Cancel ]' }).click();
      await expect.poll(() => page.locator('#sign-in-notice').textContent()).toMatch(/^Sign-in failed: the issuer answered access_denied/);
      expect(await page.locator('#sign-in').getAttribute('data-status')).toBe('signed-out');
      expect(page.url()).toBe(`${origin}/usage`);

      // A callback this tab did not start (no PKCE verifier, no state of its own): nothing is exchanged.
      await page.goto(`${origin}/usage?code=forged&state=forged&iss=${encodeURIComponent(idp!.issuer)}`);
      await expect.poll(() => page.locator('#sign-in-notice').textContent()).toMatch(/not started here/);
      expect(page.url()).toBe(`${origin}/usage`);
      expect(await storedSession(page)).toBeNull();
      expect(tokenCalls).toEqual([]);
      expect(blocked).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
  }, 60_000);
});

describe('development sign-in (npm start defaults)', () => {
  let stack: Stack | undefined;
  let origin: string;

  beforeAll(async () => {
    stack = await startStack();
    origin = new URL(stack.url).origin;
    await stack.gateway.refreshCatalog();
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('serves the sign-in code from node_modules and this repository, nothing from a CDN', async () => {
    const require = createRequire(import.meta.url);
    const cases = [
      ['/sign-in/session.js', 'text/javascript; charset=utf-8', fileURLToPath(new URL('../gateway/sign-in/session.js', import.meta.url))],
      ['/sign-in/widget.js', 'text/javascript; charset=utf-8', fileURLToPath(new URL('../gateway/sign-in/widget.js', import.meta.url))],
      ['/sign-in/sign-in.css', 'text/css; charset=utf-8', fileURLToPath(new URL('../gateway/sign-in/sign-in.css', import.meta.url))],
      ['/sign-in/oauth4webapi.js', 'text/javascript; charset=utf-8', require.resolve('oauth4webapi')],
    ] as const;
    for (const [path, type, file] of cases) {
      const res = await fetch(`${origin}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(type);
      expect(res.headers.get('cache-control'), path).toBe('no-cache');
      expect(res.headers.get('content-security-policy'), path).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(await res.text(), path).toBe(readFileSync(file, 'utf8'));
      const again = await fetch(`${origin}${path}`, { headers: { 'if-none-match': res.headers.get('etag')! } });
      expect(again.status, path).toBe(304);
    }
    // The session module imports oauth4webapi from the gateway, by a relative name.
    expect(readFileSync(cases[0][2], 'utf8')).toContain("from './oauth4webapi.js'");
    expect((await fetch(`${origin}/sign-in/other.js`)).status).toBe(404);
  });

  it('mints a development token for a role of the policy file, for same-origin JSON requests only', async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${origin}${DEV_TOKEN_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const codeOf = async (res: Response) => ((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code;

    const ok = await post('{"role":"data-scientist"}', { 'sec-fetch-site': 'same-origin' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    const body = (await ok.json()) as { access_token: string; token_type: string; expires_in: number; role: string };
    expect(body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: DEV_SIGN_IN_TTL_S, role: 'data-scientist' });
    expect(claimsOf(body.access_token)).toMatchObject({ sub: 'dev:data-scientist', roles: ['data-scientist'], azp: 'dev-sign-in' });
    const run = await postGraphQL<{ dataProducts: { name: string }[] }>(stack!.url, '{ dataProducts { name } }', { token: body.access_token });
    expect(run.body.errors).toBeUndefined();

    const roles = [...loadAccessPolicies(DEFAULT_POLICIES_FILE).roles.keys()];
    const unknown = await post('{"role":"root"}');
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'BAD_USER_INPUT', roles } }] });
    const notJson = await post('role=admin');
    expect([notJson.status, await codeOf(notJson)]).toEqual([400, 'BAD_REQUEST']);
    const form = await fetch(`${origin}${DEV_TOKEN_PATH}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'role=admin' });
    expect([form.status, await codeOf(form)]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const crossSite = await post('{"role":"admin"}', { 'sec-fetch-site': 'cross-site' });
    expect([crossSite.status, await codeOf(crossSite)]).toEqual([403, 'FORBIDDEN']);
    const get = await fetch(`${origin}${DEV_TOKEN_PATH}`);
    expect([get.status, get.headers.get('allow'), await codeOf(get)]).toEqual([405, 'POST', 'METHOD_NOT_ALLOWED']);
  });

  it('signs in as a role with one click: the examples run as it under the client name sandbox, the usage page follows, tokens are renewed', async () => {
    const { page, blocked, problems } = await openPage([origin]);
    try {
      await page.clock.install();
      await page.goto(`${origin}/graphql`);
      await page.locator('.graphiql-container').waitFor();
      const roles = await page.locator('#dev-role option').allTextContents();
      expect(roles).toEqual([...loadAccessPolicies(DEFAULT_POLICIES_FILE).roles.keys()]);

      await page.selectOption('#dev-role', 'data-scientist');
      await page.click('#dev-sign-in');
      await expect.poll(() => page.locator('#sign-in-user').textContent()).toBe('dev:data-scientist');

      // An example tab runs as the role, marked as the sandbox's.
      await page.locator('.graphiql-tab', { hasText: 'CustomersInCountry' }).click();
      await expect.poll(() => page.locator('.graphiql-query-editor .CodeMirror').innerText()).toContain('query CustomersInCountry');
      const example = await runTab(page, origin, 'CustomersInCountry');
      expect(example.body.errors).toBeUndefined();
      expect(claimsOf(bearerOf(example.request)!)).toMatchObject({ sub: 'dev:data-scientist', roles: ['data-scientist'] });
      expect(example.request.headers()['apollographql-client-name']).toBe(SANDBOX_CLIENT_NAME);
      await expect.poll(() => page.locator('.result-window').innerText()).toContain('"customers"');
      await page.screenshot({ path: join(SCREENSHOTS, 'sandbox-signed-in.png') });

      // Owners see the sandbox's exploration apart from applications.
      await stack!.gateway.flushUsage();
      const usage = await postGraphQL<{ fieldUsage: { coordinate: string; clients: { name: string }[] }[] }>(
        stack!.url,
        'query ($since: DateTime) { fieldUsage(product: "customer", since: $since) { coordinate clients { name } } }',
        { token: await tokenFor('data-product-owner'), variables: { since: new Date(Date.now() - 3_600_000).toISOString() } },
      );
      expect(usage.body.data!.fieldUsage.find((f) => f.coordinate === 'Customer.country')!.clients.map((c) => c.name)).toContain(SANDBOX_CLIENT_NAME);

      // The development token is asked for again before it expires.
      const renewed = page.waitForResponse((r) => r.url() === `${origin}${DEV_TOKEN_PATH}`);
      await page.clock.fastForward(DEV_SIGN_IN_TTL_S * 1000);
      expect((await renewed).status()).toBe(200);
      await expect.poll(() => page.locator('#sign-in-user').textContent()).toBe('dev:data-scientist');

      // The usage page, same tab: a data scientist may not read usage; an owner may.
      await page.goto(`${origin}/usage`);
      await page.waitForSelector('#status[data-code="FORBIDDEN"]');
      await page.click('#sign-out');
      await page.selectOption('#dev-role', 'data-product-owner');
      await page.click('#dev-sign-in');
      await expect.poll(() => page.locator('#sign-in-user').textContent()).toBe('dev:data-product-owner');
      await page.waitForSelector('#product option[value="customer"]', { state: 'attached' });
      await page.selectOption('#product', 'customer');
      await page.selectOption('#window', '24h');
      await page.click('#load');
      await page.waitForSelector('tr[data-coordinate="Customer.country"]');
      expect(await page.getAttribute('tr[data-coordinate="Customer.country"] td[data-col="clients"]', 'title')).toContain(`${SANDBOX_CLIENT_NAME}: `);
      await page.click('tr[data-coordinate="Customer.country"]');
      await page.waitForSelector('#chart-section:not([hidden])');
      await page.screenshot({ path: join(SCREENSHOTS, 'usage-page-signed-in.png'), fullPage: true });

      expect(blocked).toEqual([]);
      expect(problems).toEqual([]);
      expect(await cspViolations(page)).toEqual([]);
    } finally {
      await page.context().close();
    }
  }, 120_000);
});

describe('production mode', () => {
  it('offers no development sign-in: not on the pages, not served', async () => {
    const stack = await startStack();
    try {
      const key = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      const issuer = 'https://idp.example.com/realms/acme';
      const config = loadConfig(
        gatewayEnv(stack.subgraphUrls, {
          NODE_ENV: 'production',
          INTERNAL_SIGNING_KEY: key,
          PSEUDONYM_KEY: randomBytes(32).toString('base64'),
          OIDC_ISSUERS: JSON.stringify([{ issuer, audiences: ['gateway'], browserClient: { clientId: 'pages', scopes: ['openid', 'offline_access'] } }]),
          // Nothing is audited here, so the store is never opened.
          AUDIT_DATA_DIR: join(tmpdir(), 'dpg-audit-never-opened'),
          ADMIN_PORT: '0',
        }),
      );
      expect(config.auth.trustDevIssuer).toBe(false);
      const gateway = await startGateway(config, silent);
      try {
        const base = new URL(gateway.url).origin;
        for (const path of ['/graphql', '/usage']) {
          const res = await fetch(`${base}${path}`, { headers: { accept: BROWSER_ACCEPT } });
          expect(res.status, path).toBe(200);
          expect(/connect-src ([^;]*)/.exec(res.headers.get('content-security-policy') ?? '')?.[1], path).toBe("'self' https://idp.example.com");
          const html = await res.text();
          const signIn = JSON.parse(/<script type="application\/json" id="sign-in-config">(.*?)<\/script>/s.exec(html)![1]!) as { dev: unknown; issuers: { issuer: string }[] };
          expect(signIn.dev, path).toBeNull();
          expect(signIn.issuers.map((i) => i.issuer)).toEqual([issuer]);
          expect(html, path).not.toContain(DEV_TOKEN_PATH);
        }
        for (const method of ['POST', 'GET']) {
          const res = await fetch(`${base}${DEV_TOKEN_PATH}`, { method, ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{"role":"admin"}' } : {}) });
          expect(res.status, method).toBe(404);
          expect(await res.json()).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'NOT_FOUND' } }] });
        }

        // In the browser: a button for the issuer, no "sign in as".
        const { page } = await openPage([base]);
        try {
          await page.goto(`${base}/usage`);
          await expect.poll(() => page.locator('#sign-in').getAttribute('data-status')).toBe('signed-out');
          expect(await page.getByRole('button', { name: 'Sign in with idp.example.com' }).count()).toBe(1);
          expect(await page.locator('#dev-role, #dev-sign-in').count()).toBe(0);
        } finally {
          await page.context().close();
        }
      } finally {
        await gateway.stop();
      }
    } finally {
      await stack.stop();
    }
  }, 120_000);
});
