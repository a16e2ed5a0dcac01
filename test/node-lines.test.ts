import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { GraphQLResolveInfo } from 'graphql';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

/*
 * The suite runs on more than one Node.js line (.ci/run: the machine's and the newest LTS). These
 * pin what a newer line broke: graphql-shield 7.6.5, its last release, imports util.isUndefined,
 * which Node.js 23 removed; patches/graphql-shield+7.6.5.patch (applied by patch-package on every
 * npm ci) replaces it in the ESM and the CommonJS build alike.
 */

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };

type Shield = typeof import('graphql-shield');
type LogicRule = ReturnType<Shield['chain']>;
/** graphql-shield's options as its rules receive them (the package does not export the type). */
type ShieldOptions = Parameters<LogicRule['resolve']>[4];

describe('Node.js lines', () => {
  it('runs on a line package.json engines names', () => {
    expect(semver.satisfies(process.version, pkg.engines.node), `${process.version} in "${pkg.engines.node}"`).toBe(true);
  });

  it("loads graphql-shield's ESM and CommonJS builds, whose chain and race stop after their last rule", async () => {
    const esm: Shield = await import('graphql-shield');
    const cjs = createRequire(import.meta.url)('graphql-shield') as Shield;
    for (const [build, shield] of [['esm', esm], ['cjs', cjs]] as const) {
      const allow = shield.rule({ cache: 'no_cache' })(() => true);
      const deny = shield.rule({ cache: 'no_cache' })(() => false);
      const options: ShieldOptions = { debug: true, allowExternalErrors: false, fallbackRule: deny, hashFunction: () => '' };
      // chain and race walk their rules recursively and stop on the first missing one: the patched
      // check. Uncached rules read neither the context's cache nor the resolve info.
      const resolve = (rule: LogicRule) => rule.resolve({}, {}, { _shield: { cache: {} } }, {} as GraphQLResolveInfo, options);
      expect(await resolve(shield.chain(allow, allow)), `${build}: chain(allow, allow)`).toBe(true);
      expect(await resolve(shield.chain(allow, deny)), `${build}: chain(allow, deny)`).toBe(false);
      expect(await resolve(shield.race(deny, allow)), `${build}: race(deny, allow)`).toBe(true);
      expect(await resolve(shield.race(deny, deny)), `${build}: race(deny, deny)`).toBe(false);
    }
  });
});
