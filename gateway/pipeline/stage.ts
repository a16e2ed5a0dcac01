import type { GraphQLRequest, GraphQLResponse } from '@apollo/server';
import type { DocumentNode, GraphQLError, GraphQLSchema } from 'graphql';
import type { GatewayContext, OperationState } from '../context.js';

/** A resolved operation, as every stage before execution sees it. */
export interface ResolvedOperation {
  readonly context: GatewayContext;
  readonly state: OperationState;
  readonly schema: GraphQLSchema;
  readonly document: DocumentNode;
  readonly request: GraphQLRequest;
  readonly requestIsBatched: boolean;
}

/** A response about to go out (every operation has one, resolved or not). */
export interface Responding {
  readonly context: GatewayContext;
  readonly state: OperationState;
  readonly request: GraphQLRequest;
  readonly response: GraphQLResponse;
  /** The errors of the response as the server raised them (before formatting); undefined when there are none. */
  readonly errors: readonly GraphQLError[] | undefined;
  readonly operationName: string | null | undefined;
  /** SHA-256 (hex) of the document as Apollo Server computed it (or the persisted query's hash); undefined without a document. */
  readonly queryHash?: string | undefined;
}

/**
 * One concern of the request pipeline (demand control, deprecation, usage, ...). Stages run in the
 * order the pipeline lists them, one after the other: `resolved` once the operation is known and
 * before anything executes (a throw refuses the operation, and later stages' `resolved` do not run);
 * `responding` for every response, refused ones included.
 */
export interface Stage {
  readonly name: string;
  resolved?(operation: ResolvedOperation): void | Promise<void>;
  responding?(response: Responding): void | Promise<void>;
}
