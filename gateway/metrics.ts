import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one gateway (its own registry: several gateways may share a process in tests). */
export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'operation' | 'outcome'>;
  readonly requestDuration: Histogram<'operation' | 'outcome'>;
  readonly subgraphFetchDuration: Histogram<'subgraph'>;
  readonly subgraphErrors: Counter<'subgraph' | 'code'>;
  readonly subgraphRequestsDeduplicated: Counter<'subgraph'>;
  readonly subgraphRepresentationsDeduplicated: Counter<'subgraph'>;
  readonly subgraphFetchesBatched: Counter<'subgraph'>;
  readonly authenticationFailures: Counter<'reason'>;
  readonly authorizationDenials: Counter<'coordinate'>;
  readonly rateLimitRejections: Counter<'kind'>;
  readonly rateLimitStoreFallbacks: Counter<'mode'>;
  readonly usageFlushLag: Gauge;
  readonly usageFlushFailures: Counter;
  readonly usageClientOverflow: Counter<'reason'>;
  readonly usageOperationOverflow: Counter<'product'>;
  readonly usageRollups: Counter<'outcome'>;
  readonly supergraphReloads: Counter<'outcome'>;
  readonly supergraphInfo: Gauge<'hash'>;
  readonly inboundRequestsShared: Counter;
  readonly responseCacheLookups: Counter<'result'>;
  readonly responseCacheStoreFailures: Counter;
  readonly auditRecords: Counter;
  readonly auditGapRecords: Counter;
  readonly auditWriteFailures: Counter;
  readonly auditQueueDepth: Gauge;
  readonly auditPurgedRecords: Counter;
  readonly untrustedOperations: Counter<'code'>;
  readonly trustedDocuments: Gauge<'state'>;
  readonly trustedDocumentsReloads: Counter<'outcome'>;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dpg_' });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({ name: 'dpg_requests_total', help: 'GraphQL operations by operation name and outcome (ok, error, forbidden, rate_limited, rejected).', labelNames: ['operation', 'outcome'], registers }),
    requestDuration: new Histogram({ name: 'dpg_request_duration_seconds', help: 'Time from request to response, by operation name and outcome.', labelNames: ['operation', 'outcome'], buckets: LATENCY_BUCKETS, registers }),
    subgraphFetchDuration: new Histogram({ name: 'dpg_subgraph_fetch_duration_seconds', help: 'Duration of calls to each subgraph.', labelNames: ['subgraph'], buckets: LATENCY_BUCKETS, registers }),
    subgraphErrors: new Counter({ name: 'dpg_subgraph_errors_total', help: 'Failed subgraph calls by subgraph and error code.', labelNames: ['subgraph', 'code'], registers }),
    subgraphRequestsDeduplicated: new Counter({
      name: 'dpg_subgraph_requests_deduplicated_total',
      help: 'Subgraph calls not made: the caller shared an identical call in flight (same subgraph, document, variables and forwarded identity).',
      labelNames: ['subgraph'],
      registers,
    }),
    subgraphRepresentationsDeduplicated: new Counter({
      name: 'dpg_subgraph_representations_deduplicated_total',
      help: 'Entity representations not sent: a repeat of one already in the same _entities call.',
      labelNames: ['subgraph'],
      registers,
    }),
    subgraphFetchesBatched: new Counter({
      name: 'dpg_subgraph_fetches_batched_total',
      help: 'Subgraph calls not made: an entity fetch travelled in one call with other fetches the same request started together.',
      labelNames: ['subgraph'],
      registers,
    }),
    authenticationFailures: new Counter({ name: 'dpg_authentication_failures_total', help: 'Requests refused by authentication, by reason.', labelNames: ['reason'], registers }),
    authorizationDenials: new Counter({ name: 'dpg_authorization_denials_total', help: 'Fields denied by authorization, by schema coordinate.', labelNames: ['coordinate'], registers }),
    rateLimitRejections: new Counter({ name: 'dpg_rate_limit_rejections_total', help: 'Operations refused before they ran, by kind: rate_limited (a budget was spent), rejected (over an operation limit or maxCost).', labelNames: ['kind'], registers }),
    rateLimitStoreFallbacks: new Counter({ name: 'dpg_rate_limit_store_fallbacks_total', help: 'Requests decided without the shared rate-limit store (fail-open: in-process; fail-closed: refused).', labelNames: ['mode'], registers }),
    usageFlushLag: new Gauge({ name: 'dpg_usage_flush_lag_seconds', help: 'Age of the oldest usage count not yet in the store.', registers }),
    usageFlushFailures: new Counter({ name: 'dpg_usage_flush_failures_total', help: 'Failed usage flushes (retried with the same batch).', registers }),
    supergraphReloads: new Counter({
      name: 'dpg_supergraph_reloads_total',
      help: 'Supergraph checks by outcome: applied (a new one serves), unchanged, refused (the current one keeps serving; the log says why).',
      labelNames: ['outcome'],
      registers,
    }),
    supergraphInfo: new Gauge({ name: 'dpg_supergraph_info', help: 'The supergraph being served: 1 for its hash (the first 16 hex digits of its SHA-256).', labelNames: ['hash'], registers }),
    inboundRequestsShared: new Counter({
      name: 'dpg_inbound_requests_shared_total',
      help: 'Operations answered by joining an identical one in flight (same document, variables, operation name and grants) instead of executing.',
      registers,
    }),
    responseCacheLookups: new Counter({ name: 'dpg_response_cache_lookups_total', help: 'Cacheable operations by result: hit (answered from the response cache) or miss (executed).', labelNames: ['result'], registers }),
    responseCacheStoreFailures: new Counter({ name: 'dpg_response_cache_store_failures_total', help: 'Response cache store commands that failed (answered as a miss, the answer not kept).', registers }),
    auditRecords: new Counter({ name: 'dpg_audit_records_total', help: 'Audit records written to the audit store (gap records included).', registers }),
    auditGapRecords: new Counter({ name: 'dpg_audit_gap_records_total', help: 'Audit records that could not be kept (queue full while the store was down); a gap record in the chain says how many.', registers }),
    auditWriteFailures: new Counter({ name: 'dpg_audit_write_failures_total', help: 'Failed audit write attempts (the batch is retried as it was).', registers }),
    auditQueueDepth: new Gauge({ name: 'dpg_audit_queue_depth', help: 'Audit records waiting for the store.', registers }),
    auditPurgedRecords: new Counter({ name: 'dpg_audit_purged_records_total', help: 'Audit records deleted by the retention purge.', registers }),
    untrustedOperations: new Counter({
      name: 'dpg_untrusted_operations_refused_total',
      help: 'Requests of trusted-only clients refused before parsing, by code: PERSISTED_QUERY_NOT_FOUND (an unknown hash), OPERATION_NOT_TRUSTED (a document not in their manifests).',
      labelNames: ['code'],
      registers,
    }),
    trustedDocuments: new Gauge({ name: 'dpg_trusted_documents', help: 'Trusted documents served, by state: valid, or invalid (they do not validate against the supergraph served).', labelNames: ['state'], registers }),
    trustedDocumentsReloads: new Counter({ name: 'dpg_trusted_documents_reloads_total', help: 'Reads of the trusted documents after start, by outcome: applied, unchanged, refused.', labelNames: ['outcome'], registers }),
    usageOperationOverflow: new Counter({
      name: 'dpg_usage_operation_overflow_total',
      help: 'Operations counted under operation "~other" in a data product\'s usage: the hour\'s distinct operations of that product were used up (USAGE_MAX_OPERATIONS).',
      labelNames: ['product'],
      registers,
    }),
    usageRollups: new Counter({
      name: 'dpg_usage_rollups_total',
      help: 'Runs of the usage roll-up (closed hours moved from the hot store into the PostgreSQL history), by outcome: ok, failed (the next run resumes it).',
      labelNames: ['outcome'],
      registers,
    }),
    usageClientOverflow: new Counter({
      name: 'dpg_usage_client_overflow_total',
      help: 'Operations counted under client "other": the hour\'s distinct client name/version pairs were used up (cap), or a new pair came with a refused operation (refused).',
      labelNames: ['reason'],
      registers,
    }),
  };
}

/** Metric families that name runtime or library versions: shown to operators (the admin listener), never on the public port. */
const VERSION_FAMILIES = /^(?:# (?:HELP|TYPE) )?dpg_nodejs_version_info\b/;

/** The Prometheus exposition; `publicPort` leaves out what names versions. */
export async function exposition(registry: Registry, options: { publicPort: boolean }): Promise<string> {
  const text = await registry.metrics();
  if (!options.publicPort) return text;
  return text
    .split('\n')
    .filter((line) => !VERSION_FAMILIES.test(line))
    .join('\n');
}
