import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, visit, type ASTNode } from 'graphql';
import { composeProducts, composeToFile, SUPERGRAPH_PATH } from '../scripts/compose.js';
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

  it('npm run compose writes the supergraph when every subgraph composes and passes the schema lint', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'dpg-compose-')), 'supergraph.graphql');
    const run = composeToFile(out);
    expect(run).toEqual({ exitCode: 0, stderr: [], stdout: [`compose: wrote ${out}`] });
    expect(readFileSync(out, 'utf8')).toBe(composeProducts().supergraphSdl);
  });

  it('npm run compose refuses to write a supergraph whose subgraphs have lint problems, listing each by file and coordinate', () => {
    const product = readFileSync(new URL('../schema/product.graphql', import.meta.url), 'utf8');
    // Today's main: Query.product and the Product type without a rule, Query.products unsized.
    const unguarded = product
      .replace('): Product @authenticated', '): Product')
      .replace('type Product @key(fields: "sku") @authenticated {', 'type Product @key(fields: "sku") {')
      .replace('@authenticated @listSize(slicingArguments: ["first"], assumedSize: 20, requireOneSlicingArgument: false)', '@authenticated');
    expect(unguarded).not.toBe(product);
    const out = join(mkdtempSync(join(tmpdir(), 'dpg-compose-')), 'supergraph.graphql');
    const run = composeToFile(out, { product: unguarded });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toEqual([]);
    expect(run.stderr).toEqual([
      expect.stringMatching(/^schema\/product\.graphql: Query\.product: no access rule: .* \[ACCESS_UNCOVERED\]$/),
      expect.stringMatching(/^schema\/product\.graphql: Query\.products: takes "first" but declares no @listSize.* \[LIST_SIZE_MISSING\]$/),
      ...['name', 'category', 'price'].map((f) => expect.stringMatching(new RegExp(`^schema/product\\.graphql: Product\\.${f}: no access rule, and Product is an entity .* \\[ACCESS_UNCOVERED\\]$`))),
      `compose: 5 schema lint problem(s); ${out} left unchanged`,
    ]);
    expect(existsSync(out)).toBe(false);
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
