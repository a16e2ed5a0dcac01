import type { GraphQLSchema } from 'graphql';
import type { RequirementIndex } from '../../lib/auth-directives.js';
import { fieldClassifications, type ClassificationIndex } from '../../lib/classification/index.js';
import type { AccessPolicies } from '../../lib/policies.js';
import type { Principal } from '../../lib/principal.js';
import { fieldRequirements, NO_REQUIREMENT } from '../../lib/requirements.js';
import { grantSetOf } from '../execution/key.js';
import type { RequirementLookup } from '../operation/authorization.js';
import { grantedSchema } from './granted-schema.js';
import { schemaAccess } from './schema-access.js';

/**
 * Distinct grant sets whose views are kept. A view of our supergraph is a few hundred kB and takes
 * a few milliseconds to build; grant sets are few (roles combine into a handful), so 64 holds
 * every one in practice while bounding what a flood of odd scope sets can pin.
 */
export const DEFAULT_MAX_INTROSPECTION_VIEWS = 64;

export interface IntrospectionViewsOptions {
  /** The supergraph's authorization directives. */
  readonly requirements: RequirementIndex;
  /** The supergraph's `@classification`s (treatments make classified fields readable). */
  readonly classifications: ClassificationIndex;
  readonly policies: AccessPolicies;
  /** Views kept, least recently used first out. @default DEFAULT_MAX_INTROSPECTION_VIEWS */
  readonly maxEntries?: number;
}

/** The schema each caller's introspection is answered from (`INTROSPECTION_VIEW=granted`). */
export interface IntrospectionViews {
  /** The API schema served, at load and at every reload: views are built afresh from it. */
  update(apiSchema: GraphQLSchema): void;
  /** The caller's view: one per grant set, built on first use; undefined before a schema is loaded. */
  viewOf(principal: Principal): GraphQLSchema | undefined;
  /** Views held now (at most `maxEntries`). */
  readonly size: number;
}

export function createIntrospectionViews(options: IntrospectionViewsOptions): IntrospectionViews {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_INTROSPECTION_VIEWS;
  let current: { schema: GraphQLSchema; lookup: RequirementLookup } | undefined;
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  const views = new Map<string, GraphQLSchema>();
  return {
    update(apiSchema) {
      views.clear();
      current = {
        schema: apiSchema,
        lookup: {
          field: fieldRequirements(apiSchema, options.requirements),
          type: (name) => options.requirements.types.get(name) ?? NO_REQUIREMENT,
          classification: fieldClassifications(apiSchema, options.classifications),
        },
      };
    },
    viewOf(principal) {
      if (!current) return undefined;
      // Two callers with equal grants may read exactly the same fields (execution/key.ts).
      const key = grantSetOf(principal);
      let view = views.get(key);
      if (view) views.delete(key);
      else view = grantedSchema(current.schema, schemaAccess(current.lookup, principal, options.policies));
      views.set(key, view);
      if (views.size > maxEntries) views.delete(views.keys().next().value as string);
      return view;
    },
    get size() {
      return views.size;
    },
  };
}
