import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, HAS_REDIS_SERVER, killRedisServer, spawnRedisServer, type RedisServerProcess } from './redis.js';

/** Whether this machine can start a Redis Cluster of the test's own: redis-server, and redis-cli to create it. */
export const HAS_REDIS_CLUSTER_TOOLS = HAS_REDIS_SERVER && spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;

/** How long the nodes may take to agree that the cluster is up, after redis-cli created it. */
const CLUSTER_OK_WITHIN_MS = 15_000;

export interface ClusterNode {
  readonly port: number;
  /** A plain client of this node alone (no redirections), to see what it holds. */
  readonly redis: Redis;
  /** Kills the node (SIGKILL, by pid): a crash. */
  kill(): Promise<void>;
}

export interface OwnRedisCluster {
  /** The REDIS_URL naming it: `redis+cluster://` and every node as a seed. */
  readonly url: string;
  readonly nodes: readonly ClusterNode[];
  /** The node serving a key's slot. */
  nodeOf(key: string): Promise<ClusterNode>;
  /** Every key matching `pattern`, per node (SCAN on each: a node lists only its own slots' keys). */
  keysByNode(pattern: string): Promise<Map<ClusterNode, string[]>>;
  stop(): Promise<void>;
}

async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/**
 * A Redis Cluster of `masters` masters and no replicas, from this machine's redis-server: each node
 * on a spare port (and a spare cluster bus port), its cluster config file in a scratch directory,
 * nothing persisted; `redis-cli --cluster create` assigns the slots. Stopped by pid, directory removed.
 * `cluster-require-full-coverage no`: when a test kills a node, the others keep serving their slots.
 */
export async function startOwnRedisCluster(masters = 3): Promise<OwnRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'dpg-redis-cluster-'));
  const servers: RedisServerProcess[] = [];
  const clients: Redis[] = [];
  const stop = async () => {
    for (const client of clients) client.disconnect();
    for (const server of servers) await killRedisServer(server);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports = new Set<number>();
    while (ports.size < 2 * masters) ports.add(await freePort());
    const [clientPorts, busPorts] = [[...ports].slice(0, masters), [...ports].slice(masters)];
    const nodes: ClusterNode[] = [];
    for (const [i, port] of clientPorts.entries()) {
      const server = await spawnRedisServer(port, [
        '--cluster-enabled', 'yes',
        // The bus port is otherwise port + 10000, which may be taken, or past 65535.
        '--cluster-port', String(busPorts[i]),
        '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--cluster-require-full-coverage', 'no',
        '--dir', dir,
        '--appendonly', 'no',
        '--save', '',
      ]);
      servers.push(server);
      const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => null });
      redis.on('error', () => undefined); // a node the test killed
      clients.push(redis);
      nodes.push({ port, redis, kill: () => killRedisServer(server) });
    }
    await promisify(execFile)('redis-cli', ['--cluster', 'create', ...clientPorts.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    // redis-cli returns once the nodes agree on the slots, but each node turns its own cluster_state
    // to ok only after its gossip settles (and, at a master's start, a writable delay): each node
    // announces the change in its log, which is waited for.
    const settled = AbortSignal.timeout(CLUSTER_OK_WITHIN_MS);
    await Promise.all(servers.map((server) => server.logged(/Cluster state changed: ok/, settled)));
    for (const node of nodes) {
      if (!/cluster_state:ok/.test(String(await node.redis.cluster('INFO')))) throw new Error(`Redis Cluster node ${node.port} logged ok but does not report it`);
    }
    const nodeOf = async (key: string) => {
      const slot = await nodes[0]!.redis.cluster('KEYSLOT', key);
      const ranges = await nodes[0]!.redis.cluster('SLOTS');
      // [first slot, last slot, [host, port, id] of the master, ...replicas]
      const port = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no node serves slot ${slot}`);
      return node;
    };
    const keysByNode = async (pattern: string) => new Map(await Promise.all(nodes.map(async (node) => [node, await scanAll(node.redis, pattern)] as const)));
    return { url: `redis+cluster://${clientPorts.map((p) => `127.0.0.1:${p}`).join(',')}`, nodes, nodeOf, keysByNode, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
