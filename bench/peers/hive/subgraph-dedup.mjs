// Hive Gateway with subgraph-call deduplication only: its defaults (executor-http's
// deduplicateInflightRequests on) and no inbound in-flight request deduplication. Otherwise as public.mjs.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  inboundInflightRequestDeduplication: false,
  transportEntries: {
    '*.http': { options: { deduplicateInflightRequests: true } },
  },
});
