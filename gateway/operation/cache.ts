import { getOperationAST, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { RequirementIndex } from '../../lib/auth-directives.js';
import { fieldClassifications, NO_CLASSIFICATIONS, type ClassificationIndex } from '../../lib/classification/index.js';
import { requestError } from '../../lib/errors.js';
import { fieldRequirements, NO_REQUIREMENT } from '../../lib/requirements.js';
import type { CostIndex } from './cost.js';
import { analyzeOperation, type OperationAnalysis, type SchemaFacts } from './analysis.js';

/**
 * Facts about an operation, computed once per (document, operation name) and shared by every stage.
 * Every caller passes the name the client asked for (`request.operationName`), so one operation
 * has one entry, and a name the document does not define is refused with
 * OPERATION_RESOLUTION_FAILURE by whichever stage asks first.
 */
export interface OperationFactsCache {
  factsOf(schema: GraphQLSchema, document: DocumentNode, requestedOperationName: string | null | undefined): OperationAnalysis;
}

export function createOperationFactsCache(
  requirements: RequirementIndex,
  cost: CostIndex,
  limits: { defaultListSize: number; maxFields: number },
  classifications: ClassificationIndex = NO_CLASSIFICATIONS,
): OperationFactsCache {
  const bySchema = new WeakMap<GraphQLSchema, SchemaFacts>();
  // Apollo Server reuses one parsed DocumentNode per distinct query text, so the document is the key.
  const byDocument = new WeakMap<DocumentNode, Map<string, OperationAnalysis>>();
  return {
    factsOf(schema, document, operationName) {
      let byOperation = byDocument.get(document);
      if (!byOperation) byDocument.set(document, (byOperation = new Map()));
      const key = operationName ?? '';
      let facts = byOperation.get(key);
      if (facts) return facts;
      let schemaFacts = bySchema.get(schema);
      if (!schemaFacts) {
        schemaFacts = {
          requirements: {
            field: fieldRequirements(schema, requirements),
            type: (name) => requirements.types.get(name) ?? NO_REQUIREMENT,
            classification: classifications.size ? fieldClassifications(schema, classifications) : undefined,
          },
          cost,
          defaultListSize: limits.defaultListSize,
          maxFields: limits.maxFields,
        };
        bySchema.set(schema, schemaFacts);
      }
      const operation = getOperationAST(document, operationName);
      if (!operation) {
        throw requestError(
          'OPERATION_RESOLUTION_FAILURE',
          operationName ? `Unknown operation named "${operationName}"` : 'Must provide operation name if the document contains several operations',
        );
      }
      facts = analyzeOperation(schema, document, operation, schemaFacts);
      byOperation.set(key, facts);
      return facts;
    },
  };
}
