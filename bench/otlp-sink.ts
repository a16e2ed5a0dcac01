import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the sink took in: exports per process kind (by the service name they carry) and bytes. */
export interface SinkCounts {
  exports: number;
  bytes: number;
  /** Exports that carried the gateway's service name. */
  gatewayExports: number;
  /** Exports that carried a data product's service name. */
  productExports: number;
}

export interface OtlpSink {
  /** For OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  counts(): SinkCounts;
  stop(): Promise<void>;
}

/**
 * `--tracing`: a stand-in for an OpenTelemetry collector on loopback, in the bench's process. It
 * takes OTLP/HTTP protobuf exports and drops them after counting, answering as a collector does
 * (200, an empty ExportTraceServiceResponse), so the traced gateways pay what they would pay
 * against a real collector: building, encoding and sending every span. Its own CPU is the bench
 * client's, not the gateway's.
 */
export async function startOtlpSink(port: number): Promise<OtlpSink> {
  const counts: SinkCounts = { exports: 0, bytes: 0, gatewayExports: 0, productExports: 0 };
  const gateway = serviceNameBytes('data-product-gateway');
  const product = serviceNameBytes('data-products');
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && req.url === '/v1/traces') {
        counts.exports += 1;
        counts.bytes += body.length;
        // Which processes exported: the resource's service.name is in the body as it was encoded.
        if (body.includes(gateway)) counts.gatewayExports += 1;
        if (body.includes(product)) counts.productExports += 1;
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    counts: () => ({ ...counts }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The protobuf encoding of the resource attribute `service.name = <name>` (a KeyValue: key, then an
 * AnyValue holding a string). The name alone would not do: our instrumentation scope is named
 * data-product-gateway in every process.
 */
function serviceNameBytes(name: string): Buffer {
  const key = Buffer.from('service.name');
  const value = Buffer.from(name);
  return Buffer.concat([Buffer.from([0x0a, key.length]), key, Buffer.from([0x12, value.length + 2, 0x0a, value.length]), value]);
}
