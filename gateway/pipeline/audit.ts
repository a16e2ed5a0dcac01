import { createHash } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import { atOrAbove, type ClassificationLevel } from '../../lib/classification/model.js';
import { activeTracer } from '../../lib/tracing/tracer.js';
import type { OperationState } from '../context.js';
import type { AccessEvent, AuditAccess, AuditOutcome } from '../audit/model.js';
import { operationOutcome } from './outcome.js';
import type { Responding, Stage } from './stage.js';

export interface AuditStageOptions {
  /** Where records go (the audit writer). */
  sink: { append(event: AccessEvent): void };
  /** Fields classified at or above this level are audited. */
  level: ClassificationLevel;
  /** The data product serving a coordinate (the usage catalogue), undefined when unknown. */
  productOf: (coordinate: string) => string | undefined;
  /** A data product's descriptor version now, undefined when it never published one. */
  versionOf: (product: string) => string | undefined;
  /** @default Date.now */
  now?: () => number;
}

/** How an audited operation ended, from what the stages recorded and whether the audited reads were served. */
export function auditOutcome(state: OperationState, response: Responding['response'], accesses: readonly AuditAccess[]): AuditOutcome {
  const outcome = operationOutcome(state, response);
  if (outcome === 'rate_limited') return 'rate_limited';
  if (outcome === 'rejected') return 'denied';
  if (accesses.every((a) => a.treatment === 'denied')) return 'denied';
  if (outcome === 'ok') return 'ok';
  if (outcome === 'forbidden') return 'partial';
  const data = response.body.kind === 'single' ? response.body.singleResult.data : undefined;
  return data ? 'partial' : 'error';
}

/** The W3C trace id of the request's span, when tracing is on. */
function traceIdNow(): string | null {
  if (!activeTracer()) return null;
  const span = trace.getActiveSpan()?.spanContext();
  return span && span.traceId !== '00000000000000000000000000000000' ? span.traceId : null;
}

/**
 * One audit record per operation that read or was refused a field classified at or above the
 * level (authorization lists them in `state.classified`, with the treatment applied). Built here,
 * at `responding`, so the outcome is known; appended to the writer's queue, never awaited.
 */
export function auditStage(options: AuditStageOptions): Stage {
  const now = options.now ?? Date.now;
  return {
    name: 'audit',
    responding({ context, state, request, response, operationName }) {
      const audited = state.classified.filter((access) => atOrAbove(access.classification.level, options.level));
      if (audited.length === 0) return;
      const accesses: AuditAccess[] = audited.map((access) => {
        const product = options.productOf(access.coordinate) ?? null;
        return {
          coordinate: access.coordinate,
          level: access.classification.level,
          kind: access.classification.kind ?? null,
          treatment: access.treatment,
          product,
          productVersion: (product && options.versionOf(product)) ?? null,
        };
      });
      const { principal } = context;
      const { client } = context;
      options.sink.append({
        kind: 'access',
        at: now(),
        principal: {
          issuer: principal.kind === 'authenticated' ? principal.issuer : null,
          subject: principal.kind === 'authenticated' ? principal.subject : null,
          clientName: client.name,
          clientVersion: client.version || null,
          roles: [...principal.roles].sort(),
        },
        operationName: operationName ?? null,
        // Apollo's queryHash is this same digest; computed here only for audited operations.
        documentHash: request.query ? createHash('sha256').update(request.query).digest('hex') : null,
        accesses,
        requestId: context.requestId,
        traceId: traceIdNow(),
        outcome: auditOutcome(state, response, accesses),
      });
    },
  };
}
