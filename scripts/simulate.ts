import { parseArgs } from 'node:util';
import { createLogger } from '../lib/logger.js';
import { createPostgresDb } from '../subgraphs/kit/db.js';
import { recordTransaction } from '../subgraphs/finance/record.js';
import { changeSegments } from '../subgraphs/customer/segments-change.js';
import { createRandom } from '../subgraphs/seed/prng.js';
import { loadSimulationWorld, simulatedSegments, simulatedTransaction } from '../subgraphs/seed/simulate.js';

const USAGE = `Usage: DATABASE_URL=postgres://... npm run simulate -- [--rate 20/s] [--duration 60s] [--seed N] [--segment-changes 0.05]
       DATABASE_URL=postgres://... node dist/scripts/simulate.js [same flags]

Records realistic purchases in the finance data product (and now and then changes a customer's
segments in the customer data product) through the products' own write path: each change and its
event are written in one database transaction (the outbox); the running products' relays publish
them to the event bus (NATS_URL). Customers and products come from the seeded database.

  --rate N/s             purchases per second, 1 to 1000 (default 20/s; also N/m)
  --duration D           how long: Ns, Nm or Nh, at most 24h (default: until SIGINT or SIGTERM)
  --seed N               PRNG seed (default: the time); same seed, same purchases
  --segment-changes P    probability, per purchase, of a segment change too, 0 to 1 (default 0.05)
  --help                 this text
`;

const EXIT_USAGE = 2;
const MAX_RATE_PER_S = 1_000;
const MAX_DURATION_MS = 24 * 3_600_000;

class UsageError extends Error {}

interface SimulateCommand {
  databaseUrl: string;
  perSecond: number;
  durationMs: number | undefined;
  seed: number;
  segmentChanges: number;
}

/** `20/s`, `600/m`, or a bare number (per second). */
export function parseRate(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(?:\/(s|m))?$/.exec(text);
  if (!match) throw new UsageError(`--rate: expected N/s or N/m, got ${text}`);
  const perSecond = Number(match[1]) / (match[2] === 'm' ? 60 : 1);
  if (!(perSecond > 0) || perSecond > MAX_RATE_PER_S) throw new UsageError(`--rate: from more than 0 to ${MAX_RATE_PER_S}/s`);
  return perSecond;
}

/** `60s`, `5m`, `1h`. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(text);
  if (!match) throw new UsageError(`--duration: expected Ns, Nm or Nh, got ${text}`);
  const ms = Number(match[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
  if (ms <= 0 || ms > MAX_DURATION_MS) throw new UsageError('--duration: more than 0, at most 24h');
  return ms;
}

function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): SimulateCommand | 'help' {
  let values: { rate?: string; duration?: string; seed?: string; 'segment-changes'?: string; help?: boolean };
  try {
    values = parseArgs({
      args: [...argv],
      options: { rate: { type: 'string' }, duration: { type: 'string' }, seed: { type: 'string' }, 'segment-changes': { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) throw new UsageError('DATABASE_URL is required (the products\' database; the embedded default lives inside npm start)');
  const seed = values.seed === undefined ? Date.now() >>> 0 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new UsageError('--seed: an integer from 0 to 4294967295');
  const segmentChanges = values['segment-changes'] === undefined ? 0.05 : Number(values['segment-changes']);
  if (!(segmentChanges >= 0 && segmentChanges <= 1)) throw new UsageError('--segment-changes: a probability from 0 to 1');
  return {
    databaseUrl,
    perSecond: parseRate(values.rate ?? '20/s'),
    durationMs: values.duration === undefined ? undefined : parseDuration(values.duration),
    seed,
    segmentChanges,
  };
}

async function main(): Promise<void> {
  let command: SimulateCommand | 'help';
  try {
    command = parseCommand(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${USAGE}`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  if (command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const logger = createLogger('simulate', 'info');
  const db = createPostgresDb({ url: command.databaseUrl, maxConnections: 4 });
  const random = createRandom(command.seed, 'simulate');
  let stopped = false;
  const stop = () => (stopped = true);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const world = await loadSimulationWorld(db);
    const started = Date.now();
    const intervalMs = 1_000 / command.perSecond;
    let recorded = 0;
    let segmentChanges = 0;
    logger.info({ perSecond: command.perSecond, durationMs: command.durationMs, seed: command.seed, customers: world.customers.length, products: world.products.length }, 'simulating');
    while (!stopped && (command.durationMs === undefined || Date.now() - started < command.durationMs)) {
      // Paced against the start, so a slow write is caught up rather than lowering the rate.
      const due = started + recorded * intervalMs;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const transaction = simulatedTransaction(random, world, new Date());
      await recordTransaction(db, transaction);
      recorded += 1;
      if (random.chance(command.segmentChanges)) {
        const { changed } = await changeSegments(db, transaction.customerId, simulatedSegments(random));
        if (changed) segmentChanges += 1;
      }
      if (recorded % 100 === 0) logger.info({ recorded, segmentChanges }, 'progress');
    }
    logger.info({ recorded, segmentChanges, seconds: Math.round((Date.now() - started) / 1000) }, 'done');
  } finally {
    await db.close();
  }
}

await main();
