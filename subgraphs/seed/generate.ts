import { createRandom, type Random } from './prng.js';
import {
  CATEGORIES,
  COUNTRIES,
  CURRENCIES,
  EMAIL_DOMAINS,
  FIRST_NAMES,
  LAST_NAMES,
  LOAN_RISK_MODELS,
  LOAN_TERMS_MONTHS,
  PRODUCT_ADJECTIVES,
  RISK_FACTORS,
  SEGMENTS,
  type Currency,
} from './vocabulary.js';

/** Seed used when none is given: the dataset every environment shares. */
export const DEFAULT_SEED = 20_250_630;
/** Customers generated when no count is given. */
export const DEFAULT_CUSTOMERS = 1000;
/** Customer ids have six digits. */
export const MAX_CUSTOMERS = 999_999;
/** "Now" for the generated data: every date lies before it, so a seed never depends on the clock. */
export const REFERENCE_DATE = '2025-06-30T00:00:00.000Z';

export interface GenerateOptions {
  /** Number of customers; products, transactions and loans scale with it. @default DEFAULT_CUSTOMERS */
  customers?: number;
  /** PRNG seed, an unsigned 32-bit integer. @default DEFAULT_SEED */
  seed?: number;
}

// Row shapes: keys are the column names of the tables they fill.
export type CustomerSeed = {
  id: string;
  name: string;
  first_name: string;
  last_name: string;
  email: string;
  phone: string | null;
  country: string;
  /** YYYY-MM-DD */
  signup_date: string;
  status: 'ACTIVE' | 'INACTIVE' | 'CHURNED';
  churn_score: number | null;
  churn_level: RiskLevel | null;
};
export type SegmentSeed = { customer_id: string; name: string; score: number };
export type ProductSeed = { sku: string; name: string; category: string; price: number };
export type InventorySeed = { sku: string; quantity: number };
export type FxRateSeed = { currency: string; usd_per_unit: number; as_of: string };
export type TransactionSeed = { id: string; customer_id: string; amount: number; currency: string; ts: string };
export type LineItemSeed = {
  transaction_id: string;
  line_no: number;
  sku: string;
  quantity: number;
  unit_price: number;
  amount: number;
};
export type LoanApplicationSeed = {
  id: string;
  customer_id: string;
  amount_requested: number;
  term_months: number;
  risk_score: number;
  risk_level: RiskLevel;
  model_version: string;
  assessed_at: string;
};
export type RiskFactorSeed = { application_id: string; name: string; weight: number };

export type RiskLevel = 'LOW' | 'MEDIUM' | 'HIGH';

export interface Dataset {
  readonly customer: { customers: CustomerSeed[]; segments: SegmentSeed[] };
  readonly finance: {
    fxRates: FxRateSeed[];
    transactions: TransactionSeed[];
    lineItems: LineItemSeed[];
    loanApplications: LoanApplicationSeed[];
    riskFactors: RiskFactorSeed[];
  };
  readonly product: { products: ProductSeed[]; inventory: InventorySeed[] };
}

const DAY_MS = 86_400_000;
const REFERENCE_MS = Date.parse(REFERENCE_DATE);
/** Signups spread over the five years before the reference date. */
const SIGNUP_WINDOW_DAYS = 5 * 365;
/** Accounts younger than this have no churn score yet (the SDL documents it). */
const CHURN_SCORING_MIN_AGE_DAYS = 30;
const LOAN_APPLICANT_SHARE = 0.2;

/** The bands the RiskLevel enum documents. */
export function riskLevelOf(score: number): RiskLevel {
  if (score < 0.33) return 'LOW';
  if (score < 0.66) return 'MEDIUM';
  return 'HIGH';
}

export function productCountFor(customers: number): number {
  return Math.max(50, Math.round(customers / 20));
}

/** A complete, cross-domain consistent dataset; the same options always give the same rows. */
export function generateDataset(options: GenerateOptions = {}): Dataset {
  const customerCount = options.customers ?? DEFAULT_CUSTOMERS;
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(customerCount) || customerCount < 1 || customerCount > MAX_CUSTOMERS) {
    throw new RangeError(`customers must be an integer from 1 to ${MAX_CUSTOMERS}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError('seed must be an integer from 0 to 4294967295');
  }
  const product = generateProducts(createRandom(seed, 'product'), productCountFor(customerCount));
  const customer = generateCustomers(createRandom(seed, 'customer'), customerCount);
  const sales = generateTransactions(createRandom(seed, 'transactions'), customer.customers, product.products);
  const loans = generateLoans(createRandom(seed, 'loans'), customer.customers);
  const fxRates = CURRENCIES.map((c) => ({ currency: c.code, usd_per_unit: c.usdPerUnit, as_of: REFERENCE_DATE.slice(0, 10) }));
  return { customer, product, finance: { fxRates, ...sales, ...loans } };
}

function generateProducts(random: Random, count: number): Dataset['product'] {
  const products: ProductSeed[] = [];
  const inventory: InventorySeed[] = [];
  for (let n = 1; n <= count; n += 1) {
    const category = random.pick(CATEGORIES);
    const sku = `SKU-${String(n).padStart(4, '0')}`;
    const model = `${String.fromCharCode(65 + random.int(0, 25))}${random.int(1, 99)}`;
    // Log-uniform: cheap items are common, expensive ones rare, as in a real catalogue.
    const raw = category.minPrice * (category.maxPrice / category.minPrice) ** random.next();
    const price = Math.max(0.99, Math.round(raw) - 0.01);
    products.push({ sku, name: `${random.pick(PRODUCT_ADJECTIVES)} ${random.pick(category.nouns)} ${model}`, category: category.name, price });
    inventory.push({ sku, quantity: random.chance(0.1) ? 0 : random.int(1, 500) });
  }
  return { products, inventory };
}

function generateCustomers(random: Random, count: number): Dataset['customer'] {
  const customers: CustomerSeed[] = [];
  const segments: SegmentSeed[] = [];
  const countries = COUNTRIES.map((c) => [c, c.weight] as const);
  for (let n = 1; n <= count; n += 1) {
    const id = `C${String(n).padStart(6, '0')}`;
    const firstName = random.pick(FIRST_NAMES);
    const lastName = random.pick(LAST_NAMES);
    const country = random.weighted(countries);
    // At least a day old, so every timestamp after signup still lies before the reference date.
    const ageDays = random.int(1, SIGNUP_WINDOW_DAYS);
    const status = random.weighted([['ACTIVE', 80], ['INACTIVE', 12], ['CHURNED', 8]] as const);
    const churnScore = ageDays < CHURN_SCORING_MIN_AGE_DAYS ? null : churnScoreFor(random, status);
    customers.push({
      id,
      name: `${firstName} ${lastName}`,
      first_name: firstName,
      last_name: lastName,
      email: `${emailPart(firstName)}.${emailPart(lastName)}${n}@${random.pick(EMAIL_DOMAINS)}`,
      phone: random.chance(0.85) ? `+${country.callingCode} ${random.int(100, 999)} ${random.int(1_000_000, 9_999_999)}` : null,
      country: country.code,
      signup_date: isoDate(REFERENCE_MS - ageDays * DAY_MS),
      status,
      churn_score: churnScore,
      churn_level: churnScore === null ? null : riskLevelOf(churnScore),
    });
    const segmentCount = random.weighted([[0, 25], [1, 35], [2, 25], [3, 15]] as const);
    for (const name of random.sample(SEGMENTS, segmentCount)) {
      segments.push({ customer_id: id, name, score: round(random.next(), 3) });
    }
  }
  return { customers, segments };
}

function churnScoreFor(random: Random, status: CustomerSeed['status']): number {
  const r = random.next();
  if (status === 'ACTIVE') return round(r * r * 0.75, 4);
  if (status === 'INACTIVE') return round(0.25 + r * 0.6, 4);
  return round(0.6 + r * 0.4, 4);
}

interface PendingTransaction {
  customerId: string;
  tsMs: number;
  currency: string;
  items: { sku: string; quantity: number; unitPriceMinor: number }[];
}

function generateTransactions(
  random: Random,
  customers: readonly CustomerSeed[],
  products: readonly ProductSeed[],
): Pick<Dataset['finance'], 'transactions' | 'lineItems'> {
  const currencyOf = new Map(COUNTRIES.map((c) => [c.code, currencyByCode(c.currency)]));
  const pending: PendingTransaction[] = [];
  for (const customer of customers) {
    const currency = currencyOf.get(customer.country) as Currency;
    const signupMs = Date.parse(`${customer.signup_date}T00:00:00.000Z`);
    const count = random.int(0, 8);
    for (let t = 0; t < count; t += 1) {
      const tsMs = signupMs + Math.floor((random.next() * (REFERENCE_MS - signupMs)) / 1000) * 1000;
      const lineCount = random.weighted([[1, 40], [2, 30], [3, 20], [4, 10]] as const);
      const chosen = new Set<number>();
      // Squaring skews demand: low-numbered skus are the best sellers.
      while (chosen.size < lineCount) chosen.add(Math.floor(random.next() ** 2 * products.length));
      const items = [...chosen].map((index) => {
        const product = products[index] as ProductSeed;
        const discount = random.chance(0.75) ? 0 : random.pick([0.05, 0.1, 0.15, 0.2]);
        const unitPriceMinor = Math.max(
          1,
          Math.round((product.price / currency.usdPerUnit) * (1 - discount) * 10 ** currency.minorDigits),
        );
        const quantity = random.weighted([[1, 60], [2, 25], [3, 10], [4, 3], [5, 2]] as const);
        return { sku: product.sku, quantity, unitPriceMinor };
      });
      pending.push({ customerId: customer.id, tsMs, currency: currency.code, items });
    }
  }
  // Ids follow time, so T0000001 is the oldest purchase. The sort is stable: ties keep generation order.
  pending.sort((a, b) => a.tsMs - b.tsMs);
  const transactions: TransactionSeed[] = [];
  const lineItems: LineItemSeed[] = [];
  pending.forEach((p, index) => {
    const id = `T${String(index + 1).padStart(7, '0')}`;
    const scale = 10 ** currencyByCode(p.currency).minorDigits;
    let totalMinor = 0;
    p.items.forEach((item, line) => {
      // Integer minor units, so the transaction amount is exactly the sum of its lines.
      const amountMinor = item.quantity * item.unitPriceMinor;
      totalMinor += amountMinor;
      lineItems.push({
        transaction_id: id,
        line_no: line + 1,
        sku: item.sku,
        quantity: item.quantity,
        unit_price: item.unitPriceMinor / scale,
        amount: amountMinor / scale,
      });
    });
    transactions.push({ id, customer_id: p.customerId, amount: totalMinor / scale, currency: p.currency, ts: new Date(p.tsMs).toISOString() });
  });
  return { transactions, lineItems };
}

function generateLoans(
  random: Random,
  customers: readonly CustomerSeed[],
): Pick<Dataset['finance'], 'loanApplications' | 'riskFactors'> {
  const pending: (Omit<LoanApplicationSeed, 'id'> & { assessedMs: number; factors: { name: string; weight: number }[] })[] = [];
  for (const customer of customers) {
    if (!random.chance(LOAN_APPLICANT_SHARE)) continue;
    const signupMs = Date.parse(`${customer.signup_date}T00:00:00.000Z`);
    const count = random.chance(0.7) ? 1 : 2;
    for (let a = 0; a < count; a += 1) {
      const assessedMs = signupMs + Math.floor((random.next() * (REFERENCE_MS - signupMs)) / 1000) * 1000;
      // Customers likely to churn are somewhat likelier to default.
      const riskScore = round(0.6 * random.next() + 0.4 * (customer.churn_score ?? random.next()), 4);
      pending.push({
        customer_id: customer.id,
        amount_requested: random.int(2, 100) * 500,
        term_months: random.pick(LOAN_TERMS_MONTHS),
        risk_score: riskScore,
        risk_level: riskLevelOf(riskScore),
        model_version: modelVersionAt(assessedMs),
        assessed_at: new Date(assessedMs).toISOString(),
        assessedMs,
        factors: factorWeights(random),
      });
    }
  }
  pending.sort((a, b) => a.assessedMs - b.assessedMs);
  const loanApplications: LoanApplicationSeed[] = [];
  const riskFactors: RiskFactorSeed[] = [];
  pending.forEach(({ assessedMs: _, factors, ...application }, index) => {
    const id = `LA${String(index + 1).padStart(6, '0')}`;
    loanApplications.push({ id, ...application });
    for (const factor of factors) riskFactors.push({ application_id: id, ...factor });
  });
  return { loanApplications, riskFactors };
}

/** 3 to 5 distinct factors whose four-decimal weights sum to exactly 1. */
function factorWeights(random: Random): { name: string; weight: number }[] {
  const names = random.sample(RISK_FACTORS, random.int(3, 5));
  const raw = names.map(() => 0.1 + random.next());
  const total = raw.reduce((sum, r) => sum + r, 0);
  // Ten-thousandths as integers: the last factor takes the rounding remainder.
  const units = raw.map((r) => Math.max(1, Math.floor((r / total) * 10_000)));
  units[units.length - 1] = 10_000 - units.slice(0, -1).reduce((sum, u) => sum + u, 0);
  return names.map((name, i) => ({ name, weight: (units[i] as number) / 10_000 }));
}

function modelVersionAt(ms: number): string {
  let version: string = LOAN_RISK_MODELS[0].version;
  for (const model of LOAN_RISK_MODELS) if (Date.parse(model.releasedAt) <= ms) version = model.version;
  return version;
}

function currencyByCode(code: string): Currency {
  const currency = CURRENCIES.find((c) => c.code === code);
  if (!currency) throw new Error(`no reference rate for currency ${code}`);
  return currency;
}

/** Letters NFD does not decompose into a base letter and a mark. */
const TRANSLITERATIONS: Readonly<Record<string, string>> = { ø: 'o', æ: 'ae', œ: 'oe', ß: 'ss' };

/** ASCII letters only: "José" -> "jose", "Søren" -> "soren", "O'Brien" -> "obrien". */
function emailPart(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[øæœß]/g, (letter) => TRANSLITERATIONS[letter] ?? '')
    .replace(/[^a-z]/g, '');
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
