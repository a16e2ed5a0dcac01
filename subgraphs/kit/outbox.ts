import type { z } from 'zod';
import type { EventBus } from '../../lib/events/bus.js';
import type { EventDefinition } from '../../lib/events/catalog.js';
import type { Logger } from '../../lib/logger.js';
import type { Db } from './db.js';

/** Outbox rows one relay round publishes at most (the next round takes the rest). */
export const RELAY_BATCH = 200;
/** How often a product's relay looks for unpublished events. @default 250 */
export const DEFAULT_OUTBOX_POLL_MS = 250;

/**
 * The transactional outbox of a product's schema: an event is a row written in the same database
 * transaction as the change it reports, so a change committed is an event stored, and a change
 * rolled back is no event. The relay publishes rows in id order and marks them; it may die between
 * the publish and the mark, and then publishes the row again with the same event id, which the bus
 * stores once (JetStream's duplicate window, the in-process bus's ids). Delivery to the bus is
 * therefore at least once from the database, exactly once in the stream within that window.
 *
 * The table is each publishing product's migration `<17 digits>_event-outbox.sql`.
 *
 * enqueueEvent writes an event to the outbox inside the caller's transaction; a payload its schema
 * refuses throws before anything is written.
 */
export async function enqueueEvent<D extends EventDefinition>(tx: Db, schema: string, definition: D, payload: z.input<D['payload']>): Promise<void> {
  const checked = definition.payload.parse(payload);
  await tx.query(`INSERT INTO ${schema}.event_outbox (subject, type, schema_version, payload) VALUES ($1, $2, $3, $4::jsonb)`, [
    definition.subject,
    definition.type,
    definition.schemaVersion,
    JSON.stringify(checked),
  ]);
}

export interface OutboxRelay {
  /** Publishes every unpublished event now; resolves with how many were published. Rounds never overlap. */
  relayNow(): Promise<number>;
  stop(): Promise<void>;
}

type OutboxRow = { id: string; event_id: string; subject: string; type: string; schema_version: number; payload: Record<string, unknown> };

export function startOutboxRelay(options: { db: Db; schema: string; bus: EventBus; logger: Logger; pollMs?: number }): OutboxRelay {
  const { db, schema, bus, logger } = options;
  let running: Promise<number> = Promise.resolve(0);
  const round = async (): Promise<number> => {
    let published = 0;
    for (;;) {
      const rows = await db.query<OutboxRow>(
        `SELECT id::text AS id, event_id::text AS event_id, subject, type, schema_version, payload FROM ${schema}.event_outbox WHERE published_at IS NULL ORDER BY id LIMIT ${RELAY_BATCH}`,
      );
      for (const row of rows) {
        const payload = typeof row.payload === 'string' ? (JSON.parse(row.payload) as Record<string, unknown>) : row.payload;
        const ack = await bus.publish({ subject: row.subject, id: row.event_id, type: row.type, schemaVersion: row.schema_version, payload });
        await db.query(`UPDATE ${schema}.event_outbox SET published_at = now(), sequence = $2 WHERE id = $1`, [row.id, ack.sequence]);
        published += 1;
      }
      if (rows.length < RELAY_BATCH) return published;
    }
  };
  const relayNow = () => {
    running = running.catch(() => 0).then(round);
    return running;
  };
  const timer = setInterval(() => {
    relayNow().catch((error: unknown) => logger.warn({ err: error, schema }, 'outbox relay failed; retrying on the next round'));
  }, options.pollMs ?? DEFAULT_OUTBOX_POLL_MS);
  timer.unref();
  return {
    relayNow,
    async stop() {
      clearInterval(timer);
      await running.catch(() => 0);
    },
  };
}
