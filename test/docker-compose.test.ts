import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Script } from 'node:vm';
import { Kind, parse as parseGraphQL } from 'graphql';
import semver from 'semver';
import { describe, it, expect } from 'vitest';
import { parseDocument } from 'yaml';
import { CONFIG_KEYS, loadConfig, type GatewayConfig } from '../gateway/config.js';
import { parseRedisUrl } from '../lib/redis-client.js';
import { SUBGRAPH_CONFIG_KEYS, loadSubgraphsConfig, type SubgraphsConfig } from '../subgraphs/config.js';
import { PRODUCT_NAMES, type ProductName } from '../subgraphs/kit/data-product.js';
import { PLATFORM_SUBGRAPH } from '../subgraphs/platform/index.js';
import { MAX_CUSTOMERS } from '../subgraphs/seed/seed.js';
import { MIGRATE_CONFIG_KEYS } from '../subgraphs/migrate.js';
import { defaultProductRole } from '../subgraphs/kit/roles.js';
import { buildLayout, copiesOf, dockerignore, execForm, filesOfSource, parseDockerfile, placedFiles, repoFiles, runsOf, type Stage } from './helpers/image.js';

/*
 * Docker cannot run where this project is developed, so docker-compose.yml and the Dockerfile are
 * checked by construction: every command, flag, variable, host and port in the compose file is fed
 * to the code that will read it in the container (the real config loaders, the build's own
 * tsconfig, the checked-in supergraph), and the image's files are worked out from the Dockerfile
 * and .dockerignore with Docker's rules. Renaming an entry point, a config key, a flag or a service
 * without updating the compose file fails here; so does a secret or a test reaching the image.
 * test/compiled-build.test.ts goes further: it compiles, lays out the runtime stage's files, and
 * serves a query from them.
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8');

/**
 * Variables an app service may set although its process does not read them. Keep it short and say
 * why for each; a key the code starts reading must move out of here (a test below enforces that).
 */
const EXTRA_ENV: Readonly<Record<Role, readonly string[]>> = {
  gateway: [],
  subgraph: [],
  // scripts/seed.ts reads DATABASE_URL itself: it is the seed CLI's one variable.
  seed: ['DATABASE_URL'],
  migrate: [],
};

/**
 * The processes of the topology by the TypeScript entry point their compiled file is built from;
 * package.json's script of the same name runs that source in development.
 */
const ENTRY_POINTS = { gateway: 'gateway/main.ts', subgraph: 'subgraphs/main.ts', seed: 'scripts/seed.ts', migrate: 'scripts/migrate.ts' } as const;
type Role = keyof typeof ENTRY_POINTS;

/** The seed CLI's flags (`node dist/scripts/seed.js --customers N [--seed N]`); each must be declared in scripts/seed.ts. */
const SEED_FLAGS = ['customers', 'seed'] as const;

/** Docker's wait between SIGTERM and SIGKILL when a service sets no stop_grace_period. */
const COMPOSE_DEFAULT_STOP_GRACE_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Reading the compose file the way `docker compose` does: YAML with merge keys, then ${VAR} interpolation.

interface Service {
  readonly image?: string;
  readonly init?: unknown;
  readonly build?: unknown;
  readonly command?: unknown;
  readonly environment?: unknown;
  readonly depends_on?: unknown;
  readonly healthcheck?: { readonly test?: unknown };
  readonly ports?: unknown;
  readonly restart?: unknown;
  readonly stop_grace_period?: unknown;
  readonly profiles?: unknown;
}

/**
 * Compose interpolation with an empty shell environment, so the test sees the defaults a plain
 * `docker compose up` uses. A variable without a default would make the topology depend on the
 * operator's shell: refused.
 */
function interpolate(value: string, env: Readonly<Record<string, string>> = {}): string {
  return value.replace(/\$(?:(\$)|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*)|)/g, (match, dollar, braced, bare) => {
    if (dollar) return '$';
    if (bare) throw new Error(`"${value}": $${bare} has no default; write \${${bare}:-default}`);
    if (braced === undefined) throw new Error(`"${value}": a lone $ must be written $$`);
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])(.*))?$/s.exec(braced);
    if (!m) throw new Error(`"${value}": unsupported interpolation ${match}`);
    const [, name, op, fallback] = m;
    const given = env[name!];
    if (op === undefined) {
      if (given === undefined) throw new Error(`"${value}": \${${name}} has no default; write \${${name}:-default}`);
      return given;
    }
    if (op === ':?' || op === '?') {
      // A secret the operator must provide (`docker compose` refuses to start without it).
      if (given === undefined || (op === ':?' && given === '')) throw new Error(`"${value}": required variable ${name} is not set`);
      return given;
    }
    if (given === undefined || (op === ':-' && given === '')) return fallback ?? '';
    return given;
  });
}

/**
 * What an operator puts in `.env` for the production topology (`npm run -s keys >> .env` and the
 * identity provider): the only variables without a default, each written `${NAME:?message}`.
 */
const OPERATOR_SECRETS: Readonly<Record<string, string>> = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    INTERNAL_SIGNING_KEY: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString().trim().replace(/\n/g, '\\n'),
    INTERNAL_VERIFY_KEY: publicKey.export({ format: 'pem', type: 'spki' }).toString().trim().replace(/\n/g, '\\n'),
    OIDC_ISSUERS: JSON.stringify([{ issuer: 'https://login.example.com/realms/acme', audiences: ['data-product-gateway'] }]),
    PSEUDONYM_KEY: randomBytes(32).toString('base64'),
    CUSTOMER_DB_PASSWORD: randomBytes(24).toString('hex'),
    FINANCE_DB_PASSWORD: randomBytes(24).toString('hex'),
    PRODUCT_DB_PASSWORD: randomBytes(24).toString('hex'),
  };
})();

function interpolateAll(node: unknown, env: Readonly<Record<string, string>>): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((item) => interpolateAll(item, env));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolateAll(value, env)]));
  }
  return node;
}

/** The services as `docker compose` sees them with the operator's secrets, and `options` (what else an operator may put in .env). */
function loadCompose(text: string, options: Readonly<Record<string, string>> = {}): Record<string, Service> {
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length > 0) throw new Error(`docker-compose.yml: ${doc.errors.map((e) => e.message).join('; ')}`);
  const compose = interpolateAll(doc.toJS(), { ...OPERATOR_SECRETS, ...options }) as { services?: Record<string, Service> };
  if (!compose.services || typeof compose.services !== 'object') throw new Error('docker-compose.yml: no services');
  return compose.services;
}

/** A service's environment as the process sees it: list or map form, values as strings. */
function environmentOf(name: string, service: Service): Record<string, string> {
  const env: Record<string, string> = {};
  const given = service.environment ?? {};
  const entries: [string, unknown][] = Array.isArray(given)
    ? given.map((item: unknown) => {
        const text = String(item);
        const eq = text.indexOf('=');
        return eq === -1 ? [text, null] : [text.slice(0, eq), text.slice(eq + 1)];
      })
    : Object.entries(given as Record<string, unknown>);
  for (const [key, value] of entries) {
    // A bare KEY is passed through from the operator's shell: the topology would depend on it.
    if (value === null || value === undefined || typeof value === 'object') {
      throw new Error(`${name}: environment ${key} must have a value`);
    }
    env[key] = String(value);
  }
  return env;
}

/** The `ENV` instructions of the image's last stage: every app process starts with these. */
function imageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { op, args } of stage.instructions) {
    if (op !== 'ENV') continue;
    for (const pair of args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq < 1) throw new Error(`Dockerfile: write ENV as KEY=value (got "ENV ${args}")`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

interface Invocation {
  /** The compiled file node runs, as the build writes it: `dist/gateway/main.js`. */
  readonly entry: string;
  /** The TypeScript file it is compiled from; undefined when the build writes no such file. */
  readonly source: string | undefined;
  /** Which process of the topology that is. */
  readonly role: Role | undefined;
  /** What the process receives in process.argv.slice(2). */
  readonly args: readonly string[];
}

/** `node dist/<path>.js [args...]` in exec form: the compiled build, no loader, no npm or shell in between. */
function invocationOf(name: string, command: unknown): Invocation {
  if (!Array.isArray(command) || !command.every((part) => typeof part === 'string')) {
    throw new Error(`${name}: command must be a list of strings (exec form)`);
  }
  const [bin, entry, ...args] = command as string[];
  if (bin !== 'node') throw new Error(`${name}: command must run node itself, got ${JSON.stringify(command)}`);
  if (!entry || !entry.startsWith(`${BUILD.outDir}/`) || !entry.endsWith('.js')) {
    throw new Error(`${name}: node must run a compiled file under ${BUILD.outDir}/ (and no flag before it), got ${JSON.stringify(command)}`);
  }
  const source = BUILD.compiled.get(entry);
  const role = (Object.keys(ENTRY_POINTS) as Role[]).find((r) => ENTRY_POINTS[r] === source);
  return { entry, source, role, args };
}

/** depends_on as service -> condition (the short list form means service_started). */
function dependsOn(service: Service): Record<string, string> {
  const given = service.depends_on;
  if (!given) return {};
  if (Array.isArray(given)) return Object.fromEntries(given.map((dep: unknown) => [String(dep), 'service_started']));
  return Object.fromEntries(
    Object.entries(given as Record<string, { condition?: string } | null>).map(([dep, spec]) => [dep, spec?.condition ?? 'service_started']),
  );
}

/** The URL a `node -e "fetch(...)"` healthcheck probes, after checking the script compiles. */
function probedUrl(name: string, service: Service): URL {
  const test = service.healthcheck?.test;
  if (!Array.isArray(test) || test[0] !== 'CMD' || test[1] !== 'node' || test[2] !== '-e' || typeof test[3] !== 'string' || test.length !== 4) {
    throw new Error(`${name}: healthcheck must be ["CMD", "node", "-e", "<script>"] (the slim image has no curl)`);
  }
  const code = test[3];
  new Script(code, { filename: `${name} healthcheck` });
  const urls = code.match(/https?:\/\/[^'"`\s)]+/g) ?? [];
  if (urls.length !== 1) throw new Error(`${name}: healthcheck must probe exactly one URL, found ${urls.length}`);
  return new URL(urls[0]!);
}

function containerPorts(name: string, service: Service): { host: number; container: number }[] {
  const ports = service.ports;
  if (!Array.isArray(ports)) return [];
  return ports.map((entry: unknown) => {
    const m = typeof entry === 'string' ? /^(?:[\d.]+:)?(\d+):(\d+)(?:\/tcp)?$/.exec(entry) : null;
    if (!m) throw new Error(`${name}: write ports as "host:container" strings, got ${JSON.stringify(entry)}`);
    return { host: Number(m[1]), container: Number(m[2]) };
  });
}

function durationMs(value: unknown): number {
  if (value === undefined) return COMPOSE_DEFAULT_STOP_GRACE_MS;
  const text = String(value);
  const unit: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a compose duration: "${text}"`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]!]!, 0);
}

/** Subgraph names as the supergraph declares them: `enum join__Graph { X @join__graph(name: "x", ...) }`. */
function supergraphSubgraphNames(sdl: string): string[] {
  const doc = parseGraphQL(sdl);
  const graphEnum = doc.definitions.find((d) => d.kind === Kind.ENUM_TYPE_DEFINITION && d.name.value === 'join__Graph');
  if (!graphEnum || graphEnum.kind !== Kind.ENUM_TYPE_DEFINITION) throw new Error('supergraph: no join__Graph enum');
  return (graphEnum.values ?? []).map((value) => {
    const directive = value.directives?.find((d) => d.name.value === 'join__graph');
    const arg = directive?.arguments?.find((a) => a.name.value === 'name');
    if (arg?.value.kind !== Kind.STRING) throw new Error(`supergraph: join__Graph.${value.name.value} has no @join__graph(name: "...")`);
    return arg.value.value;
  });
}

// ---------------------------------------------------------------------------------------------

const services = loadCompose(read('docker-compose.yml'));
const STAGES = parseDockerfile(read('Dockerfile'));
const RUNTIME = STAGES.at(-1)!;
const IMAGE_ENV = imageEnv(RUNTIME);
const BUILD = buildLayout();
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; engines: { node: string } };
const scripts = pkg.scripts;

const appServices = Object.entries(services).filter(([, s]) => s.build !== undefined);
/** Services grouped by the process they run; a malformed command fails its own test below, not the collection. */
const roleOf = (name: string, service: Service): Role | undefined => {
  try {
    return invocationOf(name, service.command).role;
  } catch {
    return undefined;
  }
};
const byRole = (role: Role) => appServices.filter(([name, s]) => roleOf(name, s) === role);
const subgraphServices = byRole('subgraph');
const gatewayServices = byRole('gateway');
const seedServices = byRole('seed');
const migrateServices = byRole('migrate');
const imageService = (prefix: string) => Object.entries(services).filter(([, s]) => typeof s.image === 'string' && s.image.startsWith(prefix));

/** What the process in the container sees: the image's ENV, then the service's environment. */
const processEnv = (name: string, service: Service) => ({ ...IMAGE_ENV, ...environmentOf(name, service) });

function subgraphConfigOf(name: string, service: Service): SubgraphsConfig {
  return loadSubgraphsConfig(processEnv(name, service), invocationOf(name, service.command).args);
}

function gatewayConfigOf(name: string, service: Service): GatewayConfig {
  return loadConfig(processEnv(name, service), invocationOf(name, service.command).args);
}

/** The one product a subgraph service serves and the port it listens on. */
function listenerOf(name: string, service: Service): { product: string; port: number } {
  const config = subgraphConfigOf(name, service);
  expect(config.products, `${name} serves exactly one data product`).toHaveLength(1);
  const product = config.products[0]!;
  return { product, port: config.ports[product] };
}

describe('docker-compose.yml', () => {
  it('builds every app service from this repository and runs it in exec form', () => {
    expect(appServices.length).toBeGreaterThan(0);
    for (const [name, service] of appServices) {
      expect(service.build, name).toBe('.');
      expect(Array.isArray(service.command), `${name}: exec (list) form`).toBe(true);
    }
    // Anything not built here must come from a pinned official image.
    for (const [name, service] of Object.entries(services).filter(([, s]) => s.build === undefined)) {
      expect(service.image, name).toMatch(/^(postgres|redis|nats):\d+/);
    }
  });

  it('runs compiled entry points that npm run build writes, built from the sources development runs', () => {
    for (const [name, service] of appServices) {
      const { entry, source, role } = invocationOf(name, service.command);
      expect(source, `${name}: npm run build writes ${entry} (tsconfig.build.json)`).toBeDefined();
      expect(existsSync(resolve(ROOT, source!)), `${name}: ${source} exists`).toBe(true);
      expect(role, `${name}: ${entry} is one of the topology's processes`).toBeDefined();
      // `npm run gateway` (and subgraph, seed) runs the same entry point from its TypeScript source.
      expect(scripts[role!], `${name}: package.json's "${role}" script runs ${source}`).toMatch(new RegExp(`\\s${source!.replace(/\./g, '\\.')}$`));
    }
  });

  it('sets only environment variables its process reads, or allow-listed ones', () => {
    const reads: Record<Role, readonly string[]> = {
      gateway: CONFIG_KEYS,
      subgraph: SUBGRAPH_CONFIG_KEYS,
      seed: [],
      migrate: MIGRATE_CONFIG_KEYS,
    };
    for (const [name, service] of appServices) {
      const { role, entry } = invocationOf(name, service.command);
      const allowed = role ? [...reads[role], ...EXTRA_ENV[role]] : [];
      for (const key of Object.keys(environmentOf(name, service))) {
        expect(allowed, `${name} (${entry}) sets ${key}`).toContain(key);
      }
    }
    // An allow-listed key the code now reads belongs to the config keys, and its comment is stale.
    expect(EXTRA_ENV.gateway!.filter((key) => CONFIG_KEYS.includes(key))).toEqual([]);
    expect(EXTRA_ENV.subgraph!.filter((key) => SUBGRAPH_CONFIG_KEYS.includes(key))).toEqual([]);
  });

  it('binds every app server on all interfaces so other containers can reach it', () => {
    for (const [name, service] of subgraphServices) expect(subgraphConfigOf(name, service).host, name).toBe('0.0.0.0');
    for (const [name, service] of gatewayServices) expect(gatewayConfigOf(name, service).host, name).toBe('0.0.0.0');
  });

  it('points DATABASE_URL (the superuser: roles, seed) at the postgres service with its credentials and database', () => {
    const postgres = imageService('postgres:');
    expect(postgres).toHaveLength(1);
    const [pgName, pg] = postgres[0]!;
    const pgEnv = environmentOf(pgName, pg);
    const users = appServices.filter(([name, s]) => environmentOf(name, s).DATABASE_URL !== undefined);
    // The data products never connect as the superuser: only the one-shot steps do.
    expect(users.map(([name]) => name).sort()).toEqual([...migrateServices, ...seedServices].map(([name]) => name).sort());
    for (const [name, service] of users) {
      const url = new URL(environmentOf(name, service).DATABASE_URL!);
      expect(url.protocol, name).toMatch(/^postgres(ql)?:$/);
      expect(url.hostname, `${name}: DATABASE_URL host`).toBe(pgName);
      expect(url.port || '5432', name).toBe('5432');
      expect(decodeURIComponent(url.username), name).toBe(pgEnv.POSTGRES_USER ?? 'postgres');
      expect(decodeURIComponent(url.password), name).toBe(pgEnv.POSTGRES_PASSWORD);
      expect(url.pathname.slice(1), name).toBe(pgEnv.POSTGRES_DB ?? pgEnv.POSTGRES_USER ?? 'postgres');
    }
  });

  describe('seed', () => {
    it('runs once, with flags the seed CLI declares, after the data products are healthy', () => {
      expect(seedServices).toHaveLength(1);
      const [name, service] = seedServices[0]!;
      const { args, source } = invocationOf(name, service.command);
      const { values } = parseArgs({
        args: [...args],
        options: Object.fromEntries(SEED_FLAGS.map((flag) => [flag, { type: 'string' as const }])),
        strict: true,
        allowPositionals: false,
      });
      const customers = Number(values.customers);
      expect(Number.isInteger(customers) && customers >= 1 && customers <= MAX_CUSTOMERS, `--customers 1..${MAX_CUSTOMERS}`).toBe(true);
      // scripts/seed.ts owns its parser; every flag passed here must be one of its declared options.
      expect(source).toBe(ENTRY_POINTS.seed);
      const seedSource = read(source!);
      for (const flag of Object.keys(values)) {
        const declared = new RegExp(`(['"]?\\b${flag}['"]?\\s*:)|(['"]--${flag}['"])`).test(seedSource);
        expect(declared, `scripts/seed.ts declares --${flag}`).toBe(true);
      }
      expect([undefined, 'no'], `${name}: one-shot`).toContain(service.restart);
      // The image's healthcheck probes the gateway's port, which the seed never opens.
      expect(service.healthcheck, `${name}: a one-shot process has no healthcheck`).toEqual({ disable: true });
      // It runs once the products are migrated and serving (their /readyz answers).
      expect(dependsOn(service)).toEqual(Object.fromEntries(subgraphServices.map(([product]) => [product, 'service_healthy'])));
    });

    it('runs only in the demo profile and never replaces data (no --reset)', () => {
      for (const [name, service] of seedServices) {
        expect(service.profiles, `${name}: only with docker compose --profile demo`).toEqual(['demo']);
        expect(invocationOf(name, service.command).args, name).not.toContain('--reset');
        expect(JSON.stringify(service), `${name}: no --reset anywhere`).not.toMatch(/--reset/);
      }
    });

    it('is not part of a plain `docker compose up`: every service outside a profile runs without it', () => {
      const plain = Object.entries(services).filter(([, s]) => s.profiles === undefined);
      const names = new Set(plain.map(([name]) => name));
      for (const [name] of seedServices) expect(names.has(name), name).toBe(false);
      // Compose refuses a model where an enabled service depends on a disabled one.
      for (const [name, service] of plain) {
        for (const dep of Object.keys(dependsOn(service))) expect(names.has(dep), `${name} depends on ${dep}, which a plain up starts`).toBe(true);
      }
      // Everything but the seed is always on: the products, gateways, PostgreSQL and Redis.
      expect([...names].sort()).toEqual(Object.keys(services).filter((n) => !seedServices.some(([s]) => s === n)).sort());
    });
  });

  describe('data products', () => {
    it('serves every data product, one service each, named after it', () => {
      const served = subgraphServices.map(([name, service]) => [name, listenerOf(name, service).product]);
      expect(served.map(([, product]) => product).sort()).toEqual([...PRODUCT_NAMES].sort());
      for (const [name, product] of served) expect(name).toBe(product);
    });

    it('passes flags and variables the subgraph process accepts, each product on its own port', () => {
      for (const [name, service] of subgraphServices) {
        const { args } = invocationOf(name, service.command);
        expect(() => subgraphConfigOf(name, service), name).not.toThrow();
        const { product, port } = listenerOf(name, service);
        expect(port, `${name} listens on a fixed port`).toBeGreaterThan(0);
        // The port comes from this product's own variable or --port, never from a default by accident.
        const portKey = `${product.toUpperCase()}_PORT`;
        expect(environmentOf(name, service)[portKey] !== undefined || args.includes('--port'), `${name} sets ${portKey} or --port`).toBe(true);
      }
      const ports = subgraphServices.map(([name, service]) => listenerOf(name, service).port);
      expect(new Set(ports).size).toBe(ports.length);
    });

    it("probes /readyz (the product's database answers) on the port it listens on, and starts after postgres and the migrations, never waiting for a seed", () => {
      const [seedName] = seedServices[0]!;
      const [pgName] = imageService('postgres:')[0]!;
      for (const [name, service] of subgraphServices) {
        const url = probedUrl(name, service);
        expect(url.hostname, name).toMatch(/^(127\.0\.0\.1|localhost)$/);
        expect(Number(url.port), name).toBe(listenerOf(name, service).port);
        // /healthz answers without the database; gateways wait for this check, so for the data.
        expect(url.pathname, name).toBe('/readyz');
        expect(dependsOn(service), name).toEqual({ [pgName]: 'service_healthy', [migrateServices[0]![0]]: 'service_completed_successfully' });
        expect(dependsOn(service)[seedName], name).toBeUndefined();
      }
    });
  });

  describe('each product owns its store', () => {
    const [pgName, pg] = imageService('postgres:')[0]!;
    const pgEnv = environmentOf(pgName, pg);
    /** The URL a product connects with, as the process reads it (its own variable, else DATABASE_URL). */
    const urlOf = (name: string, service: Service, product: ProductName) => {
      const config = subgraphConfigOf(name, service);
      return new URL(config.databaseUrls[product] ?? config.databaseUrl ?? 'embedded:');
    };

    it('connects each product as its own role, with its own password, to the one database', () => {
      const passwords = new Set<string>();
      for (const [name, service] of subgraphServices) {
        const product = listenerOf(name, service).product as ProductName;
        const url = urlOf(name, service, product);
        expect(url.protocol, name).toBe('postgres:');
        expect(url.hostname, name).toBe(pgName);
        expect(url.pathname.slice(1), name).toBe(pgEnv.POSTGRES_DB);
        expect(decodeURIComponent(url.username), name).toBe(defaultProductRole(product));
        // An operator secret (.env), not the superuser's.
        expect(decodeURIComponent(url.password), name).toBe(OPERATOR_SECRETS[`${product.toUpperCase()}_DB_PASSWORD`]);
        passwords.add(url.password);
        // It leaves migrating to the one-shot step.
        expect(subgraphConfigOf(name, service).migrateOnStart, name).toBe(false);
      }
      expect(passwords.size).toBe(PRODUCT_NAMES.length);
    });

    it('migrates once per up, before the products: roles first, then every product as its own role, with the URLs the products use', () => {
      expect(migrateServices).toHaveLength(1);
      const [name, service] = migrateServices[0]!;
      const { args } = invocationOf(name, service.command);
      // scripts/migrate.ts declares these flags; all products (no --product), roles first.
      expect(args).toEqual(['--init-roles']);
      expect(read(ENTRY_POINTS.migrate)).toMatch(/'init-roles': \{ type: 'boolean' \}/);
      expect([undefined, 'no'], `${name}: one-shot`).toContain(service.restart);
      expect(service.profiles, `${name}: part of every up`).toBeUndefined();
      expect(service.healthcheck).toEqual({ disable: true });
      expect(dependsOn(service)).toEqual({ [pgName]: 'service_healthy' });
      const env = environmentOf(name, service);
      // The role's name and password come from the product's URL: the same one the product connects with.
      for (const [productService, s] of subgraphServices) {
        const product = listenerOf(productService, s).product as ProductName;
        expect(env[`${product.toUpperCase()}_DATABASE_URL`], product).toBe(urlOf(productService, s, product).toString());
      }
    });

    it('never deletes data on up: no step resets, drops or truncates', () => {
      const plain = Object.entries(services).filter(([, s]) => s.profiles === undefined);
      for (const [name, service] of plain) expect(JSON.stringify(service.command ?? null), name).not.toMatch(/--reset|drop|truncate/i);
      // The migrations only add: no DROP or TRUNCATE in any Up section.
      for (const product of PRODUCT_NAMES) {
        for (const file of repoFiles().filter((f) => f.startsWith(`subgraphs/${product}/migrations/`) && f.endsWith('.sql'))) {
          const up = read(file).split(/^\s*--\s*Down Migration/im)[0]!;
          expect(up, file).not.toMatch(/^\s*(DROP|TRUNCATE|DELETE)\b|\bDROP\s+(COLUMN|TABLE|SCHEMA|CONSTRAINT|INDEX)\b/im);
        }
      }
    });

    it("gives the gateways no product's database URL", () => {
      for (const [name, service] of gatewayServices) {
        for (const key of ['DATABASE_URL', 'CUSTOMER_DATABASE_URL', 'FINANCE_DATABASE_URL', 'PRODUCT_DATABASE_URL']) {
          expect(environmentOf(name, service)[key], `${name} ${key}`).toBeUndefined();
        }
      }
    });
  });

  describe('gateways', () => {
    it('runs at least two identical replicas on distinct host ports', () => {
      expect(gatewayServices.length).toBeGreaterThanOrEqual(2);
      const [first, ...others] = gatewayServices.map(([name, s]) => ({ name, s }));
      for (const { name, s } of others) {
        expect(s.command, name).toEqual(first!.s.command);
        expect(environmentOf(name, s), name).toEqual(environmentOf(first!.name, first!.s));
        expect(dependsOn(s), name).toEqual(dependsOn(first!.s));
      }
      const hostPorts = gatewayServices.flatMap(([name, s]) => containerPorts(name, s).map((p) => p.host));
      expect(hostPorts.length).toBe(gatewayServices.length);
      expect(new Set(hostPorts).size).toBe(hostPorts.length);
    });

    it('passes flags and variables the gateway accepts, and publishes the port it listens on', () => {
      for (const [name, service] of gatewayServices) {
        expect(() => gatewayConfigOf(name, service), name).not.toThrow();
        const config = gatewayConfigOf(name, service);
        expect(config.mode, `${name} runs in production mode`).toBe('production');
        expect(containerPorts(name, service).map((p) => p.container), name).toEqual([config.port]);
        const probe = probedUrl(name, service);
        expect(probe.hostname, name).toMatch(/^(127\.0\.0\.1|localhost)$/);
        expect(Number(probe.port), name).toBe(config.port);
        expect(probe.pathname, name).toBe('/readyz');
        expect(durationMs(service.stop_grace_period), `${name}: stop_grace_period outlasts the drain`).toBeGreaterThan(config.shutdownGraceMs);
      }
    });

    it('routes every subgraph of the supergraph to the compose service of that name and port', () => {
      for (const [name, service] of gatewayServices) {
        const config = gatewayConfigOf(name, service);
        const supergraphPath = resolve(ROOT, config.supergraph);
        expect(existsSync(supergraphPath), `${name}: SUPERGRAPH ${config.supergraph} is in the repository (run npm run compose)`).toBe(true);
        // The platform subgraph (the usage API) is answered by the gateway in-process: no URL to route.
        const names = supergraphSubgraphNames(readFileSync(supergraphPath, 'utf8')).filter((n) => n !== PLATFORM_SUBGRAPH);
        // The checked-in supergraph routes to localhost, wrong in a container: every subgraph needs an override.
        expect(Object.keys(config.subgraphUrls).sort(), `${name}: SUBGRAPH_URLS names`).toEqual([...names].sort());
        for (const [subgraph, raw] of Object.entries(config.subgraphUrls)) {
          const url = new URL(raw);
          expect(url.hostname, `${name}: SUBGRAPH_URLS ${subgraph}`).toBe(subgraph);
          const target = services[subgraph];
          expect(target, `${name}: SUBGRAPH_URLS ${subgraph} -> a compose service "${subgraph}"`).toBeDefined();
          expect(invocationOf(subgraph, target!.command).role, `service ${subgraph} runs the subgraph entry point`).toBe('subgraph');
          const listener = listenerOf(subgraph, target!);
          expect(listener.product, `service ${subgraph} serves the ${subgraph} product`).toBe(subgraph);
          expect(url.protocol, `${name}: SUBGRAPH_URLS ${subgraph}`).toBe('http:');
          expect(Number(url.port || 80), `${name}: SUBGRAPH_URLS ${subgraph} port`).toBe(listener.port);
          expect(url.pathname, `${name}: SUBGRAPH_URLS ${subgraph} path`).toBe('/graphql');
        }
      }
    });

    it('starts after every data product and Redis are healthy, and reaches Redis by service name', () => {
      const redis = imageService('redis:');
      expect(redis).toHaveLength(1);
      const [redisName] = redis[0]!;
      for (const [name, service] of gatewayServices) {
        const deps = dependsOn(service);
        for (const [subgraph] of subgraphServices) expect(deps[subgraph], `${name} waits for ${subgraph}`).toBe('service_healthy');
        expect(deps[redisName], `${name} waits for ${redisName}`).toBe('service_healthy');
        const url = new URL(environmentOf(name, service).REDIS_URL ?? '');
        expect(url.protocol, name).toBe('redis:');
        expect(url.hostname, `${name}: REDIS_URL host`).toBe(redisName);
        expect(url.port || '6379', name).toBe('6379');
      }
    });

    it('notes how to run Redis as a cluster: node command, creation and REDIS_URL agree, and the gateway accepts that URL', () => {
      const note = read('docker-compose.yml')
        .split('\n')
        .filter((line) => /^\s*#/.test(line))
        .map((line) => line.replace(/^\s*#\s*/, ''))
        .join('\n');
      const url = /^REDIS_URL: "([^"]+)"$/m.exec(note)?.[1] ?? '';
      expect(() => loadConfig({ REDIS_URL: url }, []), 'the noted REDIS_URL is valid').not.toThrow();
      const reading = parseRedisUrl(url);
      expect(reading.ok && reading.target.kind, 'the noted REDIS_URL names a cluster').toBe('cluster');
      const seeds = reading.ok && reading.target.kind === 'cluster' ? reading.target.seeds.map((seed) => `${seed.host}:${seed.port}`) : [];
      // A cluster of masters needs three; the URL lists the nodes the creation joined.
      const created = /^docker compose exec (\S+) redis-cli --cluster create ((?:\S+:\d+ )+)--cluster-replicas \d+ --cluster-yes$/m.exec(note);
      expect(created, 'a redis-cli --cluster create line').not.toBeNull();
      const nodes = created![2]!.trim().split(' ');
      expect(nodes.length).toBeGreaterThanOrEqual(3);
      expect(seeds).toEqual(nodes);
      expect(nodes.map((n) => n.split(':')[0])).toContain(created![1]);
      const command = JSON.parse(/^command: (\[.*\])$/m.exec(note)?.[1] ?? 'null') as string[] | null;
      expect(command?.[0]).toBe('redis-server');
      const flag = (name: string) => command![command!.indexOf(name) + 1];
      expect(flag('--cluster-enabled')).toBe('yes');
      expect(flag('--cluster-config-file')).toMatch(/^\/data\//);
    });
  });
});

describe('docker-compose.yml traces', () => {
  const COLLECTOR = 'http://otel-collector:4318';
  const withCollector = loadCompose(read('docker-compose.yml'), { OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR });
  const tracingOf = (name: string, service: Service) =>
    roleOf(name, service) === 'gateway' ? gatewayConfigOf(name, service).tracing : subgraphConfigOf(name, service).tracing;

  it('are off by default, and every gateway and data product exports to the one collector an operator names', () => {
    const traced = [...gatewayServices, ...subgraphServices];
    expect(traced.length).toBe(gatewayServices.length + subgraphServices.length);
    for (const [name, service] of traced) {
      expect(tracingOf(name, service).enabled, `${name}: no collector, no tracing`).toBe(false);
      expect(tracingOf(name, withCollector[name]!), name).toMatchObject({ enabled: true, exporter: { url: `${COLLECTOR}/v1/traces` } });
    }
  });
});

/** What the runtime stage may take from the build context: package.json and files the code reads that are not code. */
const RUNTIME_CONTEXT_FILES: readonly RegExp[] = [
  /^package\.json$/,
  /^schema\/[^/]+\.graphql$/,
  /^policies\/[^/]+\.yaml$/,
  /^schema\/rest\/[^/]+\.yaml$/,
  /^subgraphs\/[^/]+\/descriptor\.yaml$/,
  // Each product's versioned migrations (node-pg-migrate reads the directory at run time).
  /^subgraphs\/[^/]+\/migrations\/[^/]+\.sql$/,
  /^gateway\/(?:sandbox|usage-page|sign-in)\/[^/]+\.(?:js|css|html)$/,
];

/** Folders whose TypeScript the build compiles: any other file in them is read at run time. */
const SOURCE_DIRS = ['lib', 'gateway', 'subgraphs', 'scripts'] as const;

/** Whether git ignores a path (it need not exist). */
function gitIgnores(path: string): boolean {
  try {
    execFileSync('git', ['check-ignore', '--no-index', '-q', path], { cwd: ROOT, stdio: 'ignore' });
    return true;
  } catch (error) {
    if ((error as { status?: number }).status === 1) return false;
    throw error;
  }
}

describe('Dockerfile', () => {
  const files = repoFiles();
  const ignoredByDocker = dockerignore(read('.dockerignore'));
  const context = files.filter((file) => !ignoredByDocker(file));
  const stageNamed = (name: string) => STAGES.find((stage) => stage.name === name);
  const argsOf = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
  const fromContext = (stage: Stage) => copiesOf(stage).filter((copy) => copy.from === undefined);

  it('builds in stages on one image of a supported Node.js LTS line', () => {
    expect(STAGES.length).toBeGreaterThanOrEqual(2);
    // One image for all stages: the patch is applied and the code compiled on the Node.js that runs it.
    expect(new Set(STAGES.map((stage) => stage.from)).size).toBe(1);
    const line = /^node:(\d+)-[a-z]+-slim$/.exec(RUNTIME.from);
    expect(line, `${RUNTIME.from}: an official node:<major>-<debian>-slim image`).not.toBeNull();
    const major = Number(line![1]);
    expect(major % 2, `Node.js ${major}: an even (LTS) line`).toBe(0);
    expect(semver.satisfies(`${major}.0.0`, pkg.engines.node), `engines "${pkg.engines.node}" covers Node.js ${major}`).toBe(true);
  });

  it('compiles in a build stage and installs production dependencies apart; the runtime stage runs neither', () => {
    expect(scripts.build, 'npm run build type-checks and compiles with tsconfig.build.json').toMatch(/\btsc -p tsconfig\.build\.json\b/);
    const fromStages = copiesOf(RUNTIME).filter((copy) => copy.from !== undefined);
    const sourcesOf = (copy: { sources: readonly string[] }) => copy.sources.map((source) => source.replace(/\/+$/, ''));
    const dist = fromStages.find((copy) => sourcesOf(copy).includes(`/app/${BUILD.outDir}`));
    expect(dist, `the runtime stage copies /app/${BUILD.outDir}/ from a stage`).toBeDefined();
    expect(runsOf(stageNamed(dist!.from!)!).some((run) => /\bnpm run build\b/.test(run)), `stage ${dist!.from} runs npm run build`).toBe(true);
    const modules = fromStages.find((copy) => sourcesOf(copy).includes('/app/node_modules'));
    expect(modules, 'the runtime stage copies /app/node_modules/ from a stage').toBeDefined();
    expect(runsOf(stageNamed(modules!.from!)!).some((run) => /\bnpm ci --omit=dev\b/.test(run)), `stage ${modules!.from} installs production dependencies only`).toBe(true);
    expect(fromStages, 'nothing else comes from the other stages').toHaveLength(2);
    expect(runsOf(RUNTIME), 'the runtime stage installs and builds nothing').toEqual([]);
  });

  it('puts in the runtime stage package.json and the files the code reads at run time, each at its repository path, and nothing else', () => {
    const placed = new Map<string, string>();
    for (const copy of fromContext(RUNTIME)) for (const [to, from] of placedFiles(copy, context)) placed.set(to, from);
    for (const [to, from] of placed) {
      expect(RUNTIME_CONTEXT_FILES.some((allowed) => allowed.test(from)), `the runtime stage copies ${from}`).toBe(true);
      // The code finds them from the package root (lib/package-root.ts) or the working directory, /app.
      expect(to, `${from} lands at its repository path`).toBe(from);
    }
    const readAtRunTime = files.filter(
      (file) =>
        (SOURCE_DIRS.some((dir) => file.startsWith(`${dir}/`)) && !file.endsWith('.ts')) ||
        /^schema\/[^/]+\.graphql$/.test(file) ||
        /^policies\/[^/]+\.yaml$/.test(file) ||
        /^schema\/rest\/[^/]+\.yaml$/.test(file) ||
        file === 'package.json',
    );
    expect([...placed.values()].sort()).toEqual(readAtRunTime.sort());
  });

  it('keeps secrets, tests, the benchmark, docs and git out of the build context, and holds only files a stage copies', () => {
    for (const secret of ['.env', '.env.production', 'deploy/.env', 'gateway/.env.local', 'signing.pem', 'keys/internal.pem', 'lib/dev.key']) {
      expect(ignoredByDocker(secret), `${secret} stays out of the build context`).toBe(true);
    }
    for (const path of ['.git', '.git/config', 'node_modules/graphql/index.js', 'dist/gateway/main.js', 'test/first-query.test.ts', 'bench/run.ts', 'docs/architecture.md', 'README.md', '.ci/run', '.ci/cache/bin/node', 'docker-compose.yml']) {
      expect(ignoredByDocker(path), `${path} stays out of the build context`).toBe(true);
    }
    const copied = new Set(STAGES.flatMap((stage) => fromContext(stage).flatMap((copy) => copy.sources.flatMap((source) => filesOfSource(source, files)))));
    // Docker always reads these two itself.
    for (const file of context.filter((f) => f !== 'Dockerfile' && f !== '.dockerignore')) {
      expect(copied.has(file), `${file} is in the build context, but no stage copies it`).toBe(true);
    }
    for (const stage of STAGES) {
      for (const copy of fromContext(stage)) {
        for (const source of copy.sources) {
          const taken = filesOfSource(source, files);
          expect(taken.length, `COPY ${source} finds files`).toBeGreaterThan(0);
          for (const file of taken) expect(ignoredByDocker(file), `COPY ${source}: ${file} is in the build context`).toBe(false);
        }
      }
    }
  });

  it('keeps secrets, build output and downloaded Node.js binaries out of git', () => {
    for (const path of ['.env', '.env.production', 'deploy/.env', 'signing.pem', 'lib/dev.key', 'dist/gateway/main.js', '.ci/cache/bin/node']) {
      expect(gitIgnores(path), `${path} is git-ignored`).toBe(true);
    }
    expect(gitIgnores('gateway/main.ts')).toBe(false);
  });

  it('runs the gateway compiled, in production mode, as a non-root user, with a healthcheck', () => {
    const users = argsOf(RUNTIME, 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(IMAGE_ENV.NODE_ENV).toBe('production');
    const cmd = argsOf(RUNTIME, 'CMD').at(-1);
    expect(cmd, 'a CMD').toBeDefined();
    expect(invocationOf('Dockerfile CMD', execForm(cmd!)).role).toBe('gateway');
    for (const [name, service] of gatewayServices) {
      expect(argsOf(RUNTIME, 'EXPOSE').join(' ').split(/\s+/), name).toContain(String(gatewayConfigOf(name, service).port));
    }
    const healthcheck = argsOf(RUNTIME, 'HEALTHCHECK').at(-1);
    expect(healthcheck, 'a HEALTHCHECK').toMatch(/\bCMD\s+\[/);
    const [bin, flag, code, ...rest] = execForm(healthcheck!);
    // The slim image has no curl: Node's fetch probes the gateway on its own port.
    expect([bin, flag, rest]).toEqual(['node', '-e', []]);
    expect(() => new Script(code!, { filename: 'HEALTHCHECK' })).not.toThrow();
    expect(code).toMatch(/http:\/\/127\.0\.0\.1:.*\/(healthz|readyz)/);
  });

  it("stops on SIGTERM: node is the container's process, under an init that reaps and forwards", () => {
    // Exec form, node first: no npm and no shell between the signal and the process that drains.
    for (const [name, service] of appServices) {
      expect(() => invocationOf(name, service.command), name).not.toThrow();
      expect(service.init, `${name}: an init process`).toBe(true);
    }
  });
});

describe('compose file helpers', () => {
  it('interpolates like compose: defaults, $$ escapes, and refuses variables without a default', () => {
    expect(interpolate('a ${X:-b} $$c')).toBe('a b $c');
    expect(interpolate('${X-d}', { X: '' })).toBe('');
    expect(interpolate('${X:-d}', { X: '' })).toBe('d');
    expect(() => interpolate('$X')).toThrow();
    expect(() => interpolate('${X}')).toThrow();
  });

  it('reads subgraph names from a supergraph join__Graph enum', () => {
    const sdl = /* GraphQL */ `
      directive @join__graph(name: String!, url: String!) on ENUM_VALUE
      enum join__Graph {
        CUSTOMER @join__graph(name: "customer", url: "http://localhost:4001/graphql")
        FINANCE @join__graph(name: "finance", url: "http://localhost:4002/graphql")
      }
    `;
    expect(supergraphSubgraphNames(sdl)).toEqual(['customer', 'finance']);
  });
});
