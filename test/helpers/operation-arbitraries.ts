import fc from 'fast-check';
import {
  getNamedType,
  getNullableType,
  GraphQLBoolean,
  GraphQLNonNull,
  isAbstractType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  parse,
  SchemaMetaFieldDef,
  specifiedScalarTypes,
  TypeMetaFieldDef,
  validate,
  type GraphQLArgument,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';

/*
 * Operations generated from a schema, any schema: every selectable field, argument and type is
 * found by walking the schema, argument values come from the types and from the examples the data
 * dictionary gives in backticks (`C000042`, `2024-03-15`), so a field added tomorrow is generated
 * tomorrow. The generated value is a small intermediate form (OperationIR); `materialize` names
 * aliases, variables and fragments and prints the document.
 */

// ---------------------------------------------------------------- intermediate form

/** How an argument or directive value reaches the server: written in the document, a variable, or a variable's default. */
export type Via = 'literal' | 'variable' | 'default';

/** A value nested `depth` levels deep (lists or objects): written into the request body as text, never built in memory. */
export class DeepValue {
  constructor(
    readonly shape: 'list' | 'object',
    readonly depth: number,
  ) {}
  text(): string {
    return this.shape === 'list' ? `${'['.repeat(this.depth)}"x"${']'.repeat(this.depth)}` : `${'{"a":'.repeat(this.depth)}1${'}'.repeat(this.depth)}`;
  }
  literal(): string {
    return this.shape === 'list' ? `${'['.repeat(this.depth)}"x"${']'.repeat(this.depth)}` : `${'{a: '.repeat(this.depth)}1${'}'.repeat(this.depth)}`;
  }
}

export interface ArgumentIR {
  readonly name: string;
  readonly value: unknown;
  readonly via: Via;
}

export interface DirectiveIR {
  readonly name: 'skip' | 'include';
  readonly value: boolean;
  readonly via: Via;
}

export interface FieldIR {
  readonly kind: 'field';
  readonly name: string;
  readonly aliased: boolean;
  readonly args: readonly ArgumentIR[];
  readonly directives: readonly DirectiveIR[];
  readonly selections: readonly SelectionIR[] | undefined;
}

export interface InlineFragmentIR {
  readonly kind: 'inline';
  readonly typeCondition: string | undefined;
  readonly directives: readonly DirectiveIR[];
  readonly selections: readonly SelectionIR[];
}

/** A spread of fragment number `fragment` of the operation's fragment pool. */
export interface SpreadIR {
  readonly kind: 'spread';
  readonly fragment: number;
  readonly directives: readonly DirectiveIR[];
}

export type SelectionIR = FieldIR | InlineFragmentIR | SpreadIR;

export interface FragmentIR {
  readonly typeCondition: string;
  readonly selections: readonly SelectionIR[];
}

export interface OperationIR {
  /** Fragment i may spread fragments j < i only (no cycles). Unused ones are not printed. */
  readonly fragments: readonly FragmentIR[];
  readonly selections: readonly SelectionIR[];
  /** Variables sent that the operation does not declare. */
  readonly extraVariables: Readonly<Record<string, unknown>>;
}

/** What the generated request should get, besides the properties every request must keep. */
export type Intent =
  /** Valid input. */
  | 'valid'
  /** A variable or literal value its type refuses: the answer is an input error, nothing else. */
  | 'invalid-input'
  /** Hostile nesting in values: refused as input or, when the server may ignore it, served. */
  | 'hostile';

export interface GeneratedOperation {
  readonly mode: string;
  readonly intent: Intent;
  readonly operation: OperationIR;
}

// ---------------------------------------------------------------- materialized (named, printed)

export interface NArgument {
  readonly name: string;
  readonly value: unknown;
  /** The variable carrying the value, when not a literal. */
  readonly variable: string | undefined;
}

export interface NDirective {
  readonly name: 'skip' | 'include';
  readonly value: boolean;
  readonly variable: string | undefined;
}

export interface NField {
  readonly kind: 'field';
  readonly name: string;
  readonly alias: string | undefined;
  readonly args: readonly NArgument[];
  readonly directives: readonly NDirective[];
  readonly selections: readonly NSelection[] | undefined;
}

export interface NInline {
  readonly kind: 'inline';
  readonly typeCondition: string | undefined;
  readonly directives: readonly NDirective[];
  readonly selections: readonly NSelection[];
}

export interface NSpread {
  readonly kind: 'spread';
  readonly name: string;
  readonly directives: readonly NDirective[];
}

export type NSelection = NField | NInline | NSpread;

export interface MaterializedOperation {
  readonly text: string;
  /** As sent; may hold DeepValue markers (see requestBodyText). */
  readonly variables: Readonly<Record<string, unknown>>;
  readonly operationName: string | undefined;
  readonly selections: readonly NSelection[];
  readonly fragments: ReadonlyMap<string, { readonly typeCondition: string; readonly selections: readonly NSelection[] }>;
}

/** Fields of a composite type as a client may select them: the schema's plus the root meta fields. */
export function selectableFields(schema: GraphQLSchema, type: GraphQLCompositeType): readonly GraphQLField<unknown, unknown>[] {
  if (isUnionType(type)) return [];
  const own = Object.values(type.getFields());
  return type === schema.getQueryType() ? [...own, SchemaMetaFieldDef, TypeMetaFieldDef] : own;
}

export function fieldDefinition(schema: GraphQLSchema, type: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined {
  return selectableFields(schema, type).find((f) => f.name === name);
}

/**
 * Names aliases (`alN`), variables (`vN`) and fragments (`FN`), and prints the document. Two
 * selections answering under the same key must be mergeable (same field, same arguments): an
 * unaliased field whose arguments differ from an earlier unaliased occurrence of the same
 * coordinate anywhere in the operation gets an alias too. Every selection set on an abstract type
 * gets `__typename`, so that a response can be read against the operation.
 */
export function materialize(schema: GraphQLSchema, ir: OperationIR, operationName?: string): MaterializedOperation {
  let aliasCount = 0;
  let variableCount = 0;
  const definitions: string[] = [];
  const variables: Record<string, unknown> = { ...ir.extraVariables };
  const canonicalArguments = new Map<string, string>();
  const fragments = new Map<string, { typeCondition: string; selections: NSelection[] }>();
  const fragmentText = new Map<string, string>();

  const bind = (type: GraphQLInputType, value: unknown, via: Via): { text: string; variable: string | undefined } => {
    if (via === 'literal') return { text: printLiteral(value, type), variable: undefined };
    const name = `v${++variableCount}`;
    if (via === 'variable') {
      definitions.push(`$${name}: ${String(type)}`);
      variables[name] = value;
    } else {
      // Declared nullable with a default and not sent: the default is what the server must use.
      definitions.push(`$${name}: ${String(getNullableType(type))} = ${printLiteral(value, type)}`);
    }
    return { text: `$${name}`, variable: name };
  };
  const directivesOf = (list: readonly DirectiveIR[]): { text: string; nodes: NDirective[] } => {
    const nodes: NDirective[] = [];
    let text = '';
    for (const d of list) {
      const bound = bind(new GraphQLNonNull(GraphQLBoolean), d.value, d.via);
      text += ` @${d.name}(if: ${bound.text})`;
      nodes.push({ name: d.name, value: d.value, variable: bound.variable });
    }
    return { text, nodes };
  };

  const selectionSet = (type: GraphQLCompositeType, list: readonly SelectionIR[], pool: readonly FragmentIR[]): { text: string; nodes: NSelection[] } => {
    const nodes: NSelection[] = [];
    const parts: string[] = [];
    if (isAbstractType(type)) {
      nodes.push({ kind: 'field', name: '__typename', alias: undefined, args: [], directives: [], selections: undefined });
      parts.push('__typename');
    }
    for (const selection of list) {
      if (selection.kind === 'field') {
        const definition = fieldDefinition(schema, type, selection.name);
        if (!definition && selection.name !== '__typename') throw new Error(`generator bug: ${type.name}.${selection.name} does not exist`);
        const args: NArgument[] = [];
        const argTexts: string[] = [];
        for (const a of selection.args) {
          const argDef = definition!.args.find((x) => x.name === a.name);
          if (!argDef) throw new Error(`generator bug: ${type.name}.${selection.name}(${a.name}:) does not exist`);
          const bound = bind(argDef.type, a.value, a.via);
          args.push({ name: a.name, value: a.value, variable: bound.variable });
          argTexts.push(`${a.name}: ${bound.text}`);
        }
        const argsText = argTexts.length ? `(${argTexts.join(', ')})` : '';
        const coordinate = `${type.name}.${selection.name}`;
        let alias: string | undefined;
        if (selection.aliased) alias = `al${++aliasCount}`;
        else if (canonicalArguments.has(coordinate) && canonicalArguments.get(coordinate) !== argsText) alias = `al${++aliasCount}`;
        else canonicalArguments.set(coordinate, argsText);
        const directives = directivesOf(selection.directives);
        let sub: { text: string; nodes: NSelection[] } | undefined;
        if (selection.selections) {
          const named = getNamedType(definition!.type);
          if (!isCompositeType(named)) throw new Error(`generator bug: selections under leaf ${coordinate}`);
          sub = selectionSet(named, selection.selections, pool);
        }
        nodes.push({ kind: 'field', name: selection.name, alias, args, directives: directives.nodes, selections: sub?.nodes });
        parts.push(`${alias ? `${alias}: ` : ''}${selection.name}${argsText}${directives.text}${sub ? ` { ${sub.text} }` : ''}`);
      } else if (selection.kind === 'inline') {
        const target = selection.typeCondition ? (schema.getType(selection.typeCondition) as GraphQLCompositeType) : type;
        const directives = directivesOf(selection.directives);
        const sub = selectionSet(target, selection.selections, pool);
        nodes.push({ kind: 'inline', typeCondition: selection.typeCondition, directives: directives.nodes, selections: sub.nodes });
        parts.push(`...${selection.typeCondition ? ` on ${selection.typeCondition}` : ''}${directives.text} { ${sub.text} }`);
      } else {
        const name = `F${selection.fragment}`;
        const fragment = pool[selection.fragment];
        if (!fragment) throw new Error(`generator bug: no fragment ${selection.fragment}`);
        if (!fragments.has(name)) {
          const target = schema.getType(fragment.typeCondition) as GraphQLCompositeType;
          const placeholder = { typeCondition: fragment.typeCondition, selections: [] as NSelection[] };
          fragments.set(name, placeholder);
          const sub = selectionSet(target, fragment.selections, pool);
          placeholder.selections = sub.nodes;
          fragmentText.set(name, `fragment ${name} on ${fragment.typeCondition} { ${sub.text} }`);
        }
        const directives = directivesOf(selection.directives);
        nodes.push({ kind: 'spread', name, directives: directives.nodes });
        parts.push(`...${name}${directives.text}`);
      }
    }
    return { text: parts.join(' '), nodes };
  };

  const root = selectionSet(schema.getQueryType()!, ir.selections, ir.fragments);
  const head = definitions.length || operationName ? `query ${operationName ?? 'Props'}${definitions.length ? `(${definitions.join(', ')})` : ''} ` : '';
  const text = [`${head}{ ${root.text} }`, ...fragmentText.values()].join('\n');
  return { text, variables, operationName: head ? (operationName ?? 'Props') : undefined, selections: root.nodes, fragments };
}

/** A value as a GraphQL literal of `type` (enum values bare, everything else as JSON would write it). */
export function printLiteral(value: unknown, type: GraphQLInputType): string {
  if (value instanceof DeepValue) return value.literal();
  if (value === null || value === undefined) return 'null';
  const t = getNullableType(type);
  if (isListType(t)) return Array.isArray(value) ? `[${value.map((v) => printLiteral(v, t.ofType)).join(', ')}]` : printLiteral(value, t.ofType);
  if (isInputObjectType(t) && typeof value === 'object' && !Array.isArray(value)) {
    const fields = t.getFields();
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}: ${printLiteral(v, fields[k]?.type ?? t)}`)
      .join(', ')}}`;
  }
  if (isEnumType(t) && typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map((v) => printLiteral(v, t)).join(', ')}]`;
  if (typeof value === 'object') return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k}: ${printLiteral(v, t)}`).join(', ')}}`;
  return JSON.stringify(value);
}

/** The JSON body text for a request: DeepValue markers are spliced in as text (too deep for JSON.stringify). */
export function requestBodyText(payload: unknown): string {
  const deep: DeepValue[] = [];
  const text = JSON.stringify(payload, (_key, value: unknown) => {
    if (value instanceof DeepValue) {
      deep.push(value);
      return `\u0000deep${deep.length - 1}\u0000`;
    }
    return value;
  });
  return text.replace(/"\\u0000deep(\d+)\\u0000"/g, (_m, i: string) => deep[Number(i)]!.text());
}

/** Throws when the generator made a document the schema refuses: that would be this test's bug, not the gateway's. */
export function assertValidDocument(schema: GraphQLSchema, text: string): void {
  const errors = validate(schema, parse(text));
  if (errors.length) throw new Error(`generator bug: invalid document (${errors.map((e) => e.message).join('; ')}):\n${text}`);
}

// ---------------------------------------------------------------- arbitraries

/** The limits the edge-seeking modes aim at: operations just under, at and just over each. */
export interface GeneratorLimits {
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxDirectives: number;
  readonly maxTokens: number;
}

const BUILT_IN_SCALARS = new Set(specifiedScalarTypes.map((t) => t.name));

/**
 * The examples the data dictionary gives for a value of this argument or input field: what its
 * description (or its custom scalar's) shows after "for example", in backticks. Other backticked
 * text names other things (`after`) or placeholders (`YYYY-MM-DD`).
 */
function examplesOf(description: string | null | undefined, named: GraphQLNamedType): string[] {
  // Built-in scalars describe GraphQL itself (`ID` shows `"4"`), not this schema's values.
  const texts = [description ?? '', BUILT_IN_SCALARS.has(named.name) ? '' : (named.description ?? '')];
  const out = new Set<string>();
  for (const text of texts) {
    for (const m of text.matchAll(/for example,?\s+((?:`[^`]+`(?:,\s*|\s+or\s+|\s+and\s+)?)+)/g)) {
      for (const e of m[1]!.matchAll(/`([^`]+)`/g)) out.add(e[1]!);
    }
  }
  return [...out];
}

const smallInt = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 5 }) },
  { weight: 3, arbitrary: fc.integer({ min: 6, max: 30 }) },
  { weight: 1, arbitrary: fc.integer({ min: 31, max: 100 }) },
  // Out of the documented range: the data products refuse these with BAD_USER_INPUT.
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 101) },
);
const largeInt = fc.integer({ min: 20, max: 100 });

type IntFlavour = 'random' | 'one' | 'large';

/**
 * Values of an input type. Ids: the dictionary's example with other numbers of the same width
 * (`C000042` -> `C000007`), so that most of them exist in the seeded data and some do not.
 */
function valueArb(type: GraphQLInputType, description: string | null | undefined, ints: IntFlavour, depth = 0): fc.Arbitrary<unknown> {
  const nullable = !isNonNullType(type);
  const inner = innerValueArb(getNullableType(type) as GraphQLInputType, description, ints, depth);
  return nullable && ints === 'random' ? fc.oneof({ weight: 12, arbitrary: inner }, { weight: 1, arbitrary: fc.constant(null) }) : inner;
}

function innerValueArb(type: GraphQLInputType, description: string | null | undefined, ints: IntFlavour, depth: number): fc.Arbitrary<unknown> {
  if (isListType(type)) return fc.array(valueArb(type.ofType, description, ints, depth + 1), { maxLength: 3 });
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    if (depth > 2) return fc.constant({});
    const entries = fields.map((f) => {
      const v = valueArb(f.type, f.description, ints, depth + 1);
      return isNonNullType(f.type) ? v.map((x) => [f.name, x] as const) : fc.option(v.map((x) => [f.name, x] as const), { freq: 2, nil: undefined });
    });
    return fc.tuple(...entries).map((pairs) => Object.fromEntries(pairs.filter((p): p is readonly [string, unknown] => p !== undefined)));
  }
  if (isEnumType(type)) return fc.constantFrom(...type.getValues().map((v) => v.name));
  switch (type.name) {
    case 'Int':
      return ints === 'one' ? fc.constant(1) : ints === 'large' ? largeInt : smallInt;
    case 'Float':
      return fc.double({ min: 0, max: 1000, noNaN: true, noDefaultInfinity: true });
    case 'Boolean':
      return fc.boolean();
  }
  const examples = examplesOf(description, type);
  const variants = examples.map((e) => {
    const m = /^(.*?)(\d+)$/.exec(e);
    if (!m || BUILT_IN_SCALARS.has(type.name) === false) return fc.constant(e);
    const width = m[2]!.length;
    return fc.integer({ min: 1, max: 80 }).map((n) => `${m[1]}${String(n).padStart(width, '0')}`);
  });
  // A custom scalar takes only what its dictionary shows; plain strings also something unknown.
  if (!BUILT_IN_SCALARS.has(type.name)) return variants.length ? fc.oneof(...variants) : fc.constant('2024-03-15');
  return fc.oneof({ weight: 4, arbitrary: variants.length ? fc.oneof(...variants) : fc.constantFrom('x', 'unknown') }, { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 8 }) });
}

const viaArb: fc.Arbitrary<Via> = fc.constantFrom<Via>('literal', 'literal', 'variable', 'default');

const directivesArb: fc.Arbitrary<readonly DirectiveIR[]> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<readonly DirectiveIR[]>([]) },
  {
    weight: 2,
    arbitrary: fc.subarray(['skip', 'include'] as const, { minLength: 1 }).chain((names) =>
      fc.tuple(
        ...names.map((name) =>
          // Mostly the value that keeps the selection, so that what is selected is also answered.
          fc.record({ name: fc.constant(name), value: fc.oneof({ weight: 3, arbitrary: fc.constant(name === 'include') }, { weight: 1, arbitrary: fc.constant(name !== 'include') }), via: viaArb }),
        ),
      ).map((ds): readonly DirectiveIR[] => ds),
    ),
  },
);

export interface OperationArbitraries {
  /** Operations from a mix of modes, by weight (see MODES). */
  readonly operation: (weights: Partial<Record<Mode, number>>) => fc.Arbitrary<GeneratedOperation>;
}

export const MODES = ['random', 'targeted', 'costly', 'deep', 'aliases', 'directives', 'tokens', 'introspection', 'invalid-input', 'hostile'] as const;
export type Mode = (typeof MODES)[number];

export interface Focus {
  /** How much more often to pick a field (`Type.field` -> weight, default 1). */
  readonly emphasis?: (coordinate: string) => number;
  /** For the `targeted` mode: coordinates to reach, and the fields a path to them may go through. */
  readonly targets?: { readonly coordinates: readonly string[]; readonly through: (coordinate: string) => boolean };
}

/**
 * @param focus what a property is about (the protected fields, say), so that it sees more of it.
 */
export function operationArbitraries(schema: GraphQLSchema, limits: GeneratorLimits, focus: Focus = {}): OperationArbitraries {
  const emphasis = focus.emphasis ?? (() => 1);
  const query = schema.getQueryType()!;
  const typeNames = Object.keys(schema.getTypeMap());
  const isComposite = (f: GraphQLField<unknown, unknown>) => isCompositeType(getNamedType(f.type));

  /** reach[type][d]: a selection set `d` levels deep (counting leaves, not __typename) can start at this type. */
  const reachMemo = new Map<string, boolean>();
  const reaches = (type: GraphQLCompositeType, d: number): boolean => {
    const key = `${type.name}:${d}`;
    const known = reachMemo.get(key);
    if (known !== undefined) return known;
    reachMemo.set(key, false); // cycles: not through itself at the same depth
    const types = isAbstractType(type) ? schema.getPossibleTypes(type) : [type];
    const value = types.some((t) =>
      d <= 1 ? selectableFields(schema, t).some((f) => !isComposite(f)) : selectableFields(schema, t).some((f) => isComposite(f) && reaches(getNamedType(f.type) as GraphQLCompositeType, d - 1)),
    );
    reachMemo.set(key, value);
    return value;
  };

  const argsArb = (field: GraphQLField<unknown, unknown>, ints: IntFlavour): fc.Arbitrary<ArgumentIR[]> => {
    // __type(name:) asks for a type by name: the schema's names, and one that does not exist.
    if (field === TypeMetaFieldDef) return fc.record({ name: fc.constant('name'), value: fc.constantFrom<unknown>(...typeNames, 'NoSuchType'), via: viaArb }).map((a) => [a]);
    const parts = field.args.map((arg) => {
      const one = fc.record({ name: fc.constant(arg.name), value: valueArb(arg.type, arg.description, ints), via: viaArb });
      const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
      // Cheap and costly paths state their list sizes instead of leaving them to schema defaults.
      if (required || (ints !== 'random' && getNamedType(arg.type).name === 'Int')) return one;
      // Optional arguments now and then (on cheap and costly paths, which are about data, rarely):
      // made-up values (an `after` id, a filter) mostly end in an input error or an empty page.
      return fc.oneof({ weight: ints === 'random' ? 3 : 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: one });
    });
    return fc.tuple(...parts).map((xs) => xs.filter((x): x is ArgumentIR => x !== undefined));
  };

  /** Inline fragment targets for a selection on `type`: itself, nothing, an implementation or member. */
  const conditionsFor = (type: GraphQLCompositeType): (string | undefined)[] =>
    isAbstractType(type) ? [type.name, ...schema.getPossibleTypes(type).map((t) => t.name)] : [type.name, undefined];

  function build(pool: readonly FragmentIR[], ints: IntFlavour) {
    const memo = new Map<string, fc.Arbitrary<SelectionIR[]>>();
    const selections = (type: GraphQLCompositeType, d: number): fc.Arbitrary<SelectionIR[]> => {
      const key = `${type.name}:${d}`;
      const known = memo.get(key);
      if (known) return known;
      const fields = selectableFields(schema, type);
      const leaf = (name: string) =>
        fc.record({ kind: fc.constant('field' as const), name: fc.constant(name), aliased: aliasedArb, args: fc.constant([]), directives: directivesArb, selections: fc.constant(undefined) }).chain(withLeafArgs(type));
      // Every field equally likely (times its emphasis), composite ones only while depth remains.
      const choices = [
        ...fields.filter((f) => !isComposite(f) || d >= 2).map((f) => ({ weight: emphasis(`${type.name}.${f.name}`), arbitrary: isComposite(f) ? fieldArb(f, d) : leaf(f.name) })),
        { weight: 1, arbitrary: leaf('__typename') },
      ];
      const options: fc.WeightedArbitrary<SelectionIR>[] = [{ weight: 7, arbitrary: fc.oneof(...choices) }];
      if (d >= 2) {
        options.push({
          weight: 1,
          arbitrary: fc.constantFrom(...conditionsFor(type)).chain((condition) =>
            fc.record({
              kind: fc.constant('inline' as const),
              typeCondition: fc.constant(condition),
              directives: directivesArb,
              selections: selections(condition ? (schema.getType(condition) as GraphQLCompositeType) : type, d - 1),
            }),
          ),
        });
      }
      const spreadable = pool.flatMap((f, i) => (f.typeCondition === type.name ? [i] : []));
      if (spreadable.length) {
        options.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('spread' as const), fragment: fc.constantFrom(...spreadable), directives: directivesArb }) });
      }
      const arb = fc.array(fc.oneof(...options), { minLength: 1, maxLength: 3 });
      memo.set(key, arb);
      return arb;
    };
    const withLeafArgs = (type: GraphQLCompositeType) => (f: FieldIR): fc.Arbitrary<FieldIR> => {
      const definition = fieldDefinition(schema, type, f.name);
      if (!definition || definition.args.length === 0) return fc.constant(f);
      return argsArb(definition, ints).map((args) => ({ ...f, args }));
    };
    const fieldArb = (f: GraphQLField<unknown, unknown>, d: number): fc.Arbitrary<FieldIR> =>
      fc.record({
        kind: fc.constant('field' as const),
        name: fc.constant(f.name),
        aliased: aliasedArb,
        args: argsArb(f, ints),
        directives: directivesArb,
        selections: selections(getNamedType(f.type) as GraphQLCompositeType, d - 1),
      });
    return { selections, fieldArb };
  }

  const aliasedArb = fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

  /** Fragment types worth having: the root and what it returns directly, so that spreads get used. */
  const poolTypes = [query, ...selectableFields(schema, query).map((f) => getNamedType(f.type)).filter((t): t is GraphQLCompositeType => isCompositeType(t))];
  const uniquePoolTypes = [...new Map(poolTypes.map((t) => [t.name, t])).values()];

  const poolArb = (size: number, ints: IntFlavour): fc.Arbitrary<FragmentIR[]> =>
    size === 0
      ? fc.constant([])
      : poolArb(size - 1, ints).chain((prefix) =>
          fc.constantFrom(...uniquePoolTypes).chain((type) => build(prefix, ints).selections(type, 2).map((sel) => [...prefix, { typeCondition: type.name, selections: sel }])),
        );

  const randomOperation = (ints: IntFlavour, maxDepth: number): fc.Arbitrary<OperationIR> =>
    fc.integer({ min: 0, max: 3 }).chain((size) =>
      poolArb(size, ints).chain((pool) =>
        fc.integer({ min: 2, max: maxDepth }).chain((d) => build(pool, ints).selections(query, d).map((selections) => ({ fragments: pool, selections, extraVariables: {} }))),
      ),
    );

  /**
   * One path down from the root, `depth` field levels including the leaf. Cheap: list sizes 1,
   * single objects preferred (depth without cost). Costly: large list sizes, lists preferred.
   */
  const chain = (type: GraphQLCompositeType, depth: number, flavour: 'cheap' | 'costly' = 'cheap'): fc.Arbitrary<SelectionIR[]> => {
    const ints: IntFlavour = flavour === 'cheap' ? 'one' : 'large';
    const concrete = isAbstractType(type) ? schema.getPossibleTypes(type) : [type as GraphQLObjectType];
    return fc.constantFrom(...concrete.filter((t) => reaches(t, depth))).chain((t) => {
      const fields = selectableFields(schema, t);
      if (depth <= 1) {
        return fc.constantFrom(...fields.filter((f) => !isComposite(f))).chain((f) =>
          argsArb(f, ints).map((args): SelectionIR[] => {
            const field: FieldIR = { kind: 'field', name: f.name, aliased: false, args, directives: [], selections: undefined };
            return isAbstractType(type) ? [{ kind: 'inline', typeCondition: t.name, directives: [], selections: [field] }] : [field];
          }),
        );
      }
      const next = fields.filter((f) => isComposite(f) && reaches(getNamedType(f.type) as GraphQLCompositeType, depth - 1));
      // Prefer single objects: a path through lists multiplies its cost, and depth should be reachable without cost.
      const weighted = next.map((f) => ({ weight: isListType(getNullableType(f.type)) === (flavour === 'costly') ? 3 : 1, arbitrary: fc.constant(f) }));
      return fc.oneof(...weighted).chain((f) =>
        fc.tuple(argsArb(f, ints), chain(getNamedType(f.type) as GraphQLCompositeType, depth - 1, flavour), fc.constantFrom('none', 'typed', 'untyped')).map(([args, sub, wrap]): SelectionIR[] => {
          const field: FieldIR = { kind: 'field', name: f.name, aliased: false, args, directives: [], selections: sub };
          // On an abstract type a concrete type's field needs its type condition; elsewhere wrapping is optional.
          if (isAbstractType(type) || wrap === 'typed') return [{ kind: 'inline', typeCondition: t.name, directives: [], selections: [field] }];
          return wrap === 'untyped' ? [{ kind: 'inline', typeCondition: undefined, directives: [], selections: [field] }] : [field];
        }),
      );
    });
  };

  /** A short path (0 or 1 levels) to a type, then `make(type)` inside it. */
  const container = (make: (type: GraphQLObjectType) => fc.Arbitrary<SelectionIR[]>): fc.Arbitrary<SelectionIR[]> => {
    const objectFields = selectableFields(schema, query).filter((f) => isObjectType(getNamedType(f.type)));
    return fc.oneof(
      make(query),
      fc.constantFrom(...objectFields).chain((f) =>
        fc.tuple(argsArb(f, 'one'), make(getNamedType(f.type) as GraphQLObjectType)).map(([args, inner]): SelectionIR[] => [{ kind: 'field', name: f.name, aliased: false, args, directives: [], selections: inner }]),
      ),
    );
  };
  const leafOf = (type: GraphQLObjectType) => fc.constantFrom(...[...selectableFields(schema, type).filter((f) => !isComposite(f) && f.args.every((a) => !isNonNullType(a.type))).map((f) => f.name), '__typename']);
  const around = (limit: number, below = 3, above = 3) => fc.integer({ min: Math.max(0, limit - below), max: limit + above });
  const op = (selections: fc.Arbitrary<SelectionIR[]>): fc.Arbitrary<OperationIR> => selections.map((s) => ({ fragments: [], selections: s, extraVariables: {} }));

  /**
   * Shortest paths from the root through fields `through` allows: for each type, the fields (with
   * their parent type) that reach it in the fewest steps.
   */
  const shortestParents = new Map<string, { parent: GraphQLObjectType; field: GraphQLField<unknown, unknown> }[]>();
  if (focus.targets) {
    const distance = new Map<string, number>([[query.name, 0]]);
    let frontier: GraphQLObjectType[] = [query];
    while (frontier.length) {
      const next: GraphQLObjectType[] = [];
      for (const parent of frontier) {
        for (const field of selectableFields(schema, parent)) {
          const named = getNamedType(field.type);
          if (!isCompositeType(named) || !focus.targets.through(`${parent.name}.${field.name}`)) continue;
          // Through an interface or union, each of its object types is one step away (`... on`).
          for (const reached of isAbstractType(named) ? schema.getPossibleTypes(named) : [named as GraphQLObjectType]) {
            const d = distance.get(parent.name)! + 1;
            if (!distance.has(reached.name)) {
              distance.set(reached.name, d);
              next.push(reached);
            }
            if (distance.get(reached.name) === d) shortestParents.set(reached.name, [...(shortestParents.get(reached.name) ?? []), { parent, field }]);
          }
        }
      }
      frontier = next;
    }
  }
  const reachable = (focus.targets?.coordinates ?? []).filter((c) => {
    const type = c.split('.')[0]!;
    return type === query.name || shortestParents.has(type);
  });

  /** `inner` (selections on `type`) placed at the end of a shortest allowed path from the root. */
  const pathTo = (type: GraphQLObjectType, inner: fc.Arbitrary<SelectionIR[]>): fc.Arbitrary<SelectionIR[]> => {
    if (type === query) return inner;
    const parents = shortestParents.get(type.name)!;
    return fc.constantFrom(...parents).chain(({ parent, field }) =>
      pathTo(
        parent,
        fc.tuple(argsArb(field, 'one'), inner).map(([args, selections]): SelectionIR[] => [
          {
            kind: 'field',
            name: field.name,
            aliased: false,
            args,
            directives: [],
            selections: getNamedType(field.type) === type ? selections : [{ kind: 'inline', typeCondition: type.name, directives: [], selections }],
          },
        ]),
      ),
    );
  };

  /** One target field, the way a client might hide it: aliased, in an inline fragment, under @include, next to ordinary fields. */
  const targeted = (): fc.Arbitrary<OperationIR> =>
    fc.constantFrom(...reachable).chain((coordinate) => {
      const [typeName, fieldName] = coordinate.split('.') as [string, string];
      const type = schema.getType(typeName) as GraphQLObjectType;
      const field = fieldDefinition(schema, type, fieldName)!;
      const named = getNamedType(field.type);
      const sub = isCompositeType(named) ? build([], 'one').selections(named, 2) : fc.constant(undefined);
      const target = fc
        .record({ args: argsArb(field, 'one'), selections: sub, aliased: fc.boolean(), directives: fc.constantFrom<readonly DirectiveIR[]>([], [{ name: 'include', value: true, via: 'variable' }], [{ name: 'skip', value: false, via: 'default' }]) })
        .map(({ args, selections, aliased, directives }): FieldIR => ({ kind: 'field', name: fieldName, aliased, args, directives, selections }));
      const sibling = fc.constantFrom(...selectableFields(schema, type).filter((f) => !isComposite(f) && f.args.length === 0).map((f) => f.name), '__typename');
      const inner = fc.tuple(target, sibling, fc.constantFrom('plain', 'inline', 'untyped', 'fragment')).map(([t, other, wrap]): { selections: SelectionIR[]; fragments: FragmentIR[] } => {
        const mine: SelectionIR[] = [{ kind: 'field', name: other, aliased: false, args: [], directives: [], selections: undefined }, t];
        if (wrap === 'plain') return { selections: mine, fragments: [] };
        if (wrap === 'fragment') return { selections: [{ kind: 'spread', fragment: 0, directives: [] }], fragments: [{ typeCondition: type.name, selections: mine }] };
        return { selections: [{ kind: 'inline', typeCondition: wrap === 'inline' ? type.name : undefined, directives: [], selections: mine }], fragments: [] };
      });
      return inner.chain(({ selections, fragments }) => pathTo(type, fc.constant(selections)).map((path) => ({ fragments, selections: path, extraVariables: {} })));
    });

  const byMode: Record<Mode, fc.Arbitrary<GeneratedOperation>> = {
    random: randomOperation('random', 5).map((operation) => ({ mode: 'random', intent: 'valid', operation })),
    targeted: reachable.length ? targeted().map((operation) => ({ mode: 'targeted', intent: 'valid', operation })) : randomOperation('random', 3).map((operation) => ({ mode: 'targeted', intent: 'valid', operation })),
    costly: fc
      .oneof(
        randomOperation('large', 5),
        // A few list-heavy paths side by side: the cost adds up across them and multiplies down each.
        op(fc.array(fc.integer({ min: 3, max: 6 }).chain((d) => chain(query, d, 'costly')), { minLength: 1, maxLength: 4 }).map((paths) => paths.flat())),
      )
      .map((operation) => ({ mode: 'costly', intent: 'valid', operation })),
    deep: around(limits.maxDepth, 2, 3)
      .filter((d) => d >= 1 && reaches(query, d))
      .chain((d) => op(chain(query, d)))
      .map((operation) => ({ mode: 'deep', intent: 'valid', operation })),
    aliases: around(limits.maxAliases)
      .chain((n) => op(container((t) => leafOf(t).map((name) => Array.from({ length: Math.max(1, n) }, (): SelectionIR => ({ kind: 'field', name, aliased: n > 0, args: [], directives: [], selections: undefined }))))))
      .map((operation) => ({ mode: 'aliases', intent: 'valid', operation })),
    directives: fc
      .tuple(around(limits.maxDirectives), fc.boolean())
      .chain(([n, viaFragment]) =>
        container((t) =>
          leafOf(t).map((name): SelectionIR[] => {
            const leaves = Array.from({ length: Math.max(1, n) }, (_, i): SelectionIR => ({ kind: 'field', name, aliased: false, args: [], directives: [{ name: i % 2 ? 'skip' : 'include', value: i % 2 === 1 ? false : true, via: 'literal' }], selections: undefined }));
            // Through a fragment spread twice, every directive inside counts twice.
            return viaFragment ? [{ kind: 'inline', typeCondition: t.name, directives: [], selections: leaves.slice(0, Math.ceil(leaves.length / 2)) }, { kind: 'inline', typeCondition: t.name, directives: [], selections: leaves.slice(0, Math.ceil(leaves.length / 2)) }] : leaves;
          }),
        ).map((selections) => ({ fragments: [], selections, extraVariables: {} })),
      )
      .map((operation) => ({ mode: 'directives', intent: 'valid', operation })),
    tokens: around(limits.maxTokens, 15, 15)
      .chain((n) => op(container((t) => leafOf(t).map((name) => Array.from({ length: Math.max(1, n - 8) }, (): SelectionIR => ({ kind: 'field', name, aliased: false, args: [], directives: [], selections: undefined }))))))
      .map((operation) => ({ mode: 'tokens', intent: 'valid', operation })),
    introspection: fc
      .tuple(fc.integer({ min: 1, max: limits.maxAliases + 5 }), fc.constantFrom(SchemaMetaFieldDef, TypeMetaFieldDef), fc.integer({ min: 2, max: 5 }))
      .chain(([copies, meta, d]) =>
        build([], 'random')
          .fieldArb(meta, d)
          .chain((field) => fc.integer({ min: 0, max: 2 }).chain((extra) => randomOperation('random', 3).map((rest) => ({ field, extra, rest }))))
          .map(({ field, extra, rest }) => ({
            fragments: rest.fragments,
            // Copies of one introspection selection (aliased from the second on), some ordinary fields beside.
            selections: [...Array.from({ length: copies }, (_, i): SelectionIR => ({ ...field, aliased: i > 0 })), ...rest.selections.slice(0, extra)],
            extraVariables: {},
          })),
      )
      .map((operation) => ({ mode: 'introspection', intent: 'valid', operation })),
    'invalid-input': invalidInput(),
    hostile: hostile(),
  };

  /** Root fields and the arguments (direct, or input object fields one level down) that hold a value of a given kind. */
  function rootArgumentSlots(accept: (t: GraphQLNamedType) => boolean): { field: GraphQLField<unknown, unknown>; arg: GraphQLArgument; inputField: string | undefined }[] {
    const out: { field: GraphQLField<unknown, unknown>; arg: GraphQLArgument; inputField: string | undefined }[] = [];
    for (const field of selectableFields(schema, query)) {
      if (field.name.startsWith('__')) continue;
      for (const arg of field.args) {
        const named = getNamedType(arg.type);
        if (isListType(getNullableType(arg.type))) continue;
        if (accept(named)) out.push({ field, arg, inputField: undefined });
        if (isInputObjectType(named)) for (const f of Object.values(named.getFields())) if (accept(getNamedType(f.type)) && !isListType(getNullableType(f.type))) out.push({ field, arg, inputField: f.name });
      }
    }
    return out;
  }

  /** A small valid selection on a field's type, for the modes that are about arguments. */
  const smallSelection = (field: GraphQLField<unknown, unknown>): fc.Arbitrary<SelectionIR[] | undefined> => {
    const named = getNamedType(field.type);
    return isCompositeType(named) ? build([], 'one').selections(named, 1) : fc.constant(undefined);
  };

  /** Required arguments besides the one under test, valid. */
  const otherArgs = (field: GraphQLField<unknown, unknown>, except: string): fc.Arbitrary<ArgumentIR[]> =>
    fc.tuple(...field.args.filter((a) => a.name !== except && isNonNullType(a.type) && a.defaultValue === undefined).map((a) => valueArb(a.type, a.description, 'one').map((value): ArgumentIR => ({ name: a.name, value, via: 'literal' })))).map((xs) => [...xs]);

  function withValue(slot: { field: GraphQLField<unknown, unknown>; arg: GraphQLArgument; inputField: string | undefined }, value: unknown, via: Via): fc.Arbitrary<OperationIR> {
    // An input object field is bound as part of the object: {field: value}.
    const argValue = slot.inputField ? { [slot.inputField]: value } : value;
    return fc.tuple(otherArgs(slot.field, slot.arg.name), smallSelection(slot.field)).map(([others, selections]) => ({
      fragments: [],
      selections: [{ kind: 'field', name: slot.field.name, aliased: false, args: [...others, { name: slot.arg.name, value: argValue, via }], directives: [], selections }],
      extraVariables: {},
    }));
  }

  /** Without an argument to spoil, an ordinary operation (valid). */
  const nothingToSpoil = (mode: Mode) => randomOperation('random', 3).map((operation): GeneratedOperation => ({ mode, intent: 'valid', operation }));

  function invalidInput(): fc.Arbitrary<GeneratedOperation> {
    const ints = rootArgumentSlots((t) => t.name === 'Int');
    const customs = rootArgumentSlots((t) => isScalarType(t) && !BUILT_IN_SCALARS.has(t.name));
    const options: fc.Arbitrary<OperationIR>[] = [];
    if (ints.length) {
      // Not a 32-bit integer, or not an integer at all: GraphQL's Int refuses each of these.
      const bad = fc.constantFrom<unknown>(2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1e21, 2.5, '10', true, [1], { n: 1 });
      options.push(fc.tuple(fc.constantFrom(...ints), bad).chain(([slot, value]) => withValue(slot, value, 'variable')));
    }
    if (customs.length) {
      const bad = fc.constantFrom<unknown>('yesterday', '2024-13-45', '', 'not a date', 42, ['2024-03-15'], { at: '2024-03-15' });
      options.push(fc.tuple(fc.constantFrom(...customs), bad, fc.constantFrom<Via>('literal', 'variable')).chain(([slot, value, via]) => withValue(slot, value, via)));
    }
    return options.length ? fc.oneof(...options).map((operation): GeneratedOperation => ({ mode: 'invalid-input', intent: 'invalid-input', operation })) : nothingToSpoil('invalid-input');
  }

  function hostile(): fc.Arbitrary<GeneratedOperation> {
    const slots = rootArgumentSlots((t) => isLeafType(t) && t.name !== 'Boolean');
    const customs = rootArgumentSlots((t) => isScalarType(t) && !BUILT_IN_SCALARS.has(t.name));
    const deep = fc.record({ shape: fc.constantFrom<'list' | 'object'>('list', 'object'), depth: fc.constantFrom(1_000, 5_000, 12_000) }).map(({ shape, depth }) => new DeepValue(shape, depth));
    const options: fc.Arbitrary<GeneratedOperation>[] = [
      // Sent but not declared: nothing reads it, the operation is answered as usual.
      fc.tuple(randomOperation('random', 3), deep).map(([operation, value]) => ({ mode: 'hostile', intent: 'valid', operation: { ...operation, extraVariables: { unused: value } } })),
    ];
    if (slots.length) {
      // Declared and used: the value's type refuses it.
      options.push(fc.tuple(fc.constantFrom(...slots), deep).chain(([slot, value]) => withValue(slot, value, 'variable')).map((operation) => ({ mode: 'hostile', intent: 'hostile', operation })));
    }
    if (customs.length) {
      // Written into the document for a custom scalar: the gateway cannot check it, the data product must refuse it.
      // Shallow on purpose: @apollo/federation-internals' collectVariablesInValue walks a list twice per
      // level (2^depth); at 30 levels one request keeps the gateway busy for minutes (see the report).
      options.push(fc.tuple(fc.constantFrom(...customs), fc.integer({ min: 2, max: 12 })).chain(([slot, depth]) => withValue(slot, new DeepValue('list', depth), 'literal')).map((operation) => ({ mode: 'hostile', intent: 'hostile', operation })));
    }
    return fc.oneof(...options);
  }

  return {
    operation: (weights) => {
      const weighted = MODES.filter((m) => (weights[m] ?? 0) > 0).map((m) => ({ weight: weights[m]!, arbitrary: byMode[m] }));
      return fc.oneof(...weighted);
    },
  };
}
