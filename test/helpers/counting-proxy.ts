import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A front for one subgraph that counts the GraphQL calls reaching it and can hold them: the test
 * decides when held calls go on (no timers). Everything else (the catalogue's GET /data-product,
 * health checks) passes straight through and is counted too, by its query text: tests count the
 * calls whose query names what they asked for.
 */
export interface CountingProxy {
  readonly url: string;
  /** Queries (the subgraph operations' text) of the POSTs received so far, in order. */
  queries(): readonly string[];
  /** POSTs whose query contains `text`. */
  calls(text: string): number;
  /** From now on POSTs whose query contains `text` wait for release(). */
  hold(text: string): void;
  /** Lets every held call go on, and holds nothing more. */
  release(): void;
  /** Resolves once `count` calls are being held. */
  whenHeld(count: number): Promise<void>;
  stop(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const targetUrl = new URL(target);
  const seen: string[] = [];
  let holding: string | undefined;
  let held: (() => void)[] = [];
  const heldWatchers: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await bodyOf(req);
      if (req.method === 'POST') {
        let query = '';
        try {
          query = String((JSON.parse(body.toString('utf8')) as { query?: unknown }).query ?? '');
        } catch {
          // not GraphQL: counted with an empty query
        }
        seen.push(query);
        if (holding !== undefined && query.includes(holding)) {
          await new Promise<void>((resolve) => {
            held.push(resolve);
            for (const watcher of heldWatchers.filter((w) => held.length >= w.count)) {
              heldWatchers.splice(heldWatchers.indexOf(watcher), 1);
              watcher.resolve();
            }
          });
        }
      }
      const url = new URL(req.url ?? '/', targetUrl);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (name === 'host' || name === 'connection' || name === 'content-length' || value === undefined) continue;
        headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      const answer = await fetch(url, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body });
      const payload = Buffer.from(await answer.arrayBuffer());
      const out: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (name !== 'content-length' && name !== 'transfer-encoding' && name !== 'connection' && name !== 'content-encoding') out[name] = value;
      });
      res.writeHead(answer.status, out);
      res.end(payload);
    })().catch((error: unknown) => {
      res.writeHead(502).end(String(error));
    });
  });
  const release = () => {
    holding = undefined;
    const waiting = held;
    held = [];
    for (const resolve of waiting) resolve();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${targetUrl.pathname}`,
    queries: () => seen,
    calls: (text) => seen.filter((q) => q.includes(text)).length,
    hold(text) {
      holding = text;
    },
    release,
    whenHeld(count) {
      if (held.length >= count) return Promise.resolve();
      return new Promise<void>((resolve) => heldWatchers.push({ count, resolve }));
    },
    async stop() {
      release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
