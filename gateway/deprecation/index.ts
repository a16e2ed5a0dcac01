import { Kind, type ConstDirectiveNode, type DocumentNode, type GraphQLSchema, isInterfaceType, isObjectType } from 'graphql';
import { directiveLocalNames } from '../../lib/spec-links.js';

/** The lifecycle spec our products use for @sunset (composed into the supergraph with @composeDirective). */
export const LIFECYCLE_SPEC = 'https://specs.data-product-gateway.dev/lifecycle/';

export interface Sunset {
  /** When it became deprecated. */
  readonly since: Date;
  /** From when operations using it are refused. */
  readonly date: Date;
  readonly removedIn: string;
  readonly replacement: string | undefined;
  readonly brownouts: readonly { readonly start: Date; readonly end: Date }[];
}

export interface Deprecation {
  readonly coordinate: string;
  readonly reason: string;
  readonly sunset: Sunset | undefined;
}

/** Every deprecated field and argument of the API schema, with its @sunset plan when it has one. */
export interface DeprecationIndex {
  get(coordinate: string): Deprecation | undefined;
  all(): readonly Deprecation[];
}

/** `2027-03-31` is the start of that day in UTC; a date-time is taken as given. */
function instant(value: string): Date {
  const date = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00.000Z` : value);
  if (Number.isNaN(date.getTime())) throw new Error(`@sunset: "${value}" is not an ISO 8601 date`);
  return date;
}

function readSunset(directive: ConstDirectiveNode, coordinate: string): Sunset {
  const args = new Map((directive.arguments ?? []).map((a) => [a.name.value, a.value]));
  const str = (name: string) => {
    const v = args.get(name);
    return v?.kind === Kind.STRING ? v.value : undefined;
  };
  const since = str('since');
  const date = str('date');
  const removedIn = str('removedIn');
  if (!since || !date || !removedIn) throw new Error(`@sunset on ${coordinate}: since, date and removedIn are required`);
  const list = args.get('brownouts');
  const brownouts = list?.kind === Kind.LIST
    ? list.values.flatMap((v) => {
        if (v.kind !== Kind.STRING) return [];
        const [start, end] = v.value.split('/');
        if (!start || !end) throw new Error(`@sunset on ${coordinate}: brownout "${v.value}" is not an interval start/end`);
        return [{ start: instant(start), end: instant(end) }];
      })
    : [];
  return { since: instant(since), date: instant(date), removedIn, replacement: str('replacement'), brownouts };
}

/**
 * Reads deprecations from the API schema (`@deprecated`) and their plans from the supergraph
 * (`@sunset`), once per supergraph. A malformed @sunset stops the gateway at start.
 */
export function indexDeprecations(supergraph: DocumentNode, apiSchema: GraphQLSchema): DeprecationIndex {
  const sunsets = new Map<string, Sunset>();
  const names = directiveLocalNames(supergraph, LIFECYCLE_SPEC, 'sunset');
  if (names.size) {
    for (const definition of supergraph.definitions) {
      if (!('fields' in definition) || !definition.fields || !('name' in definition)) continue;
      for (const field of definition.fields) {
        const coordinate = `${definition.name.value}.${field.name.value}`;
        const directive = field.directives?.find((d) => names.has(d.name.value));
        if (directive) sunsets.set(coordinate, readSunset(directive, coordinate));
        if ('arguments' in field) {
          for (const arg of field.arguments ?? []) {
            const onArg = arg.directives?.find((d) => names.has(d.name.value));
            if (onArg) sunsets.set(`${coordinate}(${arg.name.value}:)`, readSunset(onArg, `${coordinate}(${arg.name.value}:)`));
          }
        }
      }
    }
  }
  const deprecations = new Map<string, Deprecation>();
  for (const type of Object.values(apiSchema.getTypeMap())) {
    if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue;
    for (const field of Object.values(type.getFields())) {
      const coordinate = `${type.name}.${field.name}`;
      if (field.deprecationReason) deprecations.set(coordinate, { coordinate, reason: field.deprecationReason, sunset: sunsets.get(coordinate) });
      for (const arg of field.args) {
        const argCoordinate = `${coordinate}(${arg.name}:)`;
        if (arg.deprecationReason) deprecations.set(argCoordinate, { coordinate: argCoordinate, reason: arg.deprecationReason, sunset: sunsets.get(argCoordinate) });
      }
    }
  }
  return { get: (coordinate) => deprecations.get(coordinate), all: () => [...deprecations.values()] };
}

/** Refused now: past the date, or inside a brownout window. */
export function isRefused(sunset: Sunset | undefined, now: number): boolean {
  if (!sunset) return false;
  return now >= sunset.date.getTime() || sunset.brownouts.some((b) => now >= b.start.getTime() && now < b.end.getTime());
}
