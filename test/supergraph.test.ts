import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, visit, type ASTNode } from 'graphql';
import { composeProducts, SUPERGRAPH_PATH } from '../scripts/compose.js';
import { PRODUCT_NAMES } from '../subgraphs/kit/data-product.js';

describe('schema/ (the data contracts)', () => {
  it('composes without errors and the checked-in supergraph is current (run `npm run compose`)', () => {
    const result = composeProducts();
    expect(result.errors).toEqual([]);
    expect(readFileSync(SUPERGRAPH_PATH, 'utf8')).toBe(result.supergraphSdl);
  });

  it('reports composition errors instead of writing a broken supergraph', () => {
    const broken = composeProducts({ product: 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"]) type Product @key(fields: "sku") { sku: Int! }' });
    expect(result(broken)).toEqual({ hasSupergraph: false, hasErrors: true });
  });

  it.each(PRODUCT_NAMES)('%s: every type, field, argument and enum value has a description (the data dictionary)', (name) => {
    const doc = parse(readFileSync(new URL(`../schema/${name}.graphql`, import.meta.url), 'utf8'));
    const missing: string[] = [];
    const check = (node: ASTNode & { description?: { value: string } | undefined; name: { value: string } }, where: string) => {
      if (!node.description?.value.trim()) missing.push(where);
    };
    visit(doc, {
      ObjectTypeDefinition: (n) => check(n, n.name.value),
      InputObjectTypeDefinition: (n) => check(n, n.name.value),
      EnumTypeDefinition: (n) => check(n, n.name.value),
      ScalarTypeDefinition: (n) => check(n, n.name.value),
      InterfaceTypeDefinition: (n) => check(n, n.name.value),
      UnionTypeDefinition: (n) => check(n, n.name.value),
      FieldDefinition: (n) => check(n, `field ${n.name.value}`),
      InputValueDefinition: (n) => check(n, `argument/input ${n.name.value}`),
      EnumValueDefinition: (n) => check(n, `enum value ${n.name.value}`),
    });
    expect(missing).toEqual([]);
  });
});

function result(r: ReturnType<typeof composeProducts>) {
  return { hasSupergraph: r.supergraphSdl !== undefined, hasErrors: r.errors.length > 0 };
}
