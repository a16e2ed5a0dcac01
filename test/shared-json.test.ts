import fc from 'fast-check';
import type { FormattedExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createSharedJson } from '../gateway/execution/shared-json.js';

/*
 * The JSON of an answer shared by joined callers is written once and reused; what goes on the wire
 * must stay byte for byte what Apollo Server writes by default.
 */
const apolloDefault = (result: FormattedExecutionResult) => `${JSON.stringify(result)}\n`;
const PROPERTY_SEED = Number(process.env.PROPERTY_SEED ?? 20261201);

describe('shared JSON', () => {
  it('is byte for byte the default, for shared and unshared answers, whatever the members and their order', () => {
    const json = fc.jsonValue({ maxDepth: 4 });
    const result = fc.record(
      {
        errors: fc.array(fc.record({ message: fc.string(), path: fc.array(fc.oneof(fc.string(), fc.nat())), extensions: fc.dictionary(fc.string(), json) }), { maxLength: 3 }),
        data: fc.oneof(fc.constant(null), fc.dictionary(fc.string(), json)),
        extensions: fc.option(fc.dictionary(fc.string(), json), { nil: undefined }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(result, fc.boolean(), (value, shared) => {
        const json = createSharedJson();
        if (shared) json.markShared(value.data);
        const formatted = value as FormattedExecutionResult;
        const first = json.stringifyResult(formatted);
        expect(first).toBe(apolloDefault(formatted));
        // The second caller of a shared answer gets the same bytes, from the kept JSON.
        expect(json.stringifyResult({ ...formatted })).toBe(first);
      }),
      { seed: PROPERTY_SEED, numRuns: 300 },
    );
  });

  it('serializes a shared answer\'s data once, however many callers it reaches; others every time', () => {
    const json = createSharedJson();
    let serialized = 0;
    const data = { customers: [{ id: 'C1', toJSON: () => (serialized++, { id: 'C1' }) }] };
    json.markShared(data);
    for (let i = 0; i < 5; i++) expect(json.stringifyResult({ data, extensions: { request: i } })).toBe(`{"data":{"customers":[{"id":"C1"}]},"extensions":{"request":${i}}}\n`);
    expect(serialized).toBe(1);
    const unshared = { customers: [{ id: 'C2', toJSON: () => (serialized++, { id: 'C2' }) }] };
    json.stringifyResult({ data: unshared });
    json.stringifyResult({ data: unshared });
    expect(serialized).toBe(3);
  });

  it('encodes a shared body once for all its callers, as Apollo Server lays the result out (missing members undefined)', () => {
    const json = createSharedJson();
    const data = { me: { id: '1', name: 'Ada Lovelace' } };
    json.markShared(data);
    const first = json.stringifyResult({ errors: undefined, data, extensions: undefined } as FormattedExecutionResult);
    const second = json.stringifyResult({ errors: undefined, data, extensions: undefined } as FormattedExecutionResult);
    expect(first).toBe('{"data":{"me":{"id":"1","name":"Ada Lovelace"}}}\n');
    const bytes = json.encodeBody(first);
    expect(bytes.toString('utf8')).toBe(first);
    // The very same bytes for the next caller; an unshared body gets its own.
    expect(json.encodeBody(second)).toBe(bytes);
    const other = '{"data":{"me":{"id":"2","name":"Ada Lovelace"}}}\n';
    expect(json.encodeBody(other)).not.toBe(bytes);
    expect(json.encodeBody(other).toString('utf8')).toBe(other);
  });
});
