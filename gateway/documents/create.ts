import type { GraphQLSchema } from 'graphql';
import type { Logger } from '../../lib/logger.js';
import type { Principal } from '../../lib/principal.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import { refusalError, refusalOf, requestClient, type RequestClient } from './admission.js';
import { invalidDocuments, type InvalidDocument } from './check.js';
import { createPersistedQueries, type PersistedQueries } from './persisted-queries.js';
import { loadOperationsPolicy, type OperationsPolicy } from './policy.js';
import { createManifestsSource, type ManifestsSource } from './source.js';
import { buildTrustedDocuments, NO_TRUSTED_DOCUMENTS, type TrustedDocuments } from './trusted.js';

/** What one reload of the trusted documents did. */
export type DocumentsReloadResult =
  | { readonly outcome: 'applied' | 'unchanged'; readonly fingerprint: string; readonly documents: number; readonly invalid: readonly InvalidDocument[] }
  | { readonly outcome: 'refused'; readonly reason: string };

export interface Documents {
  clientOf(principal: Principal, header: (name: string) => string | undefined): RequestClient;
  /**
   * Refuses a trusted-only client's request unless every operation in it is one of its trusted
   * documents, sent by hash or in full: PERSISTED_QUERY_NOT_FOUND for an unknown hash,
   * OPERATION_NOT_TRUSTED for a document. Open clients pass. Runs before anything is parsed.
   */
  admit(client: RequestClient, operations: readonly unknown[]): void;
  readonly persistedQueries: PersistedQueries;
  /** The schema now served: every trusted document is checked against it and those that no longer validate are reported. */
  setSchema(schema: GraphQLSchema): void;
  /** The documents now trusted, and those of them that do not validate against the schema served. */
  current(): { readonly trusted: TrustedDocuments; readonly invalid: readonly InvalidDocument[] };
  /** Reads the manifests now and, if they changed, swaps them in. Never throws. */
  reload(): Promise<DocumentsReloadResult>;
  /** Starts polling the source (TRUSTED_DOCUMENTS_POLL_MS). */
  start(): void;
  stop(): Promise<void>;
}

/** How many invalid documents one log line names. */
const LOGGED_INVALID = 20;

/** Reads the manifests once (refusing the gateway's start when they cannot be read) and returns the component. */
export async function createDocuments(
  config: GatewayConfig,
  logger: Logger,
  metrics: Pick<GatewayMetrics, 'untrustedOperations' | 'trustedDocuments' | 'trustedDocumentsReloads'>,
  now: () => number,
): Promise<Documents> {
  const { documents: settings } = config;
  const policy: OperationsPolicy = loadOperationsPolicy(settings.policyFile, config.mode);
  const source: ManifestsSource | undefined = settings.source ? createManifestsSource(settings.source) : undefined;
  const limits = { maxDocuments: settings.maxDocuments, maxDocumentBytes: settings.maxDocumentBytes };
  let trusted: TrustedDocuments = NO_TRUSTED_DOCUMENTS;
  if (source) {
    const snapshot = await source.fetch();
    if (snapshot !== 'unchanged') trusted = buildTrustedDocuments(snapshot, limits);
  }
  let schema: GraphQLSchema | undefined;
  let invalid: readonly InvalidDocument[] = [];
  const persistedQueries = createPersistedQueries({ trusted: () => trusted, apq: settings.apq, redis: config.redis, logger, now });

  const report = () => {
    invalid = schema ? invalidDocuments(trusted.manifests, schema) : [];
    const invalidHashes = new Set(invalid.map((d) => d.hash)).size;
    metrics.trustedDocuments.set({ state: 'invalid' }, invalidHashes);
    metrics.trustedDocuments.set({ state: 'valid' }, trusted.size - invalidHashes);
    const withoutManifest = policy.trustedOnly.filter((client) => !trusted.hasManifest(client));
    if (withoutManifest.length) logger.warn({ clients: withoutManifest }, 'trusted-only clients without a manifest: every operation they send is refused');
    if (invalid.length) {
      logger.warn(
        {
          count: invalid.length,
          documents: invalid.slice(0, LOGGED_INVALID).map((d) => ({ client: d.client, version: d.version, hash: d.hash, name: d.name, errors: d.errors.slice(0, 3) })),
        },
        'trusted documents that do not validate against the supergraph served (kept: running one answers its validation errors)',
      );
    }
  };

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let chain: Promise<unknown> = Promise.resolve();
  const attempt = async (): Promise<DocumentsReloadResult> => {
    if (!source) return { outcome: 'unchanged', fingerprint: trusted.fingerprint, documents: trusted.size, invalid };
    let next: TrustedDocuments;
    try {
      const snapshot = await source.fetch();
      if (snapshot === 'unchanged' || snapshot.fingerprint === trusted.fingerprint) return { outcome: 'unchanged', fingerprint: trusted.fingerprint, documents: trusted.size, invalid };
      next = buildTrustedDocuments(snapshot, limits);
    } catch (error) {
      return { outcome: 'refused', reason: (error as Error).message };
    }
    trusted = next;
    report();
    return { outcome: 'applied', fingerprint: trusted.fingerprint, documents: trusted.size, invalid };
  };
  const reload = () => {
    const round = chain.then(async () => {
      const result = await attempt();
      metrics.trustedDocumentsReloads.inc({ outcome: result.outcome });
      if (result.outcome === 'applied') logger.info({ fingerprint: result.fingerprint, documents: result.documents, invalid: result.invalid.length }, 'trusted documents reloaded');
      else if (result.outcome === 'refused') logger.error({ reason: result.reason, serving: trusted.fingerprint }, 'trusted documents refused; the current ones stay');
      return result;
    });
    chain = round.catch(() => undefined);
    return round;
  };

  return {
    clientOf: (principal, header) => requestClient(principal, header, policy),
    admit(client, operations) {
      const refusal = refusalOf(client, operations, trusted);
      if (!refusal) return;
      metrics.untrustedOperations.inc({ code: refusal });
      throw refusalError(refusal);
    },
    persistedQueries,
    setSchema(next) {
      schema = next;
      report();
    },
    current: () => ({ trusted, invalid }),
    reload,
    start() {
      if (!source || settings.pollMs === 0) return;
      const tick = () => {
        if (stopped) return;
        // Each replica polls at a slightly different moment (as for the supergraph).
        timer = setTimeout(() => void reload().finally(tick), Math.max(1, Math.round(settings.pollMs * (0.9 + Math.random() * 0.2))));
        timer.unref();
      };
      tick();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await chain;
      await persistedQueries.close();
    },
  };
}
