/**
 * What inbound deduplication and the response cache save, counted rather than timed: the same
 * burst of identical concurrent requests against one gateway configured three ways (dedup off,
 * dedup on, dedup and cache on), counting the calls that reach the customer and finance products
 * through counting proxies. Everything runs in this one process (products, proxies, gateway, load),
 * so requests per second are indicative only; the calls per request are exact.
 *
 *   node --import tsx bench/sharing.ts [--rounds 20] [--concurrency 20]
 */
import { parseArgs } from 'node:util';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';
import { loadConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { startCountingProxy } from '../test/helpers/counting-proxy.js';
import { writeLimits } from '../test/helpers/limits.js';
import { gatewayEnv, startProducts } from '../test/helpers/stack.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' }, concurrency: { type: 'string', default: '20' } } });
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const JOIN = 'query Join { customers(first: 20) { id name transactions(first: 5) { id amount product { name price } } } }';
const LIST = 'query List { customers(first: 100) { id country status segments { name score } } }';

const silent = createLogger('bench', 'silent');
const products = await startProducts(2000);
const customer = await startCountingProxy(products.products.subgraphs.customer!.url);
const finance = await startCountingProxy(products.products.subgraphs.finance!.url);
const urls = { ...Object.fromEntries(Object.entries(products.products.subgraphs).map(([n, s]) => [n, s.url])), customer: customer.url, finance: finance.url };
const token = await mintDevToken({ roles: ['sales-manager'], subject: 'bench', clientId: 'bench' });
const limits = writeLimits({ default: { requests: 1_000_000, cost: 1_000_000_000 } });

const modes: [string, Record<string, string>][] = [
  ['dedup off', { INBOUND_DEDUP: 'off' }],
  ['dedup on', { INBOUND_DEDUP: 'on' }],
  ['dedup on, cache on', { INBOUND_DEDUP: 'on', RESPONSE_CACHE: 'on', RESPONSE_CACHE_PRODUCTS: 'customer,finance,product' }],
];
const rows: Record<string, string | number>[] = [];
try {
  for (const [query, name] of [[LIST, 'list (customer)'], [JOIN, 'join (3 products)']] as const) {
    for (const [mode, env] of modes) {
      const gateway = await startGateway(loadConfig(gatewayEnv(urls, { RATE_LIMITS_FILE: limits, ...env })), silent);
      await gateway.refreshCatalog();
      const send = async () => {
        const response = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
        const body = (await response.json()) as { errors?: unknown[] };
        if (response.status !== 200 || body.errors) throw new Error(`request failed: ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
      };
      await send(); // warm: plans, descriptors
      const before = { customer: customer.queries().length, finance: finance.queries().length };
      const started = performance.now();
      for (let round = 0; round < rounds; round++) await Promise.all(Array.from({ length: concurrency }, send));
      const seconds = (performance.now() - started) / 1000;
      const requests = rounds * concurrency;
      rows.push({
        operation: name,
        mode,
        requests,
        'customer calls/request': (customer.queries().length - before.customer) / requests,
        'finance calls/request': (finance.queries().length - before.finance) / requests,
        'requests/s (indicative)': Math.round(requests / seconds),
      });
      await gateway.stop();
    }
  }
  console.table(rows);
} finally {
  await customer.stop();
  await finance.stop();
  await products.cleanup();
}
