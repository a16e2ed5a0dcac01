import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// Offset required: a timestamp without one means a different instant on every server.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;

/** A calendar date as `YYYY-MM-DD`. SQL should select dates with to_char(col, 'YYYY-MM-DD'). */
export const DateScalar = new GraphQLScalarType<string, string>({
  name: 'Date',
  serialize(value) {
    if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString().slice(0, 10);
    if (typeof value === 'string' && isCalendarDate(value)) return value;
    throw new GraphQLError('Date cannot represent this value');
  },
  parseValue(value) {
    if (typeof value === 'string' && isCalendarDate(value)) return value;
    throw invalidInput('Date', 'a calendar date as YYYY-MM-DD');
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING && isCalendarDate(ast.value)) return ast.value;
    throw invalidInput('Date', 'a calendar date as YYYY-MM-DD');
  },
});

/** An instant, serialized as ISO 8601 in UTC with milliseconds; inputs must carry an offset. */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize(value) {
    const date = value instanceof Date ? value : typeof value === 'string' ? parseDateTime(value) : null;
    if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime cannot represent this value');
    return date.toISOString();
  },
  parseValue(value) {
    const date = typeof value === 'string' ? parseDateTime(value) : null;
    if (!date) throw invalidInput('DateTime', 'an ISO 8601 timestamp with a time zone offset');
    return date;
  },
  parseLiteral(ast) {
    const date = ast.kind === Kind.STRING ? parseDateTime(ast.value) : null;
    if (!date) throw invalidInput('DateTime', 'an ISO 8601 timestamp with a time zone offset');
    return date;
  },
});

function isCalendarDate(value: string): boolean {
  const match = DATE.exec(value);
  if (!match) return false;
  const [, y, m, d] = match.map(Number) as [number, number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  // Rejects 2024-02-30 and friends, which Date would silently roll over.
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function parseDateTime(value: string): Date | null {
  if (!DATE_TIME.test(value) || !isCalendarDate(value.slice(0, 10))) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

function invalidInput(scalar: string, expected: string): GraphQLError {
  return new GraphQLError(`${scalar} must be ${expected}`, { extensions: { code: 'BAD_USER_INPUT' } });
}
