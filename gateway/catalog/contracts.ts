import type { SchemaCatalog } from '../usage/catalog.js';

const ROOT_TYPES: ReadonlySet<string> = new Set(['Query', 'Mutation', 'Subscription']);

/**
 * A product's part of the supergraph served: the root fields it answers and the types it serves
 * fields of (an entity extended by several products is listed for each), from the ownership the
 * supergraph's join directives give (usage/catalog.ts).
 */
export function graphqlContractOf(catalog: SchemaCatalog | undefined, product: string): { rootFields: string[]; types: string[] } {
  const fields = (catalog?.coordinatesOf(product) ?? []).map((e) => e.coordinate).filter((c) => !c.includes('('));
  const rootFields = fields.filter((c) => ROOT_TYPES.has(c.slice(0, c.indexOf('.'))));
  const types = [...new Set(fields.map((c) => c.slice(0, c.indexOf('.'))).filter((t) => !ROOT_TYPES.has(t)))].sort();
  return { rootFields, types };
}
