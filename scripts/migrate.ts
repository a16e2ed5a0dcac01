import { parseArgs } from 'node:util';
import { readEnvironment } from '../lib/env-config.js';
import { createLogger, type LOG_LEVELS } from '../lib/logger.js';
import { PRODUCT_NAMES, type ProductName } from '../subgraphs/kit/data-product.js';
import { withSession } from '../subgraphs/kit/migrate-postgres.js';
import { initProductRoles } from '../subgraphs/kit/roles.js';
import { MIGRATE_ENV, MIGRATE_SECRET_KEYS, migrateDatabase, productRoleOf } from '../subgraphs/migrate.js';
import { dataProducts } from '../subgraphs/products.js';

const USAGE = `Usage: npm run migrate -- [--product <name>]... [--init-roles]
       node dist/scripts/migrate.js [same flags]   (compiled, as in the image)

Applies each data product's pending migrations (subgraphs/<product>/migrations/*.sql) to
PostgreSQL, in order, each once, recorded in <product>.pgmigrations. A product being migrated by
someone else (another replica starting) is waited for; then nothing is left to do.

  --product <name>  ${PRODUCT_NAMES.join(', ')}; may repeat (default: every one)
  --init-roles      first, as the superuser of DATABASE_URL: create (or update) each product's
                    login role and hand it its schema and everything in it. The role's name and
                    password are those of the product's own URL (e.g. CUSTOMER_DATABASE_URL);
                    without one, dpg_<product> without a password. Safe to repeat.
  --help            this text

Each product migrates over <PRODUCT>_DATABASE_URL (CUSTOMER_, FINANCE_, PRODUCT_), else over
DATABASE_URL; as the superuser, migrations still run as the product's role (SET ROLE) when its
schema belongs to it, so what they create is the product's.

Exit codes: 0 done, 1 failed (that product's pending migrations rolled back), 2 bad invocation.
`;

class UsageError extends Error {}

interface MigrateCommand {
  products: readonly ProductName[];
  initRoles: boolean;
  adminUrl: string | undefined;
  urls: Partial<Record<ProductName, string>>;
  logLevel: (typeof LOG_LEVELS)[number];
}

function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): MigrateCommand | 'help' {
  let values: { product?: string[]; 'init-roles'?: boolean; help?: boolean };
  try {
    values = parseArgs({
      args: [...argv],
      options: { product: { type: 'string', multiple: true }, 'init-roles': { type: 'boolean' }, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const products = values.product ?? [...PRODUCT_NAMES];
  const bad = products.filter((p) => !(PRODUCT_NAMES as readonly string[]).includes(p));
  if (bad.length) throw new UsageError(`--product: unknown data product ${bad.join(', ')} (known: ${PRODUCT_NAMES.join(', ')})`);
  // URLs may hold passwords: never echoed.
  const reading = readEnvironment(MIGRATE_ENV, env, { secrets: MIGRATE_SECRET_KEYS });
  if (!reading.ok) throw new UsageError(`invalid configuration:\n  ${reading.problems.join('\n  ')}`);
  const e = reading.values;
  const urls: Partial<Record<ProductName, string>> = {};
  if (e.CUSTOMER_DATABASE_URL) urls.customer = e.CUSTOMER_DATABASE_URL;
  if (e.FINANCE_DATABASE_URL) urls.finance = e.FINANCE_DATABASE_URL;
  if (e.PRODUCT_DATABASE_URL) urls.product = e.PRODUCT_DATABASE_URL;
  const initRoles = values['init-roles'] === true;
  if (initRoles && !e.DATABASE_URL) throw new UsageError('--init-roles: DATABASE_URL must name the database as a superuser (it creates roles)');
  const missing = (products as ProductName[]).filter((p) => !urls[p] && !e.DATABASE_URL);
  if (missing.length) throw new UsageError(`no database for ${missing.join(', ')}: set DATABASE_URL or ${missing.map((p) => `${p.toUpperCase()}_DATABASE_URL`).join(', ')}`);
  return { products: products as ProductName[], initRoles, adminUrl: e.DATABASE_URL, urls, logLevel: e.LOG_LEVEL };
}

async function main(): Promise<number> {
  let command: MigrateCommand | 'help';
  try {
    command = parseCommand(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`migrate: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const { products, urls } = command;
  const logger = createLogger('migrate', command.logLevel);
  if (command.initRoles) {
    const roles = dataProducts
      .filter((p) => products.includes(p.name))
      .map((product) => {
        const own = urls[product.name];
        const password = own ? decodeURIComponent(new URL(own).password) : '';
        return { product, role: productRoleOf(product.name, { urls }), password: password || undefined };
      });
    await withSession(command.adminUrl!, (session) => initProductRoles(session, roles));
    for (const { product, role, password } of roles) {
      process.stdout.write(`migrate: ${product.name}: role ${role} owns schema ${product.schemaName}${password ? '' : ' (no password set: give it one in its URL)'}\n`);
    }
  }
  const outcomes = await migrateDatabase({ products, urls, fallbackUrl: command.adminUrl, logger });
  for (const outcome of outcomes) {
    process.stdout.write(
      outcome.applied.length === 0
        ? `migrate: ${outcome.product}: up to date\n`
        : `migrate: ${outcome.product}: applied ${outcome.applied.length}: ${outcome.applied.join(', ')}\n`,
    );
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // The URL may carry a password: the error's message only, never the configuration.
    process.stderr.write(`migrate: failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
