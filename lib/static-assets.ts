import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from './errors.js';
import { sendJson } from './http.js';

/** A file served from memory: read and hashed once per process. */
export interface StaticAsset {
  readonly body: Buffer;
  readonly contentType: string;
  /** A strong ETag from the content hash. */
  readonly etag: string;
  /** The content hash (base64url), for fingerprinted URLs. */
  readonly hash: string;
}

const loaded = new Map<string, StaticAsset>();

/** The file at `path` (absolute), read and hashed on first use, then kept: the files never change while the process runs. */
export function staticAsset(path: string, contentType: string): StaticAsset {
  let asset = loaded.get(path);
  if (!asset) {
    const body = readFileSync(path);
    const hash = createHash('sha256').update(body).digest('base64url');
    asset = { body, contentType, etag: `"${hash.slice(0, 27)}"`, hash };
    loaded.set(path, asset);
  }
  return asset;
}

/**
 * A Content-Security-Policy: what the page needs, on top of a strict base (nothing from anywhere
 * else, no plugins, no <base>, no form posts, never framed).
 */
export function contentSecurityPolicy(directives: Readonly<Record<string, string>>): string {
  return Object.entries({
    'default-src': "'self'",
    ...directives,
    'object-src': "'none'",
    'base-uri': "'none'",
    'form-action': "'none'",
    'frame-ancestors': "'none'",
  })
    .map(([name, value]) => `${name} ${value}`)
    .join('; ');
}

/** Headers every page and asset carries, beside its own CSP. */
const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' } as const;

/**
 * Answers GET or HEAD with the asset (304 when the client's ETag is current), 405 for any other
 * method (without reading the body the client may have sent).
 */
export function serveAsset(req: IncomingMessage, res: ServerResponse, asset: StaticAsset, options: { csp: string; cacheControl: string }): void {
  const method = (req.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') {
    const path = (req.url ?? '/').split('?', 1)[0];
    sendJson(res, 405, errorBody('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use GET`), { allow: 'GET, HEAD', connection: 'close' });
    return;
  }
  const headers = { 'content-type': asset.contentType, etag: asset.etag, 'cache-control': options.cacheControl, 'content-security-policy': options.csp, ...SECURITY_HEADERS };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': asset.body.length });
  res.end(method === 'HEAD' ? undefined : asset.body);
}

/** Answers GET or HEAD with a page rendered for this response (never cached: it may carry a nonce). */
export function servePage(req: IncomingMessage, res: ServerResponse, html: string, options: { csp: string; vary?: string }): void {
  const body = Buffer.from(html);
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
    ...(options.vary ? { vary: options.vary } : {}),
    'content-security-policy': options.csp,
    ...SECURITY_HEADERS,
  });
  res.end((req.method ?? 'GET').toUpperCase() === 'HEAD' ? undefined : body);
}
