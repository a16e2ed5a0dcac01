import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fromPackageRoot } from '../../lib/package-root.js';
import { contentSecurityPolicy, serveAsset, staticAsset, type StaticAsset } from '../../lib/static-assets.js';
import { signInConfigBlock, signInConnectSources, type SignInPageConfig } from '../sign-in/index.js';

/** Where the page lives on the gateway. */
export const USAGE_PAGE_PATH = '/usage';

/**
 * Everything the page loads comes from this origin: no inline script or style, no CDN, API calls
 * to /graphql, and the sign-in issuers' origins (discovery and the token call) only. Chart.js
 * styles its canvas through the CSSOM, which `style-src 'self'` allows.
 */
export function usagePageCsp(signInSources: readonly string[] = []): string {
  return contentSecurityPolicy({
    'script-src': "'self'",
    'style-src': "'self'",
    'img-src': "'self' data:",
    'connect-src': ["'self'", ...signInSources].join(' '),
  });
}

/** The page's CSP without sign-in at another origin. */
export const USAGE_PAGE_CSP = usagePageCsp();

const here = (name: string) => () => fromPackageRoot('gateway', 'usage-page', name);

// chart.js's package `exports` do not expose dist/chart.umd.js, so resolve the package entry
// (dist/chart.cjs) and take its sibling: the self-contained UMD build that defines window.Chart.
const chartUmd = () => join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js');

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const ASSETS: Readonly<Record<string, { readonly file: () => string; readonly contentType: string }>> = {
  [`${USAGE_PAGE_PATH}/app.js`]: { contentType: JS, file: here('./app.js') },
  [`${USAGE_PAGE_PATH}/app.css`]: { contentType: 'text/css; charset=utf-8', file: here('./app.css') },
  [`${USAGE_PAGE_PATH}/chart.umd.js`]: { contentType: JS, file: chartUmd },
};
/** Where page.html takes the sign-in configuration. */
const SIGN_IN_MARKER = '<!--sign-in-config-->';

/** The page with this gateway's sign-in configuration, rendered once per handler. */
function renderPage(signIn: SignInPageConfig): StaticAsset {
  const template = readFileSync(here('./page.html')(), 'utf8');
  if (!template.includes(SIGN_IN_MARKER)) throw new Error(`usage page: ${SIGN_IN_MARKER} missing from page.html`);
  const body = Buffer.from(template.replace(SIGN_IN_MARKER, signInConfigBlock(signIn)));
  const hash = createHash('sha256').update(body).digest('base64url');
  return { body, contentType: HTML, etag: `"${hash.slice(0, 27)}"`, hash };
}

const NO_SIGN_IN: SignInPageConfig = { issuers: [], dev: null };

/**
 * The per-field usage page for data product owners: a page, its script and style, and Chart.js,
 * served from memory (each file read once, on first use). The page itself holds no data; owners
 * sign in on it (see gateway/sign-in) and it calls the usage queries on /graphql as them.
 *
 * Returns true when it answered the request, false for any path that is not the page's.
 */
export function usagePageHandler(signIn: SignInPageConfig = NO_SIGN_IN): (req: IncomingMessage, res: ServerResponse) => boolean {
  const page = renderPage(signIn);
  const csp = usagePageCsp(signInConnectSources(signIn));
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (path === USAGE_PAGE_PATH || path === `${USAGE_PAGE_PATH}/`) {
      serveAsset(req, res, page, { csp, cacheControl: 'no-cache' });
      return true;
    }
    const asset = Object.hasOwn(ASSETS, path) ? ASSETS[path] : undefined;
    if (!asset) return false;
    serveAsset(req, res, staticAsset(asset.file(), asset.contentType), { csp, cacheControl: 'no-cache' });
    return true;
  };
}
