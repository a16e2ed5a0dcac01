import { gunzipSync } from 'node:zlib';
import * as semconv from '@opentelemetry/semantic-conventions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { startTracing } from '../lib/tracing/sdk.js';
import { tracingConfigOf, TRACING_ENV } from '../lib/tracing/settings.js';
import { activeTracer, SEMCONV } from '../lib/tracing/tracer.js';
import { describeStatement } from '../subgraphs/kit/tracing.js';
import { z } from 'zod';
import { startOtlpReceiver, type OtlpReceiver } from './helpers/otlp-receiver.js';

/*
 * The SDK module in this process: what the standard variables turn on, and how spans leave (the
 * protocol, headers and compression the configuration names). test/tracing.test.ts follows whole
 * requests across real processes.
 */

const silent = createLogger('test', 'silent');
const configOf = (env: Record<string, string>) => tracingConfigOf(z.object(TRACING_ENV).parse(env));
let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});

afterAll(async () => {
  await receiver.stop();
});

describe('startTracing', () => {
  it('off, registers nothing: components keep their untraced paths', async () => {
    const tracing = await startTracing(configOf({}), { defaultServiceName: 'test', logger: silent });
    expect(tracing.enabled).toBe(false);
    expect(activeTracer()).toBeUndefined();
    await tracing.shutdown(1_000);
  });

  it('on, exports OTLP protobuf with the configured headers and compression, and flushes on shutdown', async () => {
    const tracing = await startTracing(
      configOf({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-key=k1',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test-env',
      }),
      { defaultServiceName: 'probe-service', logger: silent },
    );
    expect(tracing.enabled).toBe(true);
    const span = activeTracer()!.startSpan('probe-span');
    const { traceId } = span.spanContext();
    span.end();
    // Queued for 5 s by the batch processor: shutdown exports it now.
    await tracing.shutdown(5_000);
    expect(activeTracer()).toBeUndefined();

    expect(receiver.exports).toHaveLength(1);
    const [sent] = receiver.exports;
    expect(sent!.contentType).toBe('application/x-protobuf');
    expect(sent!.headers['x-collector-key']).toBe('k1');
    expect(sent!.headers['content-encoding']).toBe('gzip');
    const body = gunzipSync(sent!.body);
    // Protobuf carries strings as they are and ids as raw bytes.
    for (const part of [Buffer.from('probe-span'), Buffer.from('probe-service'), Buffer.from('test-env'), Buffer.from(traceId, 'hex')]) {
      expect(body.includes(part), part.toString('hex')).toBe(true);
    }
  });
});

describe('attribute names', () => {
  it('are the stable semantic conventions\' (written out so that tracing off does not load the package)', () => {
    const conventions = semconv as unknown as Record<string, string>;
    for (const [name, value] of Object.entries(SEMCONV)) {
      const constant = name.startsWith('DB_SYSTEM_NAME_VALUE_') ? name : `ATTR_${name}`;
      expect(conventions[constant], constant).toBe(value);
    }
  });
});

describe('statement names', () => {
  it('name what a statement does and to which table, never its values', () => {
    expect(describeStatement('SELECT c.id FROM customer.customers c WHERE c.id = ANY($1::text[])')).toMatchObject({
      summary: 'SELECT customer.customers',
      attributes: { 'db.operation.name': 'SELECT', 'db.collection.name': 'customer.customers', 'db.query.summary': 'SELECT customer.customers' },
    });
    // A subquery: the first table named.
    expect(describeStatement('\n  SELECT * FROM (SELECT t.id FROM finance.transactions t) ranked').summary).toBe('SELECT finance.transactions');
    expect(describeStatement('insert into product.data_product_meta (id) values (1)').summary).toBe('INSERT product.data_product_meta');
    expect(describeStatement('select 1 as ok').summary).toBe('SELECT');
    // Same summary, different statements: the hash tells them apart.
    const a = describeStatement('SELECT id FROM customer.customers WHERE id = $1');
    const b = describeStatement('SELECT name FROM customer.customers WHERE id = $1');
    expect(a.summary).toBe(b.summary);
    expect(a.attributes['dpg.db.statement_hash']).not.toBe(b.attributes['dpg.db.statement_hash']);
  });
});
