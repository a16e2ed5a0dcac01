import type { GraphQLError } from 'graphql';
import { requestError } from '../../lib/errors.js';
import type { Principal } from '../../lib/principal.js';
import { clientIdentity } from '../usage/clients.js';
import { sha256Hex } from './manifest.js';
import type { OperationPolicy, OperationsPolicy } from './policy.js';
import type { TrustedDocuments } from './trusted.js';

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

/** The request's client: its token's client id and the policy that id has, the usage label beside them. */
export function requestClient(principal: Principal, header: (name: string) => string | undefined, policy: OperationsPolicy): RequestClient {
  const { name, version } = clientIdentity({ get: header }, principal);
  return { id: principal.kind === 'authenticated' ? principal.clientId : undefined, name, version, policy: policy.policyOf(principal) };
}

/** Why an operation of a trusted-only client is refused, or undefined when it may run. */
export type Refusal = 'PERSISTED_QUERY_NOT_FOUND' | 'OPERATION_NOT_TRUSTED';

/**
 * Safelisting, before anything is parsed: a trusted-only client's operations must each be one of
 * its trusted documents, sent in full (its SHA-256 is in the client's manifests) or by hash (the
 * hash is). An unknown hash is PERSISTED_QUERY_NOT_FOUND, any other document OPERATION_NOT_TRUSTED;
 * a batch passes only whole. Open clients always pass. Anything that is not an operation is left
 * for @apollo/server to refuse as it would.
 */
export function refusalOf(client: RequestClient, operations: readonly unknown[], trusted: TrustedDocuments): Refusal | undefined {
  if (client.policy === 'open') return undefined;
  const trusts = (hash: string) => client.id !== undefined && trusted.trusts(client.id, hash);
  for (const operation of operations) {
    if (operation === null || typeof operation !== 'object') continue;
    const { query, extensions } = operation as { query?: unknown; extensions?: { persistedQuery?: { sha256Hash?: unknown } } };
    if (typeof query === 'string' && query !== '') {
      if (!trusts(sha256Hex(query))) return 'OPERATION_NOT_TRUSTED';
      continue;
    }
    const hash = extensions?.persistedQuery?.sha256Hash;
    if (typeof hash === 'string' && !trusts(hash)) return 'PERSISTED_QUERY_NOT_FOUND';
  }
  return undefined;
}

/** The error a refusal is answered with (thrown from the context: the whole request, its code's status). */
export function refusalError(refusal: Refusal): GraphQLError {
  if (refusal === 'OPERATION_NOT_TRUSTED') {
    return requestError('OPERATION_NOT_TRUSTED', 'This client may run only the documents of its manifest (trusted documents); this one is not among them');
  }
  // As @apollo/server answers an unknown hash: 200 and its message, never cached on the way (a GET's answer could be).
  return requestError('PERSISTED_QUERY_NOT_FOUND', 'PersistedQueryNotFound', {}, { 'cache-control': 'private, no-cache, must-revalidate' });
}
