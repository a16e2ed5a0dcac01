import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';
import ts from 'typescript';
import { ROOT } from './process.js';

/*
 * Docker does not run where this project is developed: the image is checked by construction. This
 * reads the Dockerfile, .dockerignore and tsconfig.build.json with the rules Docker and tsc apply,
 * so tests can say which files reach the build context, which ones each stage copies, and which
 * compiled file a `node dist/...` command runs.
 */

// ---------------------------------------------------------------------------------------------
// The build: tsconfig.build.json, read by TypeScript itself.

export interface BuildLayout {
  /** Where `npm run build` writes, relative to the repository: `dist`. */
  readonly outDir: string;
  /** Compiled file (`dist/gateway/main.js`) -> its TypeScript source (`gateway/main.ts`). */
  readonly compiled: ReadonlyMap<string, string>;
}

export function buildLayout(): BuildLayout {
  const file = resolve(ROOT, 'tsconfig.build.json');
  const { config, error } = ts.readConfigFile(file, ts.sys.readFile);
  if (error) throw new Error(`tsconfig.build.json: ${ts.flattenDiagnosticMessageText(error.messageText, '\n')}`);
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, file);
  if (parsed.errors.length > 0) throw new Error(`tsconfig.build.json: ${parsed.errors.map((e) => ts.flattenDiagnosticMessageText(e.messageText, '\n')).join('; ')}`);
  const { outDir, rootDir } = parsed.options;
  if (!outDir || !rootDir) throw new Error('tsconfig.build.json: outDir and rootDir must be set (the layout of dist/ depends on them)');
  const toRepo = (path: string) => relative(ROOT, path).split('\\').join('/');
  const compiled = new Map<string, string>();
  for (const source of parsed.fileNames) {
    if (source.endsWith('.d.ts')) continue;
    compiled.set(toRepo(join(outDir, relative(rootDir, source))).replace(/\.ts$/, '.js'), toRepo(source));
  }
  return { outDir: toRepo(outDir), compiled };
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile: stages and their instructions.

export interface Instruction {
  /** Upper case: FROM, COPY, RUN, ... */
  readonly op: string;
  readonly args: string;
}

export interface Stage {
  readonly name: string | undefined;
  /** The base image, ARG defaults substituted. */
  readonly from: string;
  readonly instructions: readonly Instruction[];
}

export interface Copy {
  /** `--from=<stage>`; undefined: the build context. */
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly dest: string;
}

/** Instructions with continuation lines joined and comments dropped; ARGs before the first FROM fill `${NAME}`. */
export function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  const globalArgs: Record<string, string> = {};
  const stages: { name: string | undefined; from: string; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile: cannot read "${line}"`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile: cannot read "${line}"`);
      const image = from[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => {
        const value = globalArgs[(a ?? b)!];
        if (value === undefined) throw new Error(`Dockerfile: ${line}: ARG ${a ?? b} has no default`);
        return value;
      });
      stages.push({ name: from[2], from: image, instructions: [] });
    } else if (stages.length === 0) {
      if (op !== 'ARG') throw new Error(`Dockerfile: only ARG may come before the first FROM, got ${op}`);
      const arg = /^(\w+)=(\S+)$/.exec(args);
      if (arg) globalArgs[arg[1]!] = arg[2]!;
    } else {
      stages.at(-1)!.instructions.push({ op, args });
    }
  }
  return stages;
}

/** `COPY [--from=x] [--chown=...] src... dest` (shell form: this Dockerfile's paths have no spaces). */
export function copyOf(instruction: Instruction): Copy {
  const words = instruction.args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
  }
  if (words[0]?.startsWith('[')) throw new Error(`Dockerfile: write COPY in shell form, got ${instruction.args}`);
  if (words.length < 2) throw new Error(`Dockerfile: COPY needs a source and a destination, got ${instruction.args}`);
  return { from, sources: words.slice(0, -1), dest: words.at(-1)! };
}

export const copiesOf = (stage: Stage): Copy[] => stage.instructions.filter((i) => i.op === 'COPY').map(copyOf);
export const runsOf = (stage: Stage): string[] => stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);

/** The exec form of CMD, HEALTHCHECK ... CMD and the like: a JSON array of strings. */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) throw new Error(`not an exec form: ${args}`);
  return parsed as string[];
}

// ---------------------------------------------------------------------------------------------
// Files: the repository, the build context (.dockerignore), what a COPY takes from it.

/** Never walked: git's own files, installed packages, build output, CI's downloaded Node.js binaries. */
const NOT_WALKED = new Set(['.git', 'node_modules', 'dist', '.ci/cache', 'coverage']);

/** Every file of the working tree (tracked or not), as repository paths with `/`. */
export function repoFiles(dir = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (NOT_WALKED.has(path)) continue;
    if (entry.isDirectory()) files.push(...repoFiles(path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/** A Docker path pattern as a regular expression: `*` and `?` stay within a path segment, `**` spans any. */
function patternRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') {
        i++;
        source += '(?:.*/)?';
      } else source += '.*';
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Whether .dockerignore keeps a path out of the build context, as Docker decides: the last pattern
 * that matches the path or one of its parent directories wins; `!` lets it back in.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      const pattern = posix.normalize((include ? line.slice(1) : line).trim()).replace(/^\/+|\/+$/g, '');
      return { include, regex: patternRegex(pattern) };
    });
  return (path) => {
    const parts = path.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) if (candidates.some((candidate) => rule.regex.test(candidate))) ignored = !rule.include;
    return ignored;
  };
}

/** What one COPY source takes from the context: a file, a folder's files, or a `*` pattern's files. */
export function filesOfSource(source: string, files: readonly string[]): string[] {
  const path = posix.normalize(source).replace(/^\.\//, '').replace(/\/+$/, '');
  if (/[*?]/.test(path)) {
    const regex = patternRegex(path);
    return files.filter((file) => regex.test(file));
  }
  return files.filter((file) => file === path || file.startsWith(`${path}/`));
}

/**
 * Where a COPY puts each file under the image's WORKDIR (`/app`): a folder's files keep their path
 * below it, a file or a pattern's file keeps its name, into `dest` (written as a folder, `x/`).
 */
export function placedFiles(copy: Copy, files: readonly string[]): Map<string, string> {
  const placed = new Map<string, string>();
  if (!copy.dest.endsWith('/')) throw new Error(`Dockerfile: write COPY destinations as folders ("${copy.dest}/")`);
  const dest = posix.normalize(copy.dest.replace(/^\/app\//, '')).replace(/^\.\/?/, '').replace(/\/+$/, '');
  for (const source of copy.sources) {
    const base = posix.normalize(source).replace(/^\.\//, '').replace(/\/+$/, '');
    const folder = !/[*?]/.test(base) && files.some((file) => file.startsWith(`${base}/`));
    for (const file of filesOfSource(source, files)) {
      const inside = folder ? file.slice(base.length + 1) : posix.basename(file);
      placed.set(posix.join(dest, inside), file);
    }
  }
  return placed;
}

export const readRepoFile = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');
