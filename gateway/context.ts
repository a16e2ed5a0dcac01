import type { BaseContext } from '@apollo/server';
import type { Logger } from '../lib/logger.js';
import type { Principal } from '../lib/principal.js';

/** Per-request state: created by the HTTP layer for each request, never shared between requests. */
export interface GatewayContext extends BaseContext {
  readonly requestId: string;
  /** A child logger that stamps every line with the request id. */
  readonly logger: Logger;
  /** Who is asking, authenticated before GraphQL runs. */
  readonly principal: Principal;
  /** The peer address, which budgets anonymous callers. */
  readonly clientAddress: string;
  /**
   * Shared by the operations of one HTTP request (a batch runs them concurrently over one context,
   * shallow-copied): their summed cost, which together may not exceed one operation's maxCost.
   */
  readonly batch: { cost: number };
  /** The identity forwarded to one subgraph (its own audience): signed on first use, then reused by every call of the request to it. */
  identityToken(subgraph: string): Promise<string>;
}

export function isGatewayContext(value: unknown): value is GatewayContext {
  return typeof value === 'object' && value !== null && 'principal' in value && 'identityToken' in value;
}
