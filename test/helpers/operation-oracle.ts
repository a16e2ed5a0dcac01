import {
  getNamedType,
  getNullableType,
  isAbstractType,
  isCompositeType,
  isInterfaceType,
  isListType,
  introspectionTypes,
  isObjectType,
  Lexer,
  parse,
  Source,
  TokenKind,
  TypeInfo,
  validate,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLSchema,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLInterfaceType,
  type GraphQLObjectType,
  type GraphQLOutputType,
} from 'graphql';
import { buildSchema as buildFederationSchema } from '@apollo/federation-internals';
import { fieldDefinition, selectableFields, type MaterializedOperation, type NArgument, type NField, type NSelection } from './operation-arbitraries.js';
import { combineNeeds, satisfies, treatmentOf, TREATED_SHAPES, type AccessFile, type Need, type SupergraphFacts } from './supergraph-facts.js';

/*
 * The expectations of the property tests, computed from the generated operation itself and the
 * human-edited sources (SDL directives, access.yaml, rate-limit numbers), never from the gateway's
 * analysis. Where the gateway may legitimately count differently, these measures are lower bounds
 * (only what executes, fields merged by response key), so "over a limit here" means over it by any
 * reasonable count.
 */

export interface OperationLimits {
  readonly maxCost: number;
  readonly defaultListSize: number;
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxDirectives: number;
  readonly maxTokens: number;
  readonly maxBatch: number;
}

export interface Measures {
  /** Deepest field level, root fields 1; introspection fields count, __typename does not. */
  readonly depth: number;
  /** Aliased response keys (after merging), introspection and __typename included. */
  readonly aliases: number;
  /** Directives applied, counted per use of a fragment, not inside selections @skip/@include drop. */
  readonly directives: number;
  /** Lexical tokens of the document (what graphql-js counts for maxTokens). */
  readonly tokens: number;
  /** Static cost (IBM spec as README states it) of what executes. */
  readonly cost: number;
}

export type Limit = 'depth' | 'aliases' | 'directives' | 'tokens' | 'cost';

type Fragments = MaterializedOperation['fragments'];

export interface Oracle {
  measure(operation: MaterializedOperation): Measures;
  exceeded(measures: Measures): Limit[];
  /** graphql-js's verdict on the document (the gateway validates with the same rules). */
  validationErrors(operation: MaterializedOperation): string[];
  /** Coordinates the operation uses that are past their @sunset at `now`. */
  sunsetUsed(operation: MaterializedOperation, now: number): string[];
  /**
   * Where the response holds a value the role may not read (`leaks`, as `path: coordinate = value`),
   * and how many denied and how many readable protected fields the response answered (coverage).
   */
  authorization(role: string | null, operation: MaterializedOperation, data: unknown): { leaks: string[]; denied: number; readableProtected: number };
  /** Whether the role may read a coordinate (`Type.field`) by the SDL and the YAML. */
  mayRead(role: string | null, coordinate: string): boolean;
  /** Every `Type.field` (objects and interfaces) that needs anything to be read. */
  guardedCoordinates(): string[];
  /**
   * Objects returned inside lists, at every depth (introspection included), in total and by list
   * field; `overPriced`: lists that returned more items than the size the README's rules price
   * them at (to explain a failure, not to decide it).
   */
  listItems(operation: MaterializedOperation, data: unknown): { total: number; byList: Map<string, number>; overPriced: Map<string, { returned: number; priced: number }> };
}

/**
 * @apollo/gateway's query planner carries its own, older, copy of the introspection types: a field
 * graphql-js knows but the planner does not (`__Type.isOneOf`, ...) cannot be served, and a gateway
 * refuses it as invalid. Read here from the planner's library, as the README says.
 */
const plannerIntrospection: ReadonlyMap<string, ReadonlySet<string>> = (() => {
  const planned = buildFederationSchema('type Query { _: Int }');
  const out = new Map<string, Set<string>>();
  for (const type of introspectionTypes) {
    const found = planned.type(type.name);
    const fields = new Set<string>();
    if (found && 'fields' in found) {
      for (const field of found.fields()) {
        fields.add(field.name);
        if ('arguments' in field) for (const argument of field.arguments()) fields.add(`${field.name}(${argument.name}:)`);
      }
    }
    out.set(type.name, fields);
  }
  return out;
})();

/** Introspection fields (and arguments) of a document the planner does not know, as `Type.field` / `Type.field(arg:)`. */
function unplannableIntrospection(schema: GraphQLSchema, document: DocumentNode): string[] {
  const found = new Set<string>();
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const parent = typeInfo.getParentType();
        const fields = parent ? plannerIntrospection.get(parent.name) : undefined;
        if (!fields || node.name.value === '__typename') return;
        if (!fields.has(node.name.value)) found.add(`${parent!.name}.${node.name.value}`);
        for (const argument of node.arguments ?? []) {
          const key = `${node.name.value}(${argument.name.value}:)`;
          if (!fields.has(key)) found.add(`${parent!.name}.${key}`);
        }
      },
    }),
  );
  return [...found];
}

export function createOracle(facts: SupergraphFacts, access: AccessFile, limits: OperationLimits): Oracle {
  const { schema } = facts;

  const concreteTypes = (type: GraphQLCompositeType): readonly GraphQLObjectType[] => (isAbstractType(type) ? schema.getPossibleTypes(type) : [type as GraphQLObjectType]);
  const applies = (condition: string | undefined, object: GraphQLObjectType): boolean => {
    if (!condition || condition === object.name) return true;
    const type = schema.getType(condition);
    return !!type && isAbstractType(type) && schema.isSubType(type, object);
  };
  const included = (selection: NSelection): boolean => selection.directives.every((d) => (d.name === 'skip' ? !d.value : d.value));

  /** GraphQL's CollectFields: what executes on an object of this type, by response key. */
  function collect(selections: readonly NSelection[], object: GraphQLObjectType, fragments: Fragments, out = new Map<string, NField[]>()): Map<string, NField[]> {
    for (const selection of selections) {
      if (!included(selection)) continue;
      if (selection.kind === 'field') {
        const key = selection.alias ?? selection.name;
        out.set(key, [...(out.get(key) ?? []), selection]);
      } else if (selection.kind === 'inline') {
        if (applies(selection.typeCondition, object)) collect(selection.selections, object, fragments, out);
      } else {
        const fragment = fragments.get(selection.name);
        if (fragment && applies(fragment.typeCondition, object)) collect(fragment.selections, object, fragments, out);
      }
    }
    return out;
  }

  const definitionOf = (object: GraphQLObjectType, name: string): GraphQLField<unknown, unknown> => {
    const definition = fieldDefinition(schema, object, name);
    if (!definition) throw new Error(`oracle: ${object.name}.${name} is not in the schema`);
    return definition;
  };
  const subSelections = (fields: readonly NField[]) => fields.flatMap((f) => f.selections ?? []);

  function depthOf(selections: readonly NSelection[], type: GraphQLCompositeType, level: number, fragments: Fragments): number {
    let deepest = 0;
    for (const object of concreteTypes(type)) {
      for (const fields of collect(selections, object, fragments).values()) {
        const name = fields[0]!.name;
        if (name === '__typename') continue;
        deepest = Math.max(deepest, level);
        const named = getNamedType(definitionOf(object, name).type);
        if (isCompositeType(named)) deepest = Math.max(deepest, depthOf(subSelections(fields), named, level + 1, fragments));
      }
    }
    return deepest;
  }

  function aliasesOf(selections: readonly NSelection[], type: GraphQLCompositeType, fragments: Fragments): number {
    let most = 0;
    for (const object of concreteTypes(type)) {
      let count = 0;
      for (const fields of collect(selections, object, fragments).values()) {
        if (fields[0]!.alias) count += 1;
        if (fields[0]!.name === '__typename') continue;
        const named = getNamedType(definitionOf(object, fields[0]!.name).type);
        if (isCompositeType(named)) count += aliasesOf(subSelections(fields), named, fragments);
      }
      most = Math.max(most, count);
    }
    return most;
  }

  function directivesOf(selections: readonly NSelection[], fragments: Fragments): number {
    let count = 0;
    for (const selection of selections) {
      count += selection.directives.length;
      if (!included(selection)) continue;
      if (selection.kind === 'field') count += directivesOf(selection.selections ?? [], fragments);
      else if (selection.kind === 'inline') count += directivesOf(selection.selections, fragments);
      else count += directivesOf(fragments.get(selection.name)?.selections ?? [], fragments);
    }
    return count;
  }

  const numeric = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

  /** A list's size: the largest slicing argument given (or its schema default), else assumedSize, else the default list size. */
  function listSize(definition: GraphQLField<unknown, unknown>, coordinate: string, args: readonly NArgument[]): number {
    const declared = facts.listSizes.get(coordinate);
    const fallback = declared?.assumedSize ?? limits.defaultListSize;
    const values: number[] = [];
    for (const name of declared?.slicingArguments ?? []) {
      const given = numeric(args.find((a) => a.name === name)?.value);
      const schemaDefault = numeric(definition.args.find((a) => a.name === name)?.defaultValue);
      if (given !== undefined) values.push(given);
      else if (schemaDefault !== undefined) values.push(schemaDefault);
    }
    return values.length ? Math.max(0, ...values) : fallback;
  }

  function costOf(selections: readonly NSelection[], type: GraphQLCompositeType, fragments: Fragments, sized?: { fields: readonly string[]; size: number }): number {
    let most = 0;
    for (const object of concreteTypes(type)) {
      let total = 0;
      for (const fields of collect(selections, object, fragments).values()) {
        const first = fields[0]!;
        if (first.name === '__typename') continue;
        const definition = definitionOf(object, first.name);
        const named = getNamedType(definition.type);
        const coordinate = `${object.name}.${first.name}`;
        const weight = facts.fieldWeights.get(coordinate) ?? facts.typeWeights.get(named.name) ?? (isCompositeType(named) ? 1 : 0);
        const argumentWeight = first.args.reduce((sum, a) => sum + (facts.argumentWeights.get(`${coordinate}(${a.name}:)`) ?? 0), 0);
        const declared = facts.listSizes.get(coordinate);
        const size = listSize(definition, coordinate, first.args);
        const childSized = declared?.sizedFields.length ? { fields: declared.sizedFields, size } : undefined;
        const children = isCompositeType(named) ? costOf(subSelections(fields), named, fragments, childSized) : 0;
        const multiplier = sized?.fields.includes(first.name) ? sized.size : declared?.sizedFields.length ? undefined : isListType(getNullableType(definition.type)) ? size : undefined;
        total += argumentWeight + (multiplier === undefined ? weight + children : multiplier * (weight + children));
      }
      most = Math.max(most, total);
    }
    return most;
  }

  function tokensOf(text: string): number {
    const lexer = new Lexer(new Source(text));
    let count = 0;
    while (lexer.advance().kind !== TokenKind.EOF) count += 1;
    return count;
  }

  /** Every field occurrence, executed or not (for sunsets, which the gateway may check statically). */
  function coordinatesOf(selections: readonly NSelection[], type: GraphQLCompositeType, fragments: Fragments, out: Set<string>, seen = new Set<string>()): Set<string> {
    for (const object of concreteTypes(type)) {
      const visit = (list: readonly NSelection[]) => {
        for (const s of list) {
          if (s.kind === 'field') {
            if (s.name === '__typename') continue;
            const definition = fieldDefinition(schema, object, s.name);
            if (!definition) continue; // a field of another member of an abstract type
            out.add(`${object.name}.${s.name}`);
            const named = getNamedType(definition.type);
            if (s.selections && isCompositeType(named)) coordinatesOf(s.selections, named, fragments, out, seen);
          } else if (s.kind === 'inline') {
            if (applies(s.typeCondition, object)) visit(s.selections);
          } else {
            const key = `${s.name}@${object.name}`;
            const fragment = fragments.get(s.name);
            if (fragment && !seen.has(key) && applies(fragment.typeCondition, object)) {
              seen.add(key);
              visit(fragment.selections);
            }
          }
        }
      };
      visit(selections);
    }
    return out;
  }

  /**
   * What reading `Type.field` needs: the field's own rule, its return type's, and its own type's
   * (an object reached through an interface or union, `... on Author`, carries Author's rule to
   * every field selected in it; reached through a field returning it, that field already did).
   * On an interface, every implementation's rule too: that is what selecting it through the
   * interface exposes.
   */
  const needOf = (type: GraphQLObjectType | GraphQLInterfaceType, name: string): Need => {
    const definition = fieldDefinition(schema, type, name);
    const own = combineNeeds(facts.fieldNeeds.get(`${type.name}.${name}`), definition ? facts.typeNeeds.get(getNamedType(definition.type).name) : undefined, facts.typeNeeds.get(type.name));
    if (!isInterfaceType(type)) return own;
    return combineNeeds(own, ...schema.getPossibleTypes(type).map((t) => needOf(t, name)));
  };
  const isGuarded = (need: Need) => need.authenticated || need.scopes.length > 0 || need.policies.length > 0;

  /**
   * The treatment (masked or pseudonymized) the role gets of `Type.field` when it misses the field's
   * own rule but meets the rest (its return type's and its type's), per the YAML's treatments;
   * undefined when the field is not classified or the role gets it denied.
   */
  const treatedFor = (role: string | null, type: GraphQLObjectType, name: string): string | undefined => {
    const classification = facts.classifications.get(`${type.name}.${name}`);
    if (!classification) return undefined;
    const definition = fieldDefinition(schema, type, name);
    const rest = combineNeeds(definition ? facts.typeNeeds.get(getNamedType(definition.type).name) : undefined, facts.typeNeeds.get(type.name));
    if (!satisfies(access, role, rest)) return undefined;
    const treatment = treatmentOf(access, role, classification);
    return treatment === 'masked' || treatment === 'pseudonymized' ? treatment : undefined;
  };

  /**
   * Walks `data` along the operation: `onField` for every executed field of every object (its
   * value, path and coordinate), `onItem` for every object inside a list. An object's concrete
   * type is its static type, or `__typename` (materialize adds it on abstract types).
   */
  function walk(
    operation: MaterializedOperation,
    data: unknown,
    onField: (object: GraphQLObjectType, name: string, value: unknown, path: string, fields: readonly NField[]) => boolean,
    onItem: (list: string) => void,
  ): void {
    /** `list`: the coordinate of the list field this value is an item of. */
    const visitValue = (value: unknown, type: GraphQLOutputType, selections: readonly NSelection[], path: string, coordinate: string, inList: boolean): void => {
      if (value === null || value === undefined) return;
      const t = getNullableType(type);
      if (isListType(t)) {
        if (!Array.isArray(value)) return;
        value.forEach((item, i) => visitValue(item, t.ofType, selections, `${path}.${i}`, coordinate, true));
        return;
      }
      const named = getNamedType(t);
      if (!isCompositeType(named) || typeof value !== 'object') return;
      if (inList) onItem(coordinate);
      const record = value as Record<string, unknown>;
      const object = isAbstractType(named) ? schema.getType(String(record.__typename)) : named;
      if (!object || !('getFields' in object) || isAbstractType(object)) return;
      visitObject(record, object as GraphQLObjectType, selections, path);
    };
    const visitObject = (record: Record<string, unknown>, object: GraphQLObjectType, selections: readonly NSelection[], path: string) => {
      for (const [key, fields] of collect(selections, object, operation.fragments)) {
        const name = fields[0]!.name;
        if (name === '__typename') continue;
        const value = record[key];
        const at = path ? `${path}.${key}` : key;
        if (!onField(object, name, value, at, fields)) continue;
        const definition = definitionOf(object, name);
        if (isCompositeType(getNamedType(definition.type))) visitValue(value, definition.type, subSelections(fields), at, `${object.name}.${name}`, false);
      }
    };
    if (data && typeof data === 'object') visitObject(data as Record<string, unknown>, schema.getQueryType()!, operation.selections, '');
  }

  return {
    measure(operation) {
      const query = schema.getQueryType()!;
      return {
        depth: depthOf(operation.selections, query, 1, operation.fragments),
        aliases: aliasesOf(operation.selections, query, operation.fragments),
        directives: directivesOf(operation.selections, operation.fragments),
        tokens: tokensOf(operation.text),
        cost: costOf(operation.selections, query, operation.fragments),
      };
    },
    exceeded(m) {
      const out: Limit[] = [];
      if (m.depth > limits.maxDepth) out.push('depth');
      if (m.aliases > limits.maxAliases) out.push('aliases');
      if (m.directives > limits.maxDirectives) out.push('directives');
      if (m.tokens > limits.maxTokens) out.push('tokens');
      if (m.cost > limits.maxCost) out.push('cost');
      return out;
    },
    validationErrors(operation) {
      const document = parse(operation.text);
      return [...validate(schema, document).map((e) => e.message), ...unplannableIntrospection(schema, document).map((f) => `${f} is not served by the planner`)];
    },
    sunsetUsed(operation, now) {
      const used = coordinatesOf(operation.selections, schema.getQueryType()!, operation.fragments, new Set());
      return [...used].filter((c) => {
        const sunset = facts.sunsets.get(c);
        return !!sunset && (now >= sunset.from || sunset.brownouts.some(([a, b]) => now >= a && now < b));
      });
    },
    authorization(role, operation, data) {
      const leaks: string[] = [];
      let denied = 0;
      let readableProtected = 0;
      walk(
        operation,
        data,
        (object, name, value, path) => {
          const need = needOf(object, name);
          if (satisfies(access, role, need)) {
            if (isGuarded(need) && value !== null && value !== undefined) readableProtected += 1;
            return true;
          }
          // A classified field the role misses only its own rule for may come back treated, never clear.
          const treatment = treatedFor(role, object, name);
          if (treatment) {
            readableProtected += 1;
            const shape = TREATED_SHAPES[`${treatment}.${facts.classifications.get(`${object.name}.${name}`)?.kind}`] ?? TREATED_SHAPES[treatment]!;
            if (value !== null && value !== undefined && !(typeof value === 'string' && shape.test(value))) leaks.push(`${path}: ${object.name}.${name} (${treatment}) = ${JSON.stringify(value).slice(0, 80)}`);
            return false;
          }
          denied += 1;
          if (value !== null && value !== undefined) leaks.push(`${path}: ${object.name}.${name} = ${JSON.stringify(value).slice(0, 80)}`);
          return false;
        },
        () => {},
      );
      return { leaks, denied, readableProtected };
    },
    mayRead(role, coordinate) {
      const [typeName, fieldName] = coordinate.split('.') as [string, string];
      const type = schema.getType(typeName);
      if (!isObjectType(type) && !isInterfaceType(type)) return satisfies(access, role, combineNeeds(facts.fieldNeeds.get(coordinate), facts.typeNeeds.get(typeName)));
      return satisfies(access, role, needOf(type, fieldName));
    },
    guardedCoordinates() {
      const out: string[] = [];
      for (const type of Object.values(schema.getTypeMap())) {
        if (!isObjectType(type) && !isInterfaceType(type)) continue;
        for (const field of selectableFields(schema, type)) if (isGuarded(needOf(type, field.name))) out.push(`${type.name}.${field.name}`);
      }
      return out;
    },
    listItems(operation, data) {
      const byList = new Map<string, number>();
      const overPriced = new Map<string, { returned: number; priced: number }>();
      let total = 0;
      walk(
        operation,
        data,
        (object, name, value, _path, fields) => {
          const definition = fieldDefinition(schema, object, name);
          if (definition && Array.isArray(value) && isCompositeType(getNamedType(definition.type))) {
            const coordinate = `${object.name}.${name}`;
            const priced = listSize(definition, coordinate, fields[0]!.args);
            const known = overPriced.get(coordinate);
            if (value.length > priced && (!known || value.length > known.returned)) overPriced.set(coordinate, { returned: value.length, priced });
          }
          return true;
        },
        (list) => {
          total += 1;
          byList.set(list, (byList.get(list) ?? 0) + 1);
        },
      );
      return { total, byList, overPriced };
    },
  };
}
