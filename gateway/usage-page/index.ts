import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fromPackageRoot } from '../../lib/package-root.js';
import { contentSecurityPolicy, serveAsset, staticAsset } from '../../lib/static-assets.js';

/** Where the page lives on the gateway. */
export const USAGE_PAGE_PATH = '/usage';

/**
 * Everything the page loads comes from this origin: no inline script or style, no CDN, API calls
 * to /graphql only. Chart.js styles its canvas through the CSSOM, which `style-src 'self'` allows.
 */
export const USAGE_PAGE_CSP = contentSecurityPolicy({
  'script-src': "'self'",
  'style-src': "'self'",
  'img-src': "'self' data:",
  'connect-src': "'self'",
});

const here = (name: string) => () => fromPackageRoot('gateway', 'usage-page', name);

// chart.js's package `exports` do not expose dist/chart.umd.js, so resolve the package entry
// (dist/chart.cjs) and take its sibling: the self-contained UMD build that defines window.Chart.
const chartUmd = () => join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js');

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const ASSETS: Readonly<Record<string, { readonly file: () => string; readonly contentType: string }>> = {
  [USAGE_PAGE_PATH]: { contentType: HTML, file: here('./page.html') },
  [`${USAGE_PAGE_PATH}/`]: { contentType: HTML, file: here('./page.html') },
  [`${USAGE_PAGE_PATH}/app.js`]: { contentType: JS, file: here('./app.js') },
  [`${USAGE_PAGE_PATH}/app.css`]: { contentType: 'text/css; charset=utf-8', file: here('./app.css') },
  [`${USAGE_PAGE_PATH}/chart.umd.js`]: { contentType: JS, file: chartUmd },
};

/**
 * The per-field usage page for data product owners: a static page, its script and style, and
 * Chart.js, served from memory (each file read once, on first use). The page itself holds no data
 * and needs no token; it calls the usage queries on /graphql with the owner's token.
 *
 * Returns true when it answered the request, false for any path that is not the page's.
 */
export function usagePageHandler(): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const asset = Object.hasOwn(ASSETS, path) ? ASSETS[path] : undefined;
    if (!asset) return false;
    serveAsset(req, res, staticAsset(asset.file(), asset.contentType), { csp: USAGE_PAGE_CSP, cacheControl: 'no-cache' });
    return true;
  };
}
