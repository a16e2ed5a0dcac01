import { readFileSync } from 'node:fs';
import { Supergraph } from '@apollo/federation-internals';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createReach } from '../gateway/execution/reach.js';
import { createOperationFactsCache } from '../gateway/operation/cache.js';
import { indexCost } from '../gateway/operation/cost.js';
import { indexRequirements } from '../lib/auth-directives.js';
import { indexClassifications } from '../lib/classification/index.js';
import { atOrAbove } from '../lib/classification/model.js';
import { SUPERGRAPH_FILE } from './helpers/stack.js';

/*
 * What an operation reaches, for sharing its answer: which products, and whether the answer is
 * bound to one subject. Personal data is bound by its classification as well as by the scopes that
 * guard it, so a field classified PII that an owner guards with some other scope is never shared
 * across subjects.
 */
const sdl = readFileSync(SUPERGRAPH_FILE, 'utf8');
const supergraph = parse(sdl);
const schema = Supergraph.build(sdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
const facts = createOperationFactsCache(indexRequirements(supergraph), indexCost(supergraph), { defaultListSize: 10, maxFields: 2000 }, indexClassifications(supergraph));
const analysisOf = (query: string) => facts.factsOf(schema, parse(query), undefined);
const personalFields = new Set([...indexClassifications(supergraph)].filter(([, c]) => atOrAbove(c.level, 'PII')).map(([coordinate]) => coordinate));

describe('reach', () => {
  it('binds personal data to its subject by classification even when no personal-data scope is configured', () => {
    const byClassification = createReach(supergraph, { personalDataScopes: new Set(), subjectBoundSubgraphs: new Set(), personalFields });
    const byScopeOnly = createReach(supergraph, { personalDataScopes: new Set(), subjectBoundSubgraphs: new Set() });
    const emails = analysisOf('{ customers(first: 2) { id mail: email } }');
    expect(byClassification(emails)).toEqual({ products: new Set(['customer']), subjectBound: true });
    // The control: without classifications and without scopes nothing would bind it.
    expect(byScopeOnly(emails)).toEqual({ products: new Set(['customer']), subjectBound: false });
    // Inside a fragment on a nested entity, too.
    const nested = analysisOf('{ transactions(first: 1) { id customer { ...C } } } fragment C on Customer { phone }');
    expect(byClassification(nested).subjectBound).toBe(true);
  });

  it('leaves an operation without personal data shareable across subjects', () => {
    const reach = createReach(supergraph, { personalDataScopes: new Set(['customer:pii']), subjectBoundSubgraphs: new Set(['platform']), personalFields });
    expect(reach(analysisOf('{ customers(first: 2) { id country segments { name } } }'))).toEqual({ products: new Set(['customer']), subjectBound: false });
    expect(reach(analysisOf('{ dataProducts(first: 1) { name } }'))).toEqual({ products: new Set(['platform']), subjectBound: true });
  });
});
