import { describe, expect, it } from 'vitest';
import { EVENT_DEFINITIONS } from '../lib/events/catalog.js';
import { descriptorFile, loadDescriptor } from '../subgraphs/kit/descriptor.js';
import { dataProducts } from '../subgraphs/products.js';

/*
 * The event streams a product declares in its descriptor (what the catalogue shows as its
 * contracts) are the events it publishes: the subjects and payload schemas of lib/events/catalog.ts,
 * relayed from the product's outbox. A stream declared and never published, or published and never
 * declared, fails here.
 */
describe('event contracts', () => {
  it('each product declares exactly the events it publishes, with the major version its subject carries', () => {
    for (const product of dataProducts) {
      const declared = loadDescriptor(descriptorFile(product.name), { product: product.name }).spec.events;
      const published = EVENT_DEFINITIONS.filter((definition) => definition.product === product.name);
      expect(declared.map((e) => ({ subject: e.subject, name: e.name, major: Number(e.version.split('.')[0]) })), product.name).toEqual(
        published.map((d) => ({ subject: d.subject, name: d.type, major: d.schemaVersion })),
      );
      expect(published.every((d) => d.subject.endsWith(`.v${d.schemaVersion}`)), product.name).toBe(true);
      // Its outbox is relayed only if it publishes something.
      expect(product.publishesEvents === true, product.name).toBe(published.length > 0);
    }
  });
});
