import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { EVENT_PRODUCTS, streamNameOf } from '../../lib/events/catalog.js';

/** The test NATS server (JetStream enabled); CI and this machine run one on loopback. */
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** A namespace of this test file's own: its streams and subjects meet no other file's. */
export function natsNamespace(label: string): string {
  return `t_${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

/** Deletes the namespace's streams (what a test created on the shared server). */
export async function deleteNamespace(namespace: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    for (const product of EVENT_PRODUCTS) {
      await jsm.streams.delete(streamNameOf(product, namespace)).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}
