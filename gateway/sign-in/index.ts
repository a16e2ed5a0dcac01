import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fromPackageRoot } from '../../lib/package-root.js';
import { serveAsset, staticAsset } from '../../lib/static-assets.js';
import type { IssuerConfig } from '../auth/issuers.js';
import { DEV_TOKEN_PATH } from './dev-token.js';

/**
 * Signing in from the browser pages (the sandbox, the usage page): what the pages are told (the
 * issuers a user may sign in at, and in development the roles to sign in as), which origins their
 * CSP must let them call, and the browser code that runs the protocol. The protocol itself is
 * oauth4webapi's (authorization code flow with PKCE, public client), served from node_modules.
 */

/** Where the sign-in scripts and style are. */
export const SIGN_IN_ASSET_PREFIX = '/sign-in/';

/** One issuer the pages offer, as the browser code reads it. */
export interface SignInIssuer {
  /** The issuer identifier: discovery is `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** What the button says: the issuer's host. */
  readonly label: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly resource: string | undefined;
  /** Plain http is allowed for a loopback issuer only (config validation refuses any other). */
  readonly insecure: boolean;
}

/** The JSON data block `#sign-in-config` of every page that signs in. */
export interface SignInPageConfig {
  readonly issuers: readonly SignInIssuer[];
  /** Development sign-in: the roles of the policy file and where tokens come from; null in production or with external issuers. */
  readonly dev: { readonly roles: readonly string[]; readonly tokenPath: string } | null;
}

export interface SignInOptions {
  /** The trusted issuers; those with a `browserClient` are offered. */
  readonly issuers: readonly IssuerConfig[];
  /**
   * The roles to offer "sign in as", backed by the development issuer; undefined: no development
   * sign-in. Only the gateway in development mode trusting the development issuer passes them.
   */
  readonly devRoles: readonly string[] | undefined;
}

export function signInPageConfig(options: SignInOptions): SignInPageConfig {
  const issuers = options.issuers.flatMap((issuer): SignInIssuer[] => {
    const client = issuer.browserClient;
    if (!client) return [];
    const url = new URL(issuer.issuer);
    return [{ issuer: issuer.issuer, label: url.host, clientId: client.clientId, scopes: [...client.scopes], resource: client.resource, insecure: url.protocol === 'http:' }];
  });
  const dev = options.devRoles && options.devRoles.length > 0 ? { roles: [...options.devRoles], tokenPath: DEV_TOKEN_PATH } : null;
  return { issuers, dev };
}

/**
 * What `connect-src` must add for sign-in: each offered issuer's origin (discovery and the token
 * call), nothing else. A development sign-in calls this origin ('self').
 */
export function signInConnectSources(config: SignInPageConfig): readonly string[] {
  return [...new Set(config.issuers.map((issuer) => new URL(issuer.issuer).origin))];
}

/** JSON for a `<script type="application/json">` data block: nothing in it can close the element. */
export function jsonForHtml(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The data block the browser code reads its issuers and roles from (never executed). */
export function signInConfigBlock(config: SignInPageConfig): string {
  return `<script type="application/json" id="sign-in-config">${jsonForHtml(config)}</script>`;
}

const JS = 'text/javascript; charset=utf-8';
// oauth4webapi's package `exports` name its ES module build: resolve it, as Node would import it.
const oauth4webapiFile = () => createRequire(import.meta.url).resolve('oauth4webapi');
const here = (name: string) => () => fromPackageRoot('gateway', 'sign-in', name);

/** Served under SIGN_IN_ASSET_PREFIX. The session module imports './oauth4webapi.js' by that name. */
const FILES: Readonly<Record<string, { readonly file: () => string; readonly contentType: string }>> = {
  'session.js': { file: here('session.js'), contentType: JS },
  'oauth4webapi.js': { file: oauth4webapiFile, contentType: JS },
  'widget.js': { file: here('widget.js'), contentType: JS },
  'sign-in.css': { file: here('sign-in.css'), contentType: 'text/css; charset=utf-8' },
};

/** Scripts and styles are not documents: opened directly, they may load nothing. */
const ASSET_CSP = "default-src 'none'; frame-ancestors 'none'";

/** The URL of a sign-in asset on the pages. */
export const signInAsset = (name: keyof typeof FILES & string): string => `${SIGN_IN_ASSET_PREFIX}${name}`;

/**
 * Answers the sign-in assets (read once, on first use; revalidated with their ETag, since module
 * imports name them without a fingerprint). False for any other path.
 */
export function signInAssetsHandler(): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (!path.startsWith(SIGN_IN_ASSET_PREFIX)) return false;
    const name = path.slice(SIGN_IN_ASSET_PREFIX.length);
    const entry = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
    if (!entry) return false;
    serveAsset(req, res, staticAsset(entry.file(), entry.contentType), { csp: ASSET_CSP, cacheControl: 'no-cache' });
    return true;
  };
}
