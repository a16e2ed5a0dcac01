import type { FormattedExecutionResult } from 'graphql';

/**
 * The JSON of answers shared by several callers, written once. Callers joined to one execution
 * (share.ts) receive the very same `data` object when nothing writes into it; a large answer
 * serialized once per caller was the biggest cost of a shared request (a profile of the public
 * benchmark's query put 12% of the gateway's time in Apollo Server's JSON.stringify). Keyed by
 * object identity in a WeakMap: an entry lives as long as the answer it serializes.
 */
export interface SharedJson {
  /** Marks an answer's data as delivered to several callers: its JSON is then kept for the next of them. */
  markShared(data: unknown): void;
  /** Apollo Server's `stringifyResult`: byte for byte what it writes by default (`JSON.stringify(result) + '\n'`). */
  stringifyResult(result: FormattedExecutionResult): string;
  /** The UTF-8 bytes of a response body: of a shared body encoded once for all its callers. */
  encodeBody(body: string): Buffer;
}

/** Shared bodies whose bytes are kept, the most recent first; a body is compared by length first, so a lookup rarely reads one. */
const RECENT_BODIES = 8;
/** A larger body is encoded per caller (its bytes are not kept). */
const MAX_KEPT_BODY_CHARS = 4 * 1024 * 1024;

export function createSharedJson(): SharedJson {
  /** A shared answer's data -> its JSON, and the whole body when the answer is its data alone (the common case), once written. */
  const written = new WeakMap<object, { json?: string; body?: string }>();
  const recent: { body: string; bytes: Buffer | undefined }[] = [];
  const remember = (body: string) => {
    if (body.length > MAX_KEPT_BODY_CHARS || recent.some((entry) => entry.body.length === body.length && entry.body === body)) return;
    recent.unshift({ body, bytes: undefined });
    recent.length = Math.min(recent.length, RECENT_BODIES);
  };
  return {
    markShared(data) {
      if (typeof data === 'object' && data !== null && !written.has(data)) written.set(data, {});
    },
    stringifyResult(result) {
      const data = result.data;
      const kept = typeof data === 'object' && data !== null ? written.get(data) : undefined;
      if (!kept) return `${JSON.stringify(result)}\n`;
      kept.json ??= JSON.stringify(data);
      // Apollo Server orders the members as errors, data, extensions, those it lacks undefined.
      const keys = Object.keys(result).filter((key) => (result as Record<string, unknown>)[key] !== undefined);
      // The same string for every caller: flattened once, and its bytes encoded once (encodeBody).
      if (keys.length === 1) {
        if (kept.body === undefined) remember((kept.body = `{"data":${kept.json}}\n`));
        return kept.body;
      }
      // The members in the result's own order, each as JSON.stringify writes it (undefined ones left out).
      const members: string[] = [];
      for (const key of keys) {
        const member = key === 'data' ? kept.json : (JSON.stringify((result as Record<string, unknown>)[key]) as string | undefined);
        // A function or symbol value: JSON.stringify leaves the member out.
        if (member !== undefined) members.push(`${JSON.stringify(key)}:${member}`);
      }
      return `{${members.join(',')}}\n`;
    },
    encodeBody(body) {
      for (const entry of recent) {
        // Equal lengths first: an unshared body of another length costs nothing here.
        if (entry.body.length === body.length && entry.body === body) return (entry.bytes ??= Buffer.from(body, 'utf8'));
      }
      return Buffer.from(body, 'utf8');
    },
  };
}
