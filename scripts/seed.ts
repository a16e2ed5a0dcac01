import { parseArgs } from 'node:util';
import { createPostgresDb } from '../subgraphs/kit/db.js';
import { migrateDatabase } from '../subgraphs/migrate.js';
import { DEFAULT_CUSTOMERS, DEFAULT_SEED, MAX_CUSTOMERS, seedDatabase } from '../subgraphs/seed/seed.js';

const USAGE = `Usage: DATABASE_URL=postgres://... npm run seed -- [--customers N] [--seed N] [--reset]
       DATABASE_URL=postgres://... node dist/scripts/seed.js [same flags]   (compiled, as in the image)

Fills the customer, finance and product data products in DATABASE_URL with a generated dataset
(a development and demo tool), as a superuser. Their pending migrations are applied first (as
npm run migrate does: as each product's role where init-roles ran). A database whose tables
already hold rows is refused (exit 1, nothing changed) unless --reset is given. Everything runs
in one transaction: on any failure the database is left as it was.

  --customers N  customers to generate, 1 to ${MAX_CUSTOMERS} (default ${DEFAULT_CUSTOMERS});
                 products, transactions and loans scale with it
  --seed N       PRNG seed, 0 to 4294967295 (default ${DEFAULT_SEED}); same seed, same data
  --reset        replace the data already there (all of it, in every product's tables)
  --help         this text
`;

/** Exit code for a bad invocation (flags or environment), as opposed to a failed run (1). */
const EXIT_USAGE = 2;

/** Exit code when the database already holds data and --reset was not given: a failed run, nothing changed. */
const EXIT_REFUSED = 1;

class UsageError extends Error {}

interface SeedCommand {
  databaseUrl: string;
  customers: number;
  seed: number;
  reset: boolean;
}

function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): SeedCommand | 'help' {
  let values: { customers?: string; seed?: string; reset?: boolean; help?: boolean };
  try {
    values = parseArgs({
      args: [...argv],
      options: { customers: { type: 'string' }, seed: { type: 'string' }, reset: { type: 'boolean' }, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const customers = integerFlag('--customers', values.customers, DEFAULT_CUSTOMERS, 1, MAX_CUSTOMERS);
  const seed = integerFlag('--seed', values.seed, DEFAULT_SEED, 0, 0xffffffff);
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) throw new UsageError('DATABASE_URL is not set: give the PostgreSQL database to seed, e.g. postgres://postgres@127.0.0.1:5432/dev');
  if (!/^postgres(?:ql)?:\/\//.test(databaseUrl)) throw new UsageError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  return { databaseUrl, customers, seed, reset: values.reset === true };
}

function integerFlag(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

async function main(): Promise<number> {
  let command: SeedCommand | 'help';
  try {
    command = parseCommand(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`seed: ${error.message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  // Bulk inserts of many rows can outlast the default per-statement timeout on a slow server.
  // Pending migrations first (each under its product's lock): the seed writes into the latest schema.
  await migrateDatabase({ fallbackUrl: command.databaseUrl });
  const db = createPostgresDb({ url: command.databaseUrl, maxConnections: 1, statementTimeoutMs: 60_000 });
  try {
    const started = performance.now();
    const outcome = await seedDatabase(db, { customers: command.customers, seed: command.seed, reset: command.reset });
    if (outcome.kind === 'refused') {
      const found = Object.entries(outcome.existing).map(([table, count]) => `${table} ${count}`).join(', ');
      process.stderr.write(`seed: refused: the database already holds data (${found}); nothing was changed. Pass --reset to replace all of it.\n`);
      return EXIT_REFUSED;
    }
    const { counts } = outcome;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const width = Math.max(...Object.keys(counts).map((table) => table.length));
    process.stdout.write(`seed: ${command.customers} customers, seed ${command.seed}, ${seconds} s\n`);
    for (const [table, count] of Object.entries(counts)) process.stdout.write(`  ${table.padEnd(width)}  ${count}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // The URL may carry a password: report the error's message only, never the configuration.
    // The transaction was rolled back: say so, since the operator's next question is "what is left?".
    process.stderr.write(`seed: failed, nothing was changed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
