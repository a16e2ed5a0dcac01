import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { booleanDefaultsOf, guardedFieldsOf, type GuardedField, type RequirementLookup } from './authorization.js';
import { coordinatesOf, type Coordinates } from './coordinates.js';
import type { CostIndex, CostNode } from './cost.js';
import { costPlanOf } from './cost-plan.js';
import { inlineFragments } from './inline.js';
import { structureOf, type Structure } from './structure.js';

/** What the analysis needs from the supergraph (and the limits it enforces while inlining). */
export interface SchemaFacts {
  readonly requirements: RequirementLookup;
  readonly cost: CostIndex;
  /** Size assumed for a list with neither a slicing argument nor `@listSize(assumedSize:)`. */
  readonly defaultListSize: number;
  /** Most field selections an operation may have once its fragments are expanded. */
  readonly maxFields: number;
}

/**
 * Everything the stages of a request need to know about an operation, computed once per
 * (document, operation name) and shared: structural limits, cost, authorization, usage and
 * deprecation all read it, nobody walks the document again.
 */
export interface OperationAnalysis extends Structure, Coordinates {
  /** The operation with every fragment spread inlined: one AST node per selection in context. */
  readonly operation: OperationDefinitionNode;
  /** The static cost plan; evaluate per request with `evaluateCost`. */
  readonly cost: readonly CostNode[];
  readonly guarded: readonly GuardedField[];
  /** Boolean defaults of the operation's variables, for @skip/@include on omitted variables. */
  readonly variableDefaults: ReadonlyMap<string, boolean>;
  /** Filtered variants already built, by the set of denied field ids (enforcement's cache). */
  readonly filtered: Map<string, unknown>;
  /** Treatment plans already built, by the set of treated field ids and treatments (enforcement's cache). */
  readonly treatments: Map<string, unknown>;
}

/**
 * Inlines the operation's fragments once (bounded by `maxFields`: OperationTooLargeError past it),
 * then runs one small pass per concern over the result.
 */
export function analyzeOperation(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, facts: SchemaFacts): OperationAnalysis {
  const inlined = inlineFragments(document, operation, facts.maxFields);
  return {
    ...structureOf(inlined),
    ...coordinatesOf(schema, inlined),
    operation: inlined,
    cost: costPlanOf(schema, inlined, facts.cost, facts.defaultListSize),
    guarded: guardedFieldsOf(schema, inlined, facts.requirements),
    variableDefaults: booleanDefaultsOf(operation),
    filtered: new Map(),
    treatments: new Map(),
  };
}
