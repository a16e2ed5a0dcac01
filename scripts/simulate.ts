import { parseArgs } from 'node:util';
import { createLogger } from '../lib/logger.js';
import { createPostgresDb } from '../subgraphs/kit/db.js';
import { MAX_RATE_PER_S, parseRate, runSimulation } from '../subgraphs/seed/simulate.js';

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
const MAX_DURATION_MS = 24 * 3_600_000;

class UsageError extends Error {}

interface SimulateCommand {
  databaseUrl: string;
  perSecond: number;
  durationMs: number | undefined;
  seed: number;
  segmentChanges: number;
}

function rateOf(text: string): number {
  const perSecond = parseRate(text);
  if (perSecond === undefined) throw new UsageError(`--rate: expected N/s or N/m, more than 0 and at most ${MAX_RATE_PER_S}/s, got ${text}`);
  return perSecond;
}

/** `60s`, `5m`, `1h`. */
function parseDuration(text: string): number {
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
    perSecond: rateOf(values.rate ?? '20/s'),
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
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  try {
    await runSimulation({ db, perSecond: command.perSecond, durationMs: command.durationMs, seed: command.seed, segmentChanges: command.segmentChanges, logger, signal: stop.signal });
  } finally {
    await db.close();
  }
}

await main();
