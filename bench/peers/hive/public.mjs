// Hive Gateway as the public benchmark configures it: graphql-hive/graphql-gateways-benchmark,
// gateways/hive-gateway/gateway.config.ts at commit e583a1ff4ae2e0e5380b9caabd8a00d400947a8b, which
// turns inbound in-flight request deduplication on. Subgraph-call deduplication is Hive's default
// (@graphql-tools/executor-http's deduplicateInflightRequests, on unless set false), so this runs both.
// The bench starts it as that repository's package.json does: `hive-gateway supergraph <file> --jit`.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  inboundInflightRequestDeduplication: true,
});
