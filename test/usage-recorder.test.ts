import { describe, expect, it } from 'vitest';
import { createUsageRecorder } from '../gateway/usage/recorder.js';
import type { UsageBatch, UsageStore } from '../gateway/usage/model.js';
import { createLogger } from '../lib/logger.js';

/*
 * The usage recorder on its own, with stores that misbehave on purpose: a flush asked for while
 * another runs still carries what was recorded before it, and shutdown ends within its deadline
 * however the store behaves and whatever the injected clock says.
 */
const silent = createLogger('test', 'silent');
const frozen = () => Date.UTC(2026, 10, 30, 12);
const total = (batches: readonly UsageBatch[]) => batches.reduce((n, b) => n + b.parts.reduce((m, part) => m + [...part.cells.values()].reduce((a, c) => a + c, 0), 0), 0);

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('usage recorder', () => {
  it('a flush asked for while one runs carries what was recorded before it', async () => {
    const applied: UsageBatch[] = [];
    const gate = deferred();
    let calls = 0;
    const store: UsageStore = {
      ready: async () => undefined,
      async apply(batch) {
        calls += 1;
        if (calls === 1) await gate.promise; // the first round is still out when the test records more
        applied.push(batch);
      },
      read: async () => new Map(),
      readOperations: async () => new Map(),
      close: async () => undefined,
    };
    const recorder = createUsageRecorder({ store, flushIntervalMs: 60_000, logger: silent, now: frozen });
    const record = () => recorder.record({ coordinates: ['Query.books'], outcomeOf: () => 'ok', client: 'web', version: '' });
    record();
    const first = recorder.flush();
    record();
    record();
    const second = recorder.flush(); // the first round already took its batch: this one needs the next
    const third = recorder.flush(); // shares the round not started yet
    expect(third).toBe(second);
    gate.resolve();
    expect(await first).toBe(true);
    expect(await second).toBe(true);
    expect(total(applied)).toBe(3);
    await recorder.close(1_000);
  });

  it.each([
    ['refuses every batch', (): Promise<void> => Promise.reject(new Error('down'))],
    ['never answers', (): Promise<void> => new Promise<void>(() => undefined)],
  ])('shutdown ends within its deadline when the store %s, even on a frozen clock', async (_, fail) => {
    let attempts = 0;
    const store: UsageStore = {
      ready: async () => undefined,
      apply: () => {
        attempts += 1;
        return fail();
      },
      read: async () => new Map(),
      readOperations: async () => new Map(),
      close: async () => undefined,
    };
    const recorder = createUsageRecorder({ store, flushIntervalMs: 60_000, logger: silent, now: frozen });
    recorder.record({ coordinates: ['Query.books'], outcomeOf: () => 'ok', client: 'web', version: '' });
    await expect(recorder.close(300)).resolves.toBeUndefined();
    expect(attempts).toBeGreaterThan(0);
  });
});
