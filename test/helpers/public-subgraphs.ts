import { PUBLIC_SUBGRAPHS } from '../../bench/public/subgraphs.js';
import { spawnTs, type Spawned } from './process.js';

/** The public benchmark's four subgraphs, each its own process as the bench runs them (each counts the calls it gets). */
export interface PublicSubgraphProcesses {
  /** Each subgraph's GraphQL URL. */
  readonly urls: Readonly<Record<string, string>>;
  /** Each subgraph's origin, where `GET /requests` counts its calls. */
  readonly origins: Readonly<Record<string, string>>;
  readonly processes: readonly Spawned[];
  /** Stops each process by its pid. */
  stop(): void;
}

export async function startPublicSubgraphs(): Promise<PublicSubgraphProcesses> {
  const urls: Record<string, string> = {};
  const origins: Record<string, string> = {};
  const processes: Spawned[] = [];
  try {
    for (const name of PUBLIC_SUBGRAPHS) {
      const proc = spawnTs('bench/public/subgraph-server.ts', [], { SUBGRAPH: name, PORT: '0' });
      processes.push(proc);
      const line = await proc.waitForLine((l) => l.msg === 'subgraph listening');
      urls[name] = String(line.url);
      origins[name] = new URL(String(line.url)).origin;
    }
  } catch (error) {
    for (const proc of processes) proc.kill();
    throw error;
  }
  return { urls, origins, processes, stop: () => processes.forEach((proc) => proc.kill()) };
}
