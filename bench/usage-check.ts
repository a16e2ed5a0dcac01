import { Redis } from 'ioredis';
import { parseCellField } from '../gateway/usage/model.js';
import { usageKeys } from '../gateway/usage/redis-store.js';

/**
 * Whether the two gateways compared for the usage recording cost really differ in that: ours
 * (USAGE_RECORDING=true) counted every operation it answered, ours-no-usage (USAGE_RECORDING=false)
 * none. Read from Redis once every gateway has exited (each flushes what it recorded on SIGTERM), so
 * a usage cost column that compares two identical gateways cannot go unnoticed.
 */
export interface UsageCheck {
  /** Root fields of the bench operations counted in Redis under the run's key prefix; null when Redis could not be read. */
  recorded: number | null;
  /** Operations ours answered the bench (loads including warm-ups, checks, first answers of every start): each must be counted. */
  oursAnswered: number;
  /**
   * How many more may be counted: requests still in flight at the gateway when a load stopped
   * (connections per load run) and readiness polls answered with errors (a few per start).
   */
  slack: number;
  /** Operations ours-no-usage answered the bench: none of them may be counted. */
  noUsageAnswered: number;
  ok: boolean;
  problem?: string;
}

export function judgeUsage(counts: Omit<UsageCheck, 'ok' | 'problem' | 'recorded'> & { recorded: number }): UsageCheck {
  const { recorded, oursAnswered, slack, noUsageAnswered } = counts;
  if (recorded < oursAnswered) {
    return { ...counts, ok: false, problem: `ours answered ${oursAnswered} operations but Redis counts ${recorded}: ours did not record usage (or lost counts), the usage cost is not measured` };
  }
  if (recorded > oursAnswered + slack) {
    return {
      ...counts,
      ok: false,
      problem:
        `Redis counts ${recorded} operations, more than the ${oursAnswered} (+${slack}) ours answered ` +
        `(ours-no-usage answered ${noUsageAnswered}): ours-no-usage records usage too, the usage cost is not measured`,
    };
  }
  return { ...counts, ok: true };
}

/**
 * Sum of the usage counts, over every hour, client, version and outcome, of the given schema
 * coordinates under `keyPrefix` (the gateway's REDIS_KEY_PREFIX): one per operation that selected it.
 */
export async function countRecorded(url: string, keyPrefix: string, coordinates: ReadonlySet<string>): Promise<number> {
  // Every hour of every product (the bench's Redis is one node: one SCAN sees every key).
  const match = usageKeys(keyPrefix).allHours;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: 5_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let total = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1_000);
      cursor = next;
      for (const key of keys) {
        for (const [field, count] of Object.entries(await redis.hgetall(key))) {
          const cell = parseCellField(field);
          if (cell && coordinates.has(cell.coordinate)) total += Number(count);
        }
      }
    } while (cursor !== '0');
    return total;
  } finally {
    redis.disconnect();
  }
}
