import type { BaseContext } from '@apollo/server';
import type { Logger } from '../lib/logger.js';

/** Per-request state: created by the HTTP layer for each request, never shared between requests. */
export interface GatewayContext extends BaseContext {
  readonly requestId: string;
  /** A child logger that stamps every line with the request id. */
  readonly logger: Logger;
}
