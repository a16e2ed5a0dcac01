import type { OperationAnalysis } from '../operation/analysis.js';
import { MAX_NAME_LENGTH } from './clients.js';
import { ANONYMOUS_OPERATION, OPERATION_OVERFLOW } from './model.js';

/** An operation as usage counts it: its name and the SHA-256 (hex) of its document. */
export interface OperationLabel {
  readonly name: string;
  readonly hash: string;
}

export const OVERFLOW_OPERATION: OperationLabel = Object.freeze({ name: OPERATION_OVERFLOW, hash: '' });

/** Apollo Server's `queryHash` is this digest (SHA-256, hex), as trusted documents and APQ name a document. */
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The label of an operation, computed once per analysed document (the analysis is cached per
 * document and operation name) and reused by every request that sends it: the request path pays
 * a WeakMap lookup. The hash is Apollo Server's `queryHash`, which it computed anyway (or the
 * persisted query's hash it verified); a name longer than MAX_NAME_LENGTH is cut.
 */
export function createOperationLabeler(): (analysis: OperationAnalysis, queryHash: string | undefined) => OperationLabel | undefined {
  const labels = new WeakMap<OperationAnalysis, OperationLabel>();
  return (analysis, queryHash) => {
    if (!queryHash || !SHA256_HEX.test(queryHash)) return undefined;
    const known = labels.get(analysis);
    if (known?.hash === queryHash) return known;
    const label = Object.freeze({ name: (analysis.operation.name?.value ?? ANONYMOUS_OPERATION).slice(0, MAX_NAME_LENGTH), hash: queryHash });
    labels.set(analysis, label);
    return label;
  };
}

/** Why an operation counted under OPERATION_OVERFLOW. */
export interface OperationOverflow {
  readonly product: string;
}

/**
 * Operation labels are keys of the usage store, kept for the whole retention: their number must
 * not be the caller's to choose (a caller can send millions of distinct documents). Per hour and
 * product, at most `maxPerHour` distinct operations are counted under their own label; later ones
 * count as OVERFLOW_OPERATION. The set of one hour is dropped when the next begins, so this holds
 * at most products x maxPerHour keys.
 */
export function createOperationCap(options: { maxPerHour: number; onOverflow?: (overflow: OperationOverflow) => void }): (hour: number, product: string, operation: OperationLabel) => OperationLabel {
  let current = -1;
  let seen = new Map<string, Set<string>>();
  return (hour, product, operation) => {
    if (hour !== current) {
      current = hour;
      seen = new Map();
    }
    let labels = seen.get(product);
    if (!labels) seen.set(product, (labels = new Set()));
    const key = `${operation.name}\t${operation.hash}`;
    if (labels.has(key)) return operation;
    if (labels.size < options.maxPerHour) {
      labels.add(key);
      return operation;
    }
    options.onOverflow?.({ product });
    return OVERFLOW_OPERATION;
  };
}
