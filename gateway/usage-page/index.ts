import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { errorBody } from '../../lib/errors.js';
import { sendJson } from '../../lib/http.js';
import { fromPackageRoot } from '../../lib/package-root.js';

/** Where the page lives on the gateway. */
export const USAGE_PAGE_PATH = '/usage';

/**
 * Everything the page loads comes from this origin: no inline script or style, no CDN, API calls
 * to /graphql only. Chart.js styles its canvas through the CSSOM, which `style-src 'self'` allows.
 */
export const USAGE_PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  readonly contentType: string;
  /** Absolute path of the file; read on first use, then served from memory. */
  readonly file: () => string;
}

interface LoadedAsset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

const here = (name: string) => () => fromPackageRoot('gateway', 'usage-page', name);

// chart.js's package `exports` do not expose dist/chart.umd.js, so resolve the package entry
// (dist/chart.cjs) and take its sibling: the self-contained UMD build that defines window.Chart.
const chartUmd = () => join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js');

const ASSETS: Readonly<Record<string, Asset>> = {
  [USAGE_PAGE_PATH]: { contentType: 'text/html; charset=utf-8', file: here('./page.html') },
  [`${USAGE_PAGE_PATH}/`]: { contentType: 'text/html; charset=utf-8', file: here('./page.html') },
  [`${USAGE_PAGE_PATH}/app.js`]: { contentType: 'text/javascript; charset=utf-8', file: here('./app.js') },
  [`${USAGE_PAGE_PATH}/app.css`]: { contentType: 'text/css; charset=utf-8', file: here('./app.css') },
  [`${USAGE_PAGE_PATH}/chart.umd.js`]: { contentType: 'text/javascript; charset=utf-8', file: chartUmd },
};

const ALLOW = 'GET, HEAD';

/**
 * The per-field usage page for data product owners: a static page, its script and style, and
 * Chart.js, served from memory (each file read once, on first use). The page itself holds no data
 * and needs no token; it calls the usage queries on /graphql with the token the owner pastes.
 *
 * Returns true when it answered the request, false for any path that is not the page's.
 */
export function usagePageHandler(): (req: IncomingMessage, res: ServerResponse) => boolean {
  const loaded = new Map<string, LoadedAsset>();

  function load(path: string, asset: Asset): LoadedAsset {
    let entry = loaded.get(path);
    if (!entry) {
      const body = readFileSync(asset.file());
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      entry = { body, contentType: asset.contentType, etag };
      loaded.set(path, entry);
    }
    return entry;
  }

  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const asset = Object.hasOwn(ASSETS, path) ? ASSETS[path] : undefined;
    if (!asset) return false;

    const method = (req.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      // A body the client may have sent is not read: drain it so the connection can be reused.
      req.resume();
      sendJson(res, 405, errorBody('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use GET`), { allow: ALLOW });
      return true;
    }

    const { body, contentType, etag } = load(path, asset);
    const headers = {
      'content-type': contentType,
      'cache-control': 'no-cache',
      etag,
      'content-security-policy': USAGE_PAGE_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    res.writeHead(200, { ...headers, 'content-length': body.length });
    res.end(method === 'HEAD' ? undefined : body);
    return true;
  };
}
