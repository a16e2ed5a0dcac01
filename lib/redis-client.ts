import { Redis } from 'ioredis';

/** How long a client may take to connect before a command or a readiness wait gives up. */
export const REDIS_CONNECT_TIMEOUT_MS = 2_000;

/**
 * The one way this project opens Redis: commands never wait in an offline queue (a request fails at
 * once and its caller decides what that means), each command has a deadline, and ioredis keeps
 * reconnecting in the background, backing off to 2 s.
 */
export function createRedisClient(url: string, options: { commandTimeoutMs: number }): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 200, REDIS_MAX_RETRY_DELAY_MS),
    lazyConnect: false,
  });
}

/**
 * Longest pause between reconnection attempts; a wait for readiness lasts longer than two of them,
 * so it always sees at least one attempt, however long Redis was away.
 */
export const REDIS_MAX_RETRY_DELAY_MS = 2_000;
const READY_WAIT_MS = 2 * REDIS_MAX_RETRY_DELAY_MS + REDIS_CONNECT_TIMEOUT_MS;

/** Resolves when the client is connected; rejects after `timeoutMs` (it keeps trying in the background). */
export function whenReady(redis: Redis, timeoutMs = READY_WAIT_MS): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error('Redis not connected'));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
