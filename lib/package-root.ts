import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Files the code itself reads that are not code (the SDL in schema/, each product's
 * descriptor.yaml, the sandbox's and usage page's scripts and styles) live in one place, the
 * repository's layout, and are never copied. Code runs from two places: the TypeScript sources through tsx in development
 * (lib/package-root.ts) and the compiled build in production (dist/lib/package-root.js). Both find
 * those files from the package root, the nearest directory above with a package.json (dist/ has
 * none: the root's "type": "module" must apply to it), instead of from their own location.
 *
 * Paths an operator configures (SUPERGRAPH, POLICIES_FILE, RATE_LIMITS_FILE, whose defaults name
 * schema/ and policies/) are taken from the working directory, like any command's arguments: that
 * is the package root under `npm run` and in the image (WORKDIR /app).
 */

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The directory holding package.json: the repository in development, /app in the image. */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** The absolute path of a file given by its path in the repository, e.g. `fromPackageRoot('schema', 'customer.graphql')`. */
export const fromPackageRoot = (...segments: readonly string[]): string => join(PACKAGE_ROOT, ...segments);
