import { isInterfaceType, Kind, type ConstDirectiveNode, type DocumentNode, type GraphQLCompositeType, type GraphQLSchema } from 'graphql';
import { argumentsOf, directiveLocalNames } from '../spec-links.js';
import { atOrAbove, CLASSIFICATION_LEVELS, PERSONAL_DATA_KINDS, type Classification, type ClassificationLevel, type PersonalDataKind } from './model.js';

/** Our classification spec, linked and composed like the lifecycle spec's `@sunset`. */
export const CLASSIFICATION_SPEC_URL = 'https://specs.data-product-gateway.dev/classification/';

/** `Type.field` -> its classification. Fields without `@classification` are absent. */
export type ClassificationIndex = ReadonlyMap<string, Classification>;

export const NO_CLASSIFICATIONS: ClassificationIndex = new Map();

export class ClassificationError extends Error {
  override readonly name = 'ClassificationError';
}

/** The local names of `@classification` in this document (imported, renamed with `as:`, or `@classification__classification`). */
export function classificationDirectiveNames(document: DocumentNode): Set<string> {
  return directiveLocalNames(document, CLASSIFICATION_SPEC_URL, 'classification');
}

/**
 * Reads every `@classification` of a subgraph's SDL or of a supergraph. Arguments are enum values;
 * a string with a known value is accepted too (a subgraph that declares them as String), anything
 * else stops the caller with a message naming the coordinate: a field classified wrong must not
 * be served as if it were not classified.
 */
export function indexClassifications(document: DocumentNode): ClassificationIndex {
  const names = classificationDirectiveNames(document);
  const index = new Map<string, Classification>();
  if (names.size === 0) return index;
  for (const definition of document.definitions) {
    switch (definition.kind) {
      case Kind.OBJECT_TYPE_DEFINITION:
      case Kind.OBJECT_TYPE_EXTENSION:
      case Kind.INTERFACE_TYPE_DEFINITION:
      case Kind.INTERFACE_TYPE_EXTENSION:
        for (const field of definition.fields ?? []) {
          const directive = field.directives?.find((d) => names.has(d.name.value));
          if (!directive) continue;
          const coordinate = `${definition.name.value}.${field.name.value}`;
          index.set(coordinate, readClassification(directive, coordinate));
        }
        break;
      default:
        break;
    }
  }
  return index;
}

function readClassification(directive: ConstDirectiveNode, coordinate: string): Classification {
  const args = argumentsOf(directive.arguments);
  const word = (name: string): string | undefined => {
    const value = args.get(name);
    if (value === undefined || value.kind === Kind.NULL) return undefined;
    if (value.kind === Kind.ENUM || value.kind === Kind.STRING) return value.value;
    throw new ClassificationError(`@classification on ${coordinate}: ${name} must be an enum value`);
  };
  const level = word('level');
  if (level === undefined || !isLevel(level)) {
    throw new ClassificationError(`@classification on ${coordinate}: level must be one of ${CLASSIFICATION_LEVELS.join(', ')}, got ${level ?? 'nothing'}`);
  }
  const kind = word('kind');
  if (kind !== undefined && !isKind(kind)) {
    throw new ClassificationError(`@classification on ${coordinate}: kind must be one of ${PERSONAL_DATA_KINDS.join(', ')}, got ${kind}`);
  }
  return Object.freeze({ level, kind });
}

export function isLevel(value: string): value is ClassificationLevel {
  return (CLASSIFICATION_LEVELS as readonly string[]).includes(value);
}

export function isKind(value: string): value is PersonalDataKind {
  return (PERSONAL_DATA_KINDS as readonly string[]).includes(value);
}

/** How the data dictionary shows a classification: `PII (EMAIL)`, or `INTERNAL` without a kind. */
export function describeClassification(classification: Classification): string {
  return classification.kind ? `${classification.level} (${classification.kind})` : classification.level;
}

/**
 * What selecting `Parent.field` reads, in a schema: the field's own classification; through an
 * interface without one of its own, the most sensitive of its implementations' (a kind only when
 * they agree), since the value may come from any of them. Memoized per coordinate.
 */
export function fieldClassifications(schema: GraphQLSchema, index: ClassificationIndex): (parent: GraphQLCompositeType, field: string) => Classification | undefined {
  const memo = new Map<string, Classification | undefined>();
  return (parent, field) => {
    const key = `${parent.name}.${field}`;
    if (memo.has(key)) return memo.get(key);
    let found = index.get(key);
    if (!found && isInterfaceType(parent)) {
      for (const implementation of schema.getPossibleTypes(parent)) {
        const own = index.get(`${implementation.name}.${field}`);
        if (!own) continue;
        if (!found) found = own;
        else {
          const level: ClassificationLevel = atOrAbove(own.level, found.level) ? own.level : found.level;
          found = { level, kind: own.kind === found.kind ? own.kind : undefined };
        }
      }
    }
    memo.set(key, found);
    return found;
  };
}
