import type { z } from 'zod';

/** What `readEnvironment` found: the typed values, or every problem, one line per variable. */
export type EnvironmentReading<T> = { readonly ok: true; readonly values: T } | { readonly ok: false; readonly problems: readonly string[] };

/**
 * Reads the variables a schema names from the environment (empty means unset), lets `overrides`
 * (command-line flags) win, and validates them all at once. A problem names the variable (and its
 * flag), says what is wrong and shows the value given, except for `secrets` (keys, tokens, URLs
 * that may hold a password), whose values never reach a log.
 */
export function readEnvironment<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv,
  options: { overrides?: Readonly<Record<string, string | undefined>>; flagOf?: (key: string) => string | undefined; secrets?: ReadonlySet<string> } = {},
): EnvironmentReading<z.infer<S>> {
  const given: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') given[key] = value;
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) if (value !== undefined) given[key] = value;
  const parsed = schema.safeParse(given);
  if (parsed.success) return { ok: true, values: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '?');
      const flag = options.flagOf?.(key);
      const shown = given[key] === undefined || options.secrets?.has(key) ? '' : ` (got "${given[key]}")`;
      return `${key}${flag ? ` / --${flag}` : ''}: ${issue.message}${shown}`;
    }),
  };
}
