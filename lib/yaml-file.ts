import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { ZodError } from 'zod';

/**
 * The human-edited YAML files (policies, rate limits, descriptors) share how they are read and how
 * their mistakes are reported: the file, then the path of the entry, then what is wrong.
 */
export function readYamlFile(file: string, fail: (message: string) => Error): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw fail(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return parseYaml(text) as unknown;
  } catch (error) {
    throw fail(`${file}: not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** One line per issue: `<file>: <path>: <message>`. */
export function describeIssues(file: string, error: ZodError): string {
  return error.issues.map((issue) => `${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`).join('\n');
}
