/**
 * Nesting bounds, checked before anything recursive sees a request. graphql-js parses, validates
 * and coerces values recursively, and JSON.stringify recurses too: a 10,000-deep `[[[...]]]` in
 * a document or in its variables would otherwise end in the runtime's stack overflow, whose text
 * must never reach a client. Both checks are linear, iterative and stop at the first level over
 * the limit.
 */

/** How deep a GraphQL document nests. */
export interface DocumentNesting {
  /** Every bracket: `{`, `[`, `(`. */
  readonly depth: number;
  /** Lists and input objects in literal values (arguments, variable defaults): brackets inside parentheses. */
  readonly valueDepth: number;
}

/**
 * How deep a GraphQL document nests, skipping strings, block strings and comments. Stops as soon
 * as `depth` passes `limit` or `valueDepth` passes `valueLimit` (the returned figure then says
 * which, and is one past its limit).
 */
export function documentNesting(source: string, limit: number, valueLimit = limit): DocumentNesting {
  let depth = 0;
  let deepest = 0;
  // Brackets opened inside parentheses are values; their depth is counted from the parenthesis.
  const parens: number[] = [];
  let deepestValue = 0;
  const length = source.length;
  for (let i = 0; i < length; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x23 /* # */) {
      while (i < length && source.charCodeAt(i) !== 0x0a && source.charCodeAt(i) !== 0x0d) i++;
    } else if (c === 0x22 /* " */) {
      if (source.startsWith('"""', i)) {
        i += 3;
        // Block strings end at the first unescaped """; \""" is an escaped one.
        while (i < length && !(source.startsWith('"""', i) && source.charCodeAt(i - 1) !== 0x5c)) i++;
        i += 2;
      } else {
        i++;
        while (i < length && source.charCodeAt(i) !== 0x22 && source.charCodeAt(i) !== 0x0a) {
          if (source.charCodeAt(i) === 0x5c /* \ */) i++;
          i++;
        }
      }
    } else if (c === 0x7b || c === 0x5b || c === 0x28) {
      depth += 1;
      if (c === 0x28) parens.push(depth);
      else if (parens.length > 0) {
        const valueDepth = depth - parens[parens.length - 1]!;
        if (valueDepth > deepestValue) {
          deepestValue = valueDepth;
          if (deepestValue > valueLimit) return { depth: Math.max(deepest, depth), valueDepth: deepestValue };
        }
      }
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return { depth: deepest, valueDepth: deepestValue };
      }
    } else if (c === 0x7d || c === 0x5d || c === 0x29) {
      if (c === 0x29 && parens.length > 0 && parens[parens.length - 1] === depth) parens.pop();
      if (depth > 0) depth -= 1;
    }
  }
  return { depth: deepest, valueDepth: deepestValue };
}

/**
 * The nesting of a parsed JSON value (a scalar is 0, `[]` and `{}` are 1), walked with an explicit
 * stack. Returns `limit + 1` as soon as it goes deeper than `limit`.
 */
export function valueNesting(value: unknown, limit: number): number {
  if (value === null || typeof value !== 'object') return 0;
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (depth > deepest) {
      deepest = depth;
      if (deepest > limit) return deepest;
    }
    const children = Array.isArray(current) ? current : Object.values(current as Record<string, unknown>);
    for (const child of children) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return deepest;
}
