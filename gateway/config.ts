import { parseArgs } from 'node:util';
import { z } from 'zod';
import { LOG_LEVELS } from '../lib/logger.js';

/** Defaults, resolved once here and exported so docs and tests can name them. */
export const DEFAULT_PORT = 4000;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_SUPERGRAPH = 'schema/supergraph.graphql';
export const DEFAULT_SUBGRAPH_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);

/** Routing URL overrides: `name=url,name=url` (a supergraph's routing URLs rarely match a deployment). */
const subgraphUrls = z
  .string()
  .transform((value, ctx) => {
    const map: Record<string, string> = {};
    for (const pair of value.split(',').map((part) => part.trim()).filter(Boolean)) {
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const url = pair.slice(eq + 1).trim();
      if (eq < 1 || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
        ctx.addIssue({ code: 'custom', message: `expected name=http(s)://host/path pairs separated by commas, got "${pair}"` });
        return z.NEVER;
      }
      map[name] = url;
    }
    return map;
  });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(DEFAULT_PORT),
  HOST: z.string().min(1).default(DEFAULT_HOST),
  SUPERGRAPH: z.string().min(1).default(DEFAULT_SUPERGRAPH),
  SUBGRAPH_URLS: subgraphUrls.default({}),
  SUBGRAPH_TIMEOUT_MS: positiveInt(300_000).default(DEFAULT_SUBGRAPH_TIMEOUT_MS),
  MAX_BODY_BYTES: positiveInt(64 * 1024 * 1024).default(DEFAULT_MAX_BODY_BYTES),
  SHUTDOWN_GRACE_MS: positiveInt(600_000).default(DEFAULT_SHUTDOWN_GRACE_MS),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

/** Every environment variable the gateway reads (the README documents each). */
export const CONFIG_KEYS = Object.keys(envSchema.shape) as readonly string[];

/** The gateway's whole configuration, parsed once at boot and handed out read-only. */
export interface GatewayConfig {
  readonly mode: 'development' | 'production';
  readonly port: number;
  readonly host: string;
  /** A file path or an http(s) URL. */
  readonly supergraph: string;
  readonly subgraphUrls: Readonly<Record<string, string>>;
  readonly subgraphTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly shutdownGraceMs: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const FLAG_TO_ENV = { supergraph: 'SUPERGRAPH', port: 'PORT', host: 'HOST' } as const;

/**
 * Reads the environment and command-line flags (flags win), validates everything, and throws a
 * ConfigError naming every bad key. Nothing else in the gateway reads process.env.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): GatewayConfig {
  let flags: Record<string, string | undefined>;
  try {
    flags = parseArgs({
      args: [...argv],
      options: { supergraph: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new ConfigError(`Invalid command line: ${(error as Error).message}`);
  }
  const merged: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') merged[key] = value;
  }
  for (const [flag, key] of Object.entries(FLAG_TO_ENV)) {
    const value = flags[flag];
    if (value !== undefined) merged[key] = value;
  }
  const parsed = envSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '?');
      const flag = Object.entries(FLAG_TO_ENV).find(([, envKey]) => envKey === key)?.[0];
      const shown = merged[key] === undefined ? '' : ` (got "${merged[key]}")`;
      return `${key}${flag ? ` / --${flag}` : ''}: ${issue.message}${shown}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    mode: e.NODE_ENV === 'production' ? 'production' : 'development',
    port: e.PORT,
    host: e.HOST,
    supergraph: e.SUPERGRAPH,
    subgraphUrls: Object.freeze(e.SUBGRAPH_URLS),
    subgraphTimeoutMs: e.SUBGRAPH_TIMEOUT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    logLevel: e.LOG_LEVEL,
  });
}
