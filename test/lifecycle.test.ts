import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL } from './helpers/http.js';
import { spawnTs, type Spawned } from './helpers/process.js';
import { startToySubgraphs, type Toy } from './helpers/toy-subgraphs.js';

// The gateway as operators run it: `npm run gateway -- --supergraph <path> --port <n>`, a real process.
let toy: Toy;
const spawned: Spawned[] = [];

beforeAll(async () => {
  toy = await startToySubgraphs(1_500);
});

afterAll(async () => {
  for (const process of spawned) process.kill();
  await toy?.stop();
});

function startGatewayProcess(args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const gateway = spawnTs('gateway/main.ts', args, { NODE_ENV: 'development', LOG_LEVEL: 'info', ...env });
  spawned.push(gateway);
  return gateway;
}

describe('gateway process', () => {
  it('serves a foreign supergraph from the command line without tokens, logging JSON with request ids', async () => {
    const gateway = startGatewayProcess(['--supergraph', toy.supergraphPath, '--port', '0']);
    const ready = await gateway.waitForLine((l) => l.msg === 'gateway ready');
    const url = String(ready.url);
    const result = await postGraphQL(url, '{ books { title } }', { headers: { 'x-request-id': 'req-42' } });
    expect(result.body).toEqual({ data: { books: [{ title: 'Dune' }, { title: 'Emma' }] } });
    const logged = await gateway.waitForLine((l) => l.msg === 'graphql request' && l.requestId === 'req-42');
    expect(logged).toMatchObject({ level: 'info', service: 'gateway', requestId: 'req-42', status: 200, operationName: null });
    expect(typeof logged.durationMs).toBe('number');
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  });

  it('on SIGTERM finishes in-flight requests, refuses new ones, then exits 0', async () => {
    const gateway = startGatewayProcess(['--supergraph', toy.supergraphPath, '--port', '0']);
    const url = String((await gateway.waitForLine((l) => l.msg === 'gateway ready')).url);
    toy.setReviews('slow');
    const reviewsCalled = toy.nextReviewsCall();
    const inFlight = postGraphQL(url, '{ books { title rating } }');
    // The request is mid-flight in the gateway once the reviews subgraph is being called.
    await reviewsCalled;
    gateway.child.kill('SIGTERM');
    await gateway.waitForLine((l) => l.msg === 'draining');
    const refused = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' }).then(
      (r) => r.status,
      () => 'connection refused',
    );
    expect([503, 'connection refused']).toContain(refused);
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect(finished.body).toEqual({ data: { books: [{ title: 'Dune', rating: 4.5 }, { title: 'Emma', rating: 5.5 }] } });
    expect(await gateway.exited).toBe(0);
    toy.setReviews('ok');
  });

  it('refuses bad configuration at start with a message naming the key, exit code 2', async () => {
    const gateway = startGatewayProcess(['--supergraph', toy.supergraphPath], { SUBGRAPH_TIMEOUT_MS: 'soon', PORT: '99999' });
    expect(await gateway.exited).toBe(2);
    expect(gateway.stderr()).toContain('SUBGRAPH_TIMEOUT_MS');
    expect(gateway.stderr()).toContain('PORT / --port');
    expect(gateway.stderr()).not.toMatch(/\n\s+at /);
  });

  it('refuses a missing or invalid supergraph with a clear message, exit code 2', async () => {
    const missing = startGatewayProcess(['--supergraph', '/nonexistent/supergraph.graphql', '--port', '0']);
    expect(await missing.exited).toBe(2);
    expect(missing.stderr()).toBe('gateway: SUPERGRAPH: cannot read /nonexistent/supergraph.graphql (ENOENT)\n');
  });
});
