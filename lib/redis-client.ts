import { Cluster, Redis } from 'ioredis';

/** How long a client may take to connect before a command or a readiness wait gives up. */
export const REDIS_CONNECT_TIMEOUT_MS = 2_000;

/**
 * Longest pause between reconnection attempts; a wait for readiness lasts longer than two of them,
 * so it always sees at least one attempt, however long Redis was away.
 */
export const REDIS_MAX_RETRY_DELAY_MS = 2_000;
const READY_WAIT_MS = 2 * REDIS_MAX_RETRY_DELAY_MS + REDIS_CONNECT_TIMEOUT_MS;

/** A connection to one Redis node or to a Redis Cluster: both run the same commands and scripts. */
export type RedisConnection = Redis | Cluster;

/** The scheme that names a Redis Cluster by its seed nodes (`rediss+cluster://` with TLS). */
export const REDIS_CLUSTER_SCHEMES = ['redis+cluster:', 'rediss+cluster:'] as const;

/** Where Redis is: one node (its URL, as ioredis reads it), or a cluster found through seed nodes. */
export type RedisTarget =
  | { readonly kind: 'node'; readonly url: string }
  | {
      readonly kind: 'cluster';
      /** Any of them is enough to discover the rest: the client asks for the slot map (CLUSTER SLOTS). */
      readonly seeds: readonly { readonly host: string; readonly port: number }[];
      readonly tls: boolean;
      readonly username: string | undefined;
      readonly password: string | undefined;
    };

export type RedisTargetReading = { readonly ok: true; readonly target: RedisTarget } | { readonly ok: false; readonly problem: string };

const DEFAULT_PORT = 6379;
const EXPECTED = 'expected redis://host:port or rediss://... (one node), or redis+cluster://host:port,host:port (seed nodes of a Redis Cluster; rediss+cluster:// with TLS)';

/**
 * Reads REDIS_URL. `redis://` and `rediss://` name one node, as ever. A cluster is named by its
 * seed nodes, comma-separated, after `redis+cluster://` (credentials once, before the first, shared
 * by every node as a cluster's ACL is): `redis+cluster://[user:password@]host1:6379,host2:6379`.
 * There is no path (a cluster has only database 0) and no query. A problem never quotes the value:
 * it may hold a password.
 */
export function parseRedisUrl(value: string): RedisTargetReading {
  const scheme = /^([a-z+]+:)\/\//.exec(value)?.[1];
  if (scheme === 'redis:' || scheme === 'rediss:') return { ok: true, target: { kind: 'node', url: value } };
  if (!scheme || !(REDIS_CLUSTER_SCHEMES as readonly string[]).includes(scheme)) return { ok: false, problem: EXPECTED };
  const rest = value.slice(scheme.length + 2);
  const at = rest.lastIndexOf('@');
  const credentials = at >= 0 ? rest.slice(0, at) : undefined;
  const hosts = rest.slice(at + 1).replace(/\/$/, '');
  if (/[/?#]/.test(hosts)) return { ok: false, problem: 'a Redis Cluster URL takes seed nodes only: no database path (a cluster has only database 0), no query' };
  const seeds: { host: string; port: number }[] = [];
  for (const [index, seed] of hosts.split(',').entries()) {
    // Each seed read as a URL's host and port, so IPv6 ([::1]:7000) and ports are checked as anywhere else.
    const url = URL.canParse(`redis://${seed.trim()}`) ? new URL(`redis://${seed.trim()}`) : undefined;
    if (!url || !url.hostname || url.username || url.pathname) {
      return { ok: false, problem: `seed node ${index + 1} of the Redis Cluster URL is not host[:port] (redis+cluster://host1:6379,host2:6379)` };
    }
    seeds.push({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : DEFAULT_PORT });
  }
  let username: string | undefined;
  let password: string | undefined;
  if (credentials !== undefined) {
    const colon = credentials.indexOf(':');
    try {
      username = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials) || undefined;
      password = colon >= 0 ? decodeURIComponent(credentials.slice(colon + 1)) || undefined : undefined;
    } catch {
      return { ok: false, problem: 'the credentials of the Redis Cluster URL are not percent-encoded correctly' };
    }
  }
  return { ok: true, target: { kind: 'cluster', seeds, tls: scheme === 'rediss+cluster:', username, password } };
}

/**
 * The one way this project opens Redis, one node or a cluster alike: commands never wait in an
 * offline queue (a request fails at once and its caller decides what that means), each command has
 * a deadline, and the client keeps reconnecting in the background, backing off to 2 s.
 */
export function createRedisClient(url: string, options: { commandTimeoutMs: number }): RedisConnection {
  const reading = parseRedisUrl(url);
  // Configuration validated this already (gateway/config.ts); a direct caller with a bad URL is a bug.
  if (!reading.ok) throw new Error(`invalid Redis URL: ${reading.problem}`);
  const { target } = reading;
  const retry = (attempt: number) => Math.min(attempt * 200, REDIS_MAX_RETRY_DELAY_MS);
  const perCommand = {
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
  };
  // Commands issued in the same tick (the rate limiter's one per request) go out in one write:
  // under load, one syscall for many requests instead of one each.
  if (target.kind === 'node') return new Redis(target.url, { ...perCommand, enableAutoPipelining: true, enableOfflineQueue: false, retryStrategy: retry, lazyConnect: false });
  // No auto-pipelining on a cluster: ioredis then refuses the usage recorder's explicit pipelines
  // that span slots.
  return new Cluster([...target.seeds], {
    enableOfflineQueue: false,
    clusterRetryStrategy: retry,
    // As with one node, a command to a node that dropped or to a cluster that is down fails at once
    // (ioredis would otherwise retry it for up to 16 x 100 ms): the caller's fail mode or the usage
    // recorder's retry decides. MOVED and ASK redirections (resharding, failover) are still followed.
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    slotsRefreshTimeout: REDIS_CONNECT_TIMEOUT_MS,
    lazyConnect: false,
    redisOptions: {
      ...perCommand,
      username: target.username,
      password: target.password,
      // Certificates must be valid for the addresses the nodes announce (cluster-announce-*).
      ...(target.tls ? { tls: {} } : {}),
    },
  });
}

/** Resolves when the client is connected (for a cluster: it has the slot map and CLUSTER INFO says ok); rejects after `timeoutMs` (it keeps trying in the background). */
export function whenReady(redis: RedisConnection, timeoutMs = READY_WAIT_MS): Promise<void> {
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
