import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase } from './helpers/database.js';
import { postGraphQL } from './helpers/http.js';
import { buildLayout, copiesOf, parseDockerfile, placedFiles, readRepoFile, repoFiles } from './helpers/image.js';
import { ROOT, spawnNode, type Spawned } from './helpers/process.js';

/*
 * The production image without Docker. Compile as `npm run build` does (tsc -p tsconfig.build.json)
 * into a scratch folder, lay out beside it exactly the files the Dockerfile's runtime stage copies
 * from the build context, link the installed packages as its node_modules, and run the compiled
 * seed, data products, token CLI and gateway there with plain node (no TypeScript loader), that
 * folder as the working directory like the image's WORKDIR. A file the code reads that the image
 * lacks, or a compiled entry point that does not start, fails here.
 */

const run = promisify(execFile);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const FIRST_QUERY = '{ customers(first: 3) { id name transactions(first: 2) { amount product { name } } } }';
const CUSTOMERS = 30;

let app: string;
let dropDatabase: (() => Promise<void>) | undefined;
const processes: Spawned[] = [];
let subgraphUrls: string;

/** Runs a compiled entry point in the laid-out image, with only the environment given (and PATH). */
function start(entry: string, args: string[], env: Record<string, string>): Spawned {
  const spawned = spawnNode([entry, ...args], { APOLLO_TELEMETRY_DISABLED: 'true', ...env }, app);
  processes.push(spawned);
  return spawned;
}

/** A one-shot compiled CLI: its exit code and output. */
async function cli(entry: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [entry, ...args], { cwd: app, env: { PATH: process.env.PATH, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

beforeAll(async () => {
  app = mkdtempSync(join(tmpdir(), 'dpg-image-'));
  const layout = buildLayout();
  const runtime = parseDockerfile(readRepoFile('Dockerfile')).at(-1)!;
  const files = repoFiles();
  for (const copy of copiesOf(runtime)) {
    if (copy.from === undefined) {
      for (const [to, from] of placedFiles(copy, files)) {
        mkdirSync(dirname(join(app, to)), { recursive: true });
        cpSync(resolve(ROOT, from), join(app, to));
      }
    } else if (copy.sources.every((source) => source.replace(/\/+$/, '') === '/app/node_modules')) {
      // The production install of the deps stage; here the installed tree (dev packages unused: no loader).
      symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir');
    } else if (!copy.sources.every((source) => source.replace(/\/+$/, '') === `/app/${layout.outDir}`)) {
      throw new Error(`the runtime stage copies ${copy.sources.join(' ')} from ${copy.from}: teach this test what that is`);
    }
  }
  // The build stage's `npm run build`, written where the runtime stage puts it.
  await run(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', join(app, layout.outDir)], { cwd: ROOT });

  const productsEnv: Record<string, string> = { LOG_LEVEL: 'info', NODE_ENV: 'development', CUSTOMER_PORT: '0', FINANCE_PORT: '0', PRODUCT_PORT: '0' };
  if (process.env.DATABASE_URL) {
    // As compose's demo profile does: the seed CLI fills an empty PostgreSQL once, then the products serve it.
    const scratch = await createScratchDatabase(process.env.DATABASE_URL);
    dropDatabase = () => scratch.drop();
    // The one-shot migrate step first, compiled, reading the image's migration files.
    const migrated = await cli('dist/scripts/migrate.js', [], { DATABASE_URL: scratch.url });
    if (migrated.code !== 0 || !migrated.stdout.includes('migrate: customer: applied 3: 20260101000000000_initial, 20261201000000000_preferred-language, 20261202000000000_event-outbox')) {
      throw new Error(`migrate exited ${migrated.code}: ${migrated.stdout} ${migrated.stderr}`);
    }
    const seeded = await cli('dist/scripts/seed.js', ['--customers', String(CUSTOMERS)], { DATABASE_URL: scratch.url });
    if (seeded.code !== 0) throw new Error(`seed exited ${seeded.code}: ${seeded.stderr}`);
    productsEnv.DATABASE_URL = scratch.url;
  } else {
    productsEnv.SEED_CUSTOMERS = String(CUSTOMERS);
  }
  const products = start('dist/subgraphs/main.js', [], productsEnv);
  const listening = await Promise.all(
    ['customer', 'finance', 'product'].map((product) => products.waitForLine((l) => l.msg === 'subgraph listening' && l.product === product)),
  );
  subgraphUrls = listening.map((line) => `${String(line.product)}=${String(line.url)}`).join(',');
});

afterAll(async () => {
  for (const spawned of processes) spawned.kill();
  await dropDatabase?.();
  if (app) rmSync(app, { recursive: true, force: true });
});

describe('the compiled build, laid out as the runtime image', () => {
  it('prints usage and exits 0 on --help, from the gateway and the data products', async () => {
    for (const entry of ['dist/gateway/main.js', 'dist/subgraphs/main.js']) {
      const result = await cli(entry, ['--help']);
      expect(result.code, entry).toBe(0);
      expect(result.stdout, entry).toMatch(new RegExp(`^Usage: node ${entry.replace(/\./g, '\\.')} `));
    }
  });

  it("answers the README's first query through the compiled gateway, serves the pages' files, and drains on SIGTERM", async () => {
    const gateway = start('dist/gateway/main.js', ['--port', '0'], { NODE_ENV: 'development', LOG_LEVEL: 'info', SUBGRAPH_URLS: subgraphUrls });
    const url = String((await gateway.waitForLine((l) => l.msg === 'gateway ready')).url);

    const token = await cli('dist/scripts/token.js', ['--role', 'sales-manager']);
    expect(token.code).toBe(0);
    const result = await postGraphQL<{ customers: { id: string; name: string; transactions: { amount: number; product: { name: string } }[] }[] }>(url, FIRST_QUERY, {
      token: token.stdout.trim(),
    });
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    const customers = result.body.data!.customers;
    expect(customers).toHaveLength(3);
    expect(customers.flatMap((c) => c.transactions).length).toBeGreaterThan(0);
    for (const customer of customers) {
      expect(customer).toEqual({ id: expect.stringMatching(/^C\d{6}$/), name: expect.any(String), transactions: expect.any(Array) });
      for (const t of customer.transactions) expect(t).toEqual({ amount: expect.any(Number), product: { name: expect.any(String) } });
    }

    // Files found from the package root: the sandbox's own script and the usage page's, byte for byte.
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const sandboxScript = /src="([^"]*\/sandbox\.js\?v=[^"]+)"/.exec(await page.text())?.[1];
    expect(sandboxScript, 'the sandbox page links its script').toBeDefined();
    const served = await fetch(new URL(sandboxScript!, url));
    expect(served.status).toBe(200);
    expect(await served.text()).toBe(readFileSync(resolve(ROOT, 'gateway/sandbox/sandbox.js'), 'utf8'));
    const usageScript = await fetch(new URL('/usage/app.js', url));
    expect(usageScript.status).toBe(200);
    expect(await usageScript.text()).toBe(readFileSync(resolve(ROOT, 'gateway/usage-page/app.js'), 'utf8'));
    // The pages' sign-in: its own module, and oauth4webapi from the production node_modules.
    const session = await fetch(new URL('/sign-in/session.js', url));
    expect(session.status).toBe(200);
    expect(await session.text()).toBe(readFileSync(resolve(ROOT, 'gateway/sign-in/session.js'), 'utf8'));
    expect((await fetch(new URL('/sign-in/oauth4webapi.js', url))).status).toBe(200);

    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  });
});
