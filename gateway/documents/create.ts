import type { GraphQLSchema } from 'graphql';
import { requestError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Principal } from '../../lib/principal.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import { clientIdentity } from '../usage/clients.js';
import { invalidDocuments, type InvalidDocument } from './check.js';
import { sha256Hex } from './manifest.js';
import { createPersistedQueries, type PersistedQueries } from './persisted-queries.js';
import { loadOperationsPolicy, type OperationPolicy, type OperationsPolicy } from './policy.js';
import { createManifestsSource, type ManifestsSource } from './source.js';
import { buildTrustedDocuments, NO_TRUSTED_DOCUMENTS, type TrustedDocuments } from './trusted.js';

/** Who sends a request, as far as operations go: computed once per request, carried in its context. */
export interface RequestClient {
  /** The token's client id: verified, and what safelisting keys on; undefined for anonymous callers and tokens without one. */
  readonly id: string | undefined;
  /** As usage labels it: the apollographql-client-name header, else the client id (the caller's word: decides nothing). */
  readonly name: string;
  readonly version: string;
  /** What the client may send (policies/operations.yaml). */
  readonly policy: OperationPolicy;
}

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
    clientOf(principal, header) {
      const { name, version } = clientIdentity({ get: header }, principal);
      return { id: principal.kind === 'authenticated' ? principal.clientId : undefined, name, version, policy: policy.policyOf(principal) };
    },
    admit(client, operations) {
      if (client.policy === 'open') return;
      for (const operation of operations) {
        if (operation === null || typeof operation !== 'object') continue; // @apollo/server refuses it as it is
        const { query, extensions } = operation as { query?: unknown; extensions?: { persistedQuery?: { sha256Hash?: unknown } } };
        if (typeof query === 'string' && query !== '') {
          if (client.id === undefined || !trusted.trusts(client.id, sha256Hex(query))) {
            metrics.untrustedOperations.inc({ code: 'OPERATION_NOT_TRUSTED' });
            throw requestError('OPERATION_NOT_TRUSTED', 'This client may run only the documents of its manifest (trusted documents); this one is not among them');
          }
          continue;
        }
        const hash = extensions?.persistedQuery?.sha256Hash;
        if (typeof hash === 'string' && (client.id === undefined || !trusted.trusts(client.id, hash))) {
          metrics.untrustedOperations.inc({ code: 'PERSISTED_QUERY_NOT_FOUND' });
          // As @apollo/server answers an unknown hash: 200, never cached on the way (a GET's answer could be).
          throw requestError('PERSISTED_QUERY_NOT_FOUND', 'PersistedQueryNotFound', {}, { 'cache-control': 'private, no-cache, must-revalidate' });
        }
      }
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
