import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Kind, parse } from 'graphql';
import { fromPackageRoot } from '../../lib/package-root.js';
import { contentSecurityPolicy, serveAsset, servePage, staticAsset, type StaticAsset } from '../../lib/static-assets.js';
import { jsonForHtml, signInAsset, signInConfigBlock, signInConnectSources, type SignInPageConfig } from '../sign-in/index.js';

/** One example operation of a data product, as its descriptor lists it (`spec.exampleOperations[]`). */
export interface SandboxExample {
  /** The data product that owns the example, e.g. `customer`. */
  readonly product: string;
  /** The operation's name, e.g. `CustomersInCountry`. */
  readonly name: string;
  /** What it shows, in a sentence: becomes the tab's leading `#` comment. */
  readonly description: string;
  /** The GraphQL document. */
  readonly query: string;
}

/** A tab of GraphiQL's `defaultTabs`. */
export interface SandboxTab {
  readonly query: string;
}

export interface SandboxOptions {
  /** The examples preloaded as tabs, in order, after the welcome tab. */
  readonly examples: readonly SandboxExample[];
  /**
   * Where the page sends operations (POST, application/json): a path on this origin, or an
   * absolute URL (its origin is then added to the page's `connect-src`).
   * @default '/graphql'
   */
  readonly endpoint?: string;
  /**
   * Serve Apollo's embedded Sandbox instead of GraphiQL. Apollo's Sandbox is not on npm as a
   * self-contained build: the page loads its script from Apollo's CDN and runs it in an iframe from
   * Apollo's origin, so it only works for browsers that reach the internet, and it shows the schema
   * to code served by Apollo. For teams that prefer Apollo's tooling and accept that; GraphiQL
   * (the default) is served entirely from this gateway and works offline.
   * @default false
   */
  readonly apolloSandbox?: boolean;
  /**
   * How users sign in (GraphiQL only): the issuers offered, and in development the roles to sign in
   * as. Their tokens go with every operation the sandbox runs.
   * @default no sign-in
   */
  readonly signIn?: SignInPageConfig;
}

/** Where the sandbox page is: the GraphQL endpoint itself, for browser navigations. */
export const SANDBOX_PATH = '/graphql';
/** Where its scripts and styles are. */
export const SANDBOX_ASSET_PREFIX = '/graphql/sandbox/';
export const DEFAULT_SANDBOX_ENDPOINT = '/graphql';
/** The sandbox's operations carry this client name (`apollographql-client-name`): usage tells exploration from applications. */
export const SANDBOX_CLIENT_NAME = 'sandbox';
const NO_SIGN_IN: SignInPageConfig = { issuers: [], dev: null };

/** Apollo's embeddable Sandbox, major version 2 (the one @apollo/server's own landing page uses). */
export const APOLLO_SANDBOX_SCRIPT = 'https://embeddable-sandbox.cdn.apollographql.com/v2/embeddable-sandbox.umd.production.min.js';
const APOLLO_SANDBOX_SCRIPT_ORIGIN = 'https://embeddable-sandbox.cdn.apollographql.com';
const APOLLO_SANDBOX_FRAME_ORIGIN = 'https://sandbox.embed.apollographql.com';

/**
 * GraphiQL's page loads nothing but this origin's files. Why each exception:
 * - `style-src 'nonce-…'`: GraphiQL's dialogs (settings, shortcuts; Radix with
 *   react-remove-scroll) add a `<style>` element while open. That library reads the nonce from
 *   `window.__webpack_nonce__`, which the page's script sets from its configuration, so one fresh
 *   nonce per response replaces `'unsafe-inline'`. Everything else React and CodeMirror style goes
 *   through the CSSOM (`element.style`), which `style-src` does not govern.
 * - `font-src data:`, `img-src data:`: graphiql.min.css inlines its fonts and a few images as
 *   data: URIs.
 * - no inline script: the page's own script is a file, its configuration a JSON data block
 *   (never executed).
 * - no `'unsafe-eval'`: neither the GraphiQL 3 UMD build nor React evaluates strings.
 * - `connect-src`: this origin (or the endpoint's), and the origin of each issuer users sign in at
 *   (discovery and the token call), nothing else.
 * The browser test drives the page (run, docs, a dialog) and asserts that no violation is reported.
 */
export function graphiqlCsp(endpoint: string, styleNonce: string, signInSources: readonly string[] = []): string {
  return contentSecurityPolicy({
    'script-src': "'self'",
    'style-src': `'self' 'nonce-${styleNonce}'`,
    'font-src': "'self' data:",
    'img-src': "'self' data:",
    'connect-src': [connectSources(endpoint), ...signInSources].join(' '),
  });
}

/**
 * Apollo's page: its script from Apollo's CDN, its UI in an iframe from Apollo's origin. The
 * embedding script runs the operations from this page (the iframe posts them here), so
 * `connect-src` stays this origin.
 */
export function apolloSandboxCsp(endpoint: string): string {
  return contentSecurityPolicy({
    'script-src': `'self' ${APOLLO_SANDBOX_SCRIPT_ORIGIN}`,
    'style-src': `'self' ${APOLLO_SANDBOX_SCRIPT_ORIGIN}`,
    'frame-src': APOLLO_SANDBOX_FRAME_ORIGIN,
    'img-src': "'self' data:",
    'connect-src': connectSources(endpoint),
  });
}

function connectSources(endpoint: string): string {
  const absolute = /^https?:\/\//i.test(endpoint) ? new URL(endpoint).origin : undefined;
  return absolute ? `'self' ${absolute}` : "'self'";
}

const WELCOME = `# Welcome to the data product sandbox.
#
# 1. Sign in (the bar above). Every tab runs as you.
# 2. Run with the pink run button or Ctrl-Enter.
#
# This tab lists the data products (the catalogue) with their
# contracts: GraphQL, REST views (GET them signed in as you;
# /api/openapi.json describes them) and event streams. The other
# tabs are their example operations.
# The docs (book icon, top left) describe every type and
# field, deprecations included, as far as you may read them.

query DataProducts {
  # Which data products exist, who owns them, and how they are doing.
  dataProducts {
    name
    domain
    owner { team email }
    version
    description
    status { healthy latencyWithinSla fresh }
    quality { passRate }
    contracts {
      graphql { version }
      rest { method path version operationName available }
      events { subject name version }
    }
  }
}
`;

/**
 * GraphiQL's tabs: a welcome tab with how to get and paste a token, then one tab per example, its
 * product, name and description as leading `#` comments.
 */
export function sandboxTabs(examples: readonly SandboxExample[]): SandboxTab[] {
  return [{ query: WELCOME }, ...examples.map(exampleTab)];
}

function exampleTab(example: SandboxExample): SandboxTab {
  const comments = [`${example.product} · ${example.name}`, ...example.description.trim().split(/\r?\n/)].map((line) => `# ${line}`.trimEnd());
  return { query: `${comments.join('\n')}\n\n${example.query.trim()}\n` };
}

interface Asset extends StaticAsset {
  /** The asset's URL on the page, with its content hash: a new version is a new URL. */
  readonly url: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

const require = createRequire(import.meta.url);
/** A file of an installed package. Packages' `exports` hide their UMD builds: resolve package.json. */
const packageFile = (pkg: string, file: string) => join(dirname(require.resolve(`${pkg}/package.json`)), file);
const ownFile = (file: string) => fromPackageRoot('gateway', 'sandbox', file);

/** Served under SANDBOX_ASSET_PREFIX: name -> file and type. */
const GRAPHIQL_FILES: Readonly<Record<string, { file: () => string; contentType: string }>> = {
  'react.production.min.js': { file: () => packageFile('react', 'umd/react.production.min.js'), contentType: JS },
  'react-dom.production.min.js': { file: () => packageFile('react-dom', 'umd/react-dom.production.min.js'), contentType: JS },
  'graphiql.min.js': { file: () => packageFile('graphiql', 'graphiql.min.js'), contentType: JS },
  'graphiql.min.css': { file: () => packageFile('graphiql', 'graphiql.min.css'), contentType: CSS },
  'sandbox.js': { file: () => ownFile('./sandbox.js'), contentType: JS },
  'sandbox.css': { file: () => ownFile('./sandbox.css'), contentType: CSS },
};
const APOLLO_FILES: typeof GRAPHIQL_FILES = {
  'apollo-sandbox.js': { file: () => ownFile('./apollo-sandbox.js'), contentType: JS },
  'sandbox.css': { file: () => ownFile('./sandbox.css'), contentType: CSS },
};

/** Fingerprinted URLs never change content: cache them for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Scripts and styles are not documents: opened directly, they may load nothing. */
const ASSET_CSP = "default-src 'none'; frame-ancestors 'none'";

function loadAssets(files: typeof GRAPHIQL_FILES): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, { file, contentType }] of Object.entries(files)) {
    const path = `${SANDBOX_ASSET_PREFIX}${name}`;
    const asset = staticAsset(file(), contentType);
    assets.set(path, { ...asset, url: `${path}?v=${asset.hash.slice(0, 12)}` });
  }
  return assets;
}

/**
 * The data scientists' sandbox: GraphiQL at GET /graphql for browsers, with the data products'
 * example operations as tabs. Every file it needs (React, GraphiQL, its own script and style) is
 * read from node_modules and this folder once per process, when the first handler is created, and
 * served from memory; the page works with no network but this gateway.
 *
 * Returns true when it answered the request: a browser navigation to /graphql (GET or HEAD whose
 * Accept prefers text/html, without a `query` parameter) or one of its assets. Anything else,
 * GraphQL over GET and POST included, is false and left to the GraphQL route.
 */
export function sandboxHandler(options: SandboxOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const endpoint = options.endpoint ?? DEFAULT_SANDBOX_ENDPOINT;
  const apollo = options.apolloSandbox ?? false;

  const assets = loadAssets(apollo ? APOLLO_FILES : GRAPHIQL_FILES);
  const url = (name: string) => assets.get(`${SANDBOX_ASSET_PREFIX}${name}`)!.url;
  const signIn = options.signIn ?? NO_SIGN_IN;
  const signInSources = signInConnectSources(signIn);
  const tabs = sandboxTabs(options.examples);
  const storageNamespace = `dpg-sandbox:${createHash('sha256').update(JSON.stringify(tabs)).digest('base64url').slice(0, 12)}`;

  const apolloHtml = apollo ? apolloPage({ endpoint, document: apolloDocument(options.examples), css: url('sandbox.css'), script: url('apollo-sandbox.js') }) : '';
  /** The page and its CSP: GraphiQL's carries a fresh style nonce each time, Apollo's none. */
  const render = (): { html: string; csp: string } => {
    if (apollo) return { html: apolloHtml, csp: apolloSandboxCsp(endpoint) };
    const styleNonce = randomBytes(16).toString('base64');
    const config: GraphiqlConfig = { endpoint, tabs, storageNamespace, styleNonce, clientName: SANDBOX_CLIENT_NAME, redirectPath: SANDBOX_PATH };
    return { html: graphiqlPage(config, signIn, url), csp: graphiqlCsp(endpoint, styleNonce, signInSources) };
  };

  return (req, res) => {
    const target = req.url ?? '/';
    const mark = target.indexOf('?');
    const path = mark < 0 ? target : target.slice(0, mark);
    const search = mark < 0 ? '' : target.slice(mark + 1);
    const method = (req.method ?? 'GET').toUpperCase();

    if (path === SANDBOX_PATH) {
      if ((method !== 'GET' && method !== 'HEAD') || new URLSearchParams(search).has('query') || !prefersHtml(req.headers.accept)) return false;
      const { html, csp } = render();
      // A nonce is good for one response only (servePage never lets it be cached); the same URL
      // answers JSON to GraphQL clients, so caches must key on Accept.
      servePage(req, res, html, { csp, vary: 'Accept' });
      return true;
    }

    const asset = assets.get(path);
    if (!asset) return false;
    // Only the current fingerprint may be cached for good; any other URL revalidates.
    serveAsset(req, res, asset, { csp: ASSET_CSP, cacheControl: target === asset.url ? IMMUTABLE : 'no-cache' });
    return true;
  };
}

const JSON_TYPES = ['application/graphql-response+json', 'application/json'];

/**
 * Whether the Accept header prefers text/html over the GraphQL response types: a browser
 * navigation (`text/html,...,*\/*;q=0.8`) does, `*\/*`, no header or an API client does not.
 * Ties go to GraphQL.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = accept.split(',').map((part) => {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return { range, quality: Number.isFinite(quality) ? quality : 0 };
  });
  const quality = (type: string): number => {
    const [major] = type.split('/');
    // The most specific matching range decides (RFC 9110 12.5.1).
    const match = ranges.find((r) => r.range === type) ?? ranges.find((r) => r.range === `${major}/*`) ?? ranges.find((r) => r.range === '*/*');
    return match?.quality ?? 0;
  };
  const html = quality('text/html');
  return html > 0 && JSON_TYPES.every((type) => html > quality(type));
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

interface GraphiqlConfig {
  readonly endpoint: string;
  readonly tabs: readonly SandboxTab[];
  /**
   * Tabs and history are kept in localStorage under this name, which changes with the examples: a
   * browser that saw older examples gets the new ones instead of its stored tabs.
   */
  readonly storageNamespace: string;
  /** This response's CSP nonce, for the `<style>` GraphiQL's dialogs add. */
  readonly styleNonce: string;
  /** `apollographql-client-name` of every operation. */
  readonly clientName: string;
  /** This page's path: where the issuer sends the user back after sign-in. */
  readonly redirectPath: string;
}

/** The document head both sandbox pages share, with their stylesheets. */
function pageStart(stylesheets: readonly string[]): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>Sandbox · Data product gateway</title>
  <link rel="icon" href="data:,">
${stylesheets.map((href) => `  <link rel="stylesheet" href="${escapeAttribute(href)}">`).join('\n')}
</head>
<body>`;
}

function graphiqlPage(config: GraphiqlConfig, signIn: SignInPageConfig, url: (name: string) => string): string {
  return `${pageStart([url('graphiql.min.css'), signInAsset('sign-in.css'), url('sandbox.css')])}
  <header id="sign-in" class="sign-in sandbox-bar" aria-label="Sign-in"></header>
  <div id="sandbox"><p class="sandbox-loading">Loading the sandbox…</p></div>
  <noscript><p class="sandbox-loading">The sandbox needs JavaScript.</p></noscript>
  <script type="application/json" id="sandbox-config">${jsonForHtml(config)}</script>
  ${signInConfigBlock(signIn)}
  <script src="${escapeAttribute(url('react.production.min.js'))}"></script>
  <script src="${escapeAttribute(url('react-dom.production.min.js'))}"></script>
  <script src="${escapeAttribute(url('graphiql.min.js'))}"></script>
  <script type="module" src="${escapeAttribute(url('sandbox.js'))}"></script>
</body>
</html>
`;
}

const APOLLO_WELCOME = `# Data product sandbox (Apollo Sandbox). Token in development:
#   npm run -s token -- --role data-scientist
# then add the header  authorization: Bearer <token>  under Headers.
# Below: every data product's example operations; pick one to run.
`;

/** Apollo's Sandbox takes one document: every example, each operation name once. */
function apolloDocument(examples: readonly SandboxExample[]): string {
  const seen = new Set<string>();
  const unique = examples.filter((example) => {
    let names: string[];
    try {
      names = parse(example.query).definitions.flatMap((d) => (d.kind === Kind.OPERATION_DEFINITION && d.name ? [d.name.value] : []));
    } catch {
      return false;
    }
    if (names.some((name) => seen.has(name))) return false;
    for (const name of names) seen.add(name);
    return true;
  });
  return [APOLLO_WELCOME, ...unique.map((example) => exampleTab(example).query)].join('\n');
}

function apolloPage({ endpoint, document, css, script }: { endpoint: string; document: string; css: string; script: string }): string {
  return `${pageStart([css])}
  <div id="sandbox" class="apollo"><p class="sandbox-loading">Loading Apollo Sandbox from Apollo's CDN (needs internet access)…</p></div>
  <script type="application/json" id="sandbox-config">${jsonForHtml({ endpoint, document })}</script>
  <script src="${APOLLO_SANDBOX_SCRIPT}"></script>
  <script src="${escapeAttribute(script)}"></script>
</body>
</html>
`;
}
