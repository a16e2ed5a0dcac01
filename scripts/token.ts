import { parseArgs } from 'node:util';
import { loadAccessPolicies, PolicyError } from '../lib/policies.js';
import { mintDevToken } from '../gateway/auth/dev-issuer.js';

const USAGE = `Usage: npm run -s token -- --role <role> [--role <role>...] [--scope <scope>...] [--client <id>] [--subject <sub>] [--ttl <seconds>]

Prints a bearer token from the gateway's built-in development issuer (trusted only by a gateway in
development mode with no OIDC_ISSUERS). The token alone goes to stdout:
  TOKEN=$(npm run -s token -- --role data-scientist)`;

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: { role?: string[]; scope?: string[]; client?: string; subject?: string; ttl?: string; help?: boolean };
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: {
        role: { type: 'string', multiple: true },
        scope: { type: 'string', multiple: true },
        client: { type: 'string' },
        subject: { type: 'string' },
        ttl: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const policies = loadAccessPolicies(process.env.POLICIES_FILE || undefined);
  const roles = values.role ?? [];
  if (roles.length === 0 && !values.scope?.length) fail(`give at least one --role (known: ${[...policies.roles.keys()].join(', ')})`);
  const unknownRoles = roles.filter((r) => !policies.roles.has(r));
  if (unknownRoles.length) fail(`unknown role ${unknownRoles.join(', ')} (known: ${[...policies.roles.keys()].join(', ')})`);
  const unknownScopes = (values.scope ?? []).filter((s) => !policies.scopes.has(s));
  if (unknownScopes.length) fail(`unknown scope ${unknownScopes.join(', ')} (known: ${[...policies.scopes.keys()].join(', ')})`);
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 7 * 24 * 3600) fail('--ttl: a whole number of seconds from 1 to 604800');
  const token = await mintDevToken({ roles, scopes: values.scope ?? [], clientId: values.client, subject: values.subject, ttlS: ttl });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`token: ${error instanceof PolicyError ? error.message : `failed: ${(error as Error).message}`}\n`);
  process.exit(error instanceof PolicyError ? 2 : 1);
});
