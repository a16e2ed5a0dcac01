import type { Db, TransactionalDb } from '../kit/db.js';
import { recordTransaction, type NewTransaction } from '../finance/record.js';
import { changeSegments } from '../customer/segments-change.js';
import type { Logger } from '../../lib/logger.js';
import { createRandom, type Random } from './prng.js';
import { COUNTRIES, CURRENCIES, SEGMENTS } from './vocabulary.js';

/** What the simulator draws from: the customers and products already in the database. */
export interface SimulationWorld {
  readonly customers: readonly { readonly id: string; readonly currency: string }[];
  readonly products: readonly { readonly sku: string; readonly price: number }[];
}

/** Reads the customers (with their country's currency) and products the simulated purchases use. */
export async function loadSimulationWorld(db: Db): Promise<SimulationWorld> {
  const currencyOfCountry = new Map(COUNTRIES.map((c) => [c.code, c.currency]));
  const customers = (await db.query<{ id: string; country: string }>('SELECT id, country FROM customer.customers ORDER BY id')).map((c) => ({
    id: c.id,
    currency: currencyOfCountry.get(c.country) ?? 'USD',
  }));
  const products = (await db.query<{ sku: string; price: string | number }>('SELECT sku, price FROM product.products ORDER BY sku')).map((p) => ({ sku: p.sku, price: Number(p.price) }));
  if (customers.length === 0 || products.length === 0) throw new Error('the database has no customers or no products: seed it first (npm run seed)');
  return { customers, products };
}

/**
 * A purchase as the seed generates them (same vocabulary, same skew): one to four distinct line
 * items, best sellers first, quantities mostly one, a discount now and then, priced in the
 * customer's currency.
 */
export function simulatedTransaction(random: Random, world: SimulationWorld, at: Date): NewTransaction {
  const customer = random.pick(world.customers);
  const currency = CURRENCIES.find((c) => c.code === customer.currency) ?? CURRENCIES[0]!;
  const lineCount = Math.min(world.products.length, random.weighted([[1, 40], [2, 30], [3, 20], [4, 10]] as const));
  const chosen = new Set<number>();
  while (chosen.size < lineCount) chosen.add(Math.floor(random.next() ** 2 * world.products.length));
  const scale = 10 ** currency.minorDigits;
  const lineItems = [...chosen].map((index) => {
    const product = world.products[index]!;
    const discount = random.chance(0.75) ? 0 : random.pick([0.05, 0.1, 0.15, 0.2]);
    const unitPrice = Math.max(1, Math.round((product.price / currency.usdPerUnit) * (1 - discount) * scale)) / scale;
    return { sku: product.sku, quantity: random.weighted([[1, 60], [2, 25], [3, 10], [4, 3], [5, 2]] as const), unitPrice };
  });
  return { customerId: customer.id, currency: currency.code, lineItems, timestamp: at };
}

/** A new segment membership for a customer: one to three segments with scores. */
export function simulatedSegments(random: Random): { name: string; score: number }[] {
  return random.sample(SEGMENTS, random.int(1, 3)).map((name) => ({ name, score: Math.round(random.next() * 1000) / 1000 }));
}

/** Purchases per second the simulator may be asked for. */
export const MAX_RATE_PER_S = 1_000;

/** `20/s`, `600/m`, or a bare number (per second); undefined when it is none of these or out of range. */
export function parseRate(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(?:\/(s|m))?$/.exec(text);
  if (!match) return undefined;
  const perSecond = Number(match[1]) / (match[2] === 'm' ? 60 : 1);
  return perSecond > 0 && perSecond <= MAX_RATE_PER_S ? perSecond : undefined;
}

export interface SimulationOptions {
  readonly db: TransactionalDb;
  readonly perSecond: number;
  /** Stop after this long; undefined: until `signal` aborts. */
  readonly durationMs: number | undefined;
  readonly seed: number;
  /** Probability, per purchase, of a segment change of its customer too. */
  readonly segmentChanges: number;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

/**
 * Records simulated purchases at a steady rate through the products' write path (each with its
 * event in the outbox), now and then a segment change; resolves with the counts when done.
 */
export async function runSimulation(options: SimulationOptions): Promise<{ recorded: number; segmentChanges: number }> {
  const { db, logger, signal } = options;
  const random = createRandom(options.seed, 'simulate');
  const world = await loadSimulationWorld(db);
  const started = Date.now();
  const intervalMs = 1_000 / options.perSecond;
  let recorded = 0;
  let segmentChanges = 0;
  logger.info({ perSecond: options.perSecond, durationMs: options.durationMs, seed: options.seed, customers: world.customers.length, products: world.products.length }, 'simulating');
  while (!signal?.aborted && (options.durationMs === undefined || Date.now() - started < options.durationMs)) {
    // Paced against the start, so a slow write is caught up rather than lowering the rate.
    const wait = started + recorded * intervalMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (signal?.aborted) break;
    const transaction = simulatedTransaction(random, world, new Date());
    await recordTransaction(db, transaction);
    recorded += 1;
    if (random.chance(options.segmentChanges)) {
      const { changed } = await changeSegments(db, transaction.customerId, simulatedSegments(random));
      if (changed) segmentChanges += 1;
    }
    if (recorded % 100 === 0) logger.info({ recorded, segmentChanges }, 'progress');
  }
  logger.info({ recorded, segmentChanges, seconds: Math.round((Date.now() - started) / 1000) }, 'simulation done');
  return { recorded, segmentChanges };
}
