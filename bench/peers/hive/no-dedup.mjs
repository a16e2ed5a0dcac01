// Hive Gateway with every deduplication off: no inbound in-flight request deduplication (off by
// default) and no subgraph-call deduplication (executor-http's deduplicateInflightRequests, on by
// default, set false for every HTTP subgraph). Otherwise as public.mjs.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  inboundInflightRequestDeduplication: false,
  transportEntries: {
    '*.http': { options: { deduplicateInflightRequests: false } },
  },
});
