import type { Db } from '../kit/db.js';
import type { NewTransaction } from '../finance/record.js';
import type { Random } from './prng.js';
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
