import { generateKeyPairSync } from 'node:crypto';
import { DEVELOPMENT_PSEUDONYM_KEY } from '../lib/classification/pseudonym.js';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, DEFAULT_SUBGRAPH_TIMEOUT_MS, DEFAULT_SUPERGRAPH, loadConfig } from '../gateway/config.js';
import { loadSubgraphsConfig, SubgraphConfigError } from '../subgraphs/config.js';
import { parseRedisUrl } from '../lib/redis-client.js';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('gateway configuration', () => {
  it('has working defaults with an empty environment', () => {
    expect(loadConfig({}, [])).toEqual({
      mode: 'development',
      port: DEFAULT_PORT,
      host: '127.0.0.1',
      admin: undefined,
      supergraph: DEFAULT_SUPERGRAPH,
      supergraphPollMs: 10_000,
      subgraphUrls: {},
      subgraphTimeoutMs: DEFAULT_SUBGRAPH_TIMEOUT_MS,
      subgraphCalls: { maxResponseBytes: 16 * 1024 * 1024, dedup: true, batch: true },
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
      shutdownGraceMs: 10_000,
      logLevel: 'info',
      auth: { issuers: [], trustDevIssuer: true, required: false, clockToleranceS: 5, jwksCooldownMs: 30_000, maxTokenBytes: 8192 },
      authorization: { mode: 'filter', policiesFile: 'policies/access.yaml', anonymousIntrospection: true, introspectionView: 'full' },
      internalSigningKey: undefined,
      redis: { url: undefined, keyPrefix: 'dpg', commandTimeoutMs: 250 },
      rest: { routesDir: 'schema/rest' },
      rateLimits: { enabled: true, failMode: 'open', file: 'policies/rate-limits.yaml' },
      sandbox: 'graphiql',
      cors: { origins: [], maxAgeS: 600 },
      metricsToken: undefined,
      publicMetrics: true,
      usage: { enabled: true, retentionMs: 30 * 86_400_000, flushIntervalMs: 1000, maxClientsPerHour: 200, maxOperationsPerHour: 100 },
      tracing: { enabled: false, traceParent: 'trust' },
      execution: { inboundDedup: true, responseCache: undefined, personalDataScopes: new Set(['customer:pii']) },
      documents: {
        source: undefined,
        pollMs: 10_000,
        maxDocuments: 10_000,
        maxDocumentBytes: 65_536,
        policyFile: 'policies/operations.yaml',
        apq: { ttlS: 86_400, memoryMaxBytes: 32 * 1024 * 1024, maxDocumentBytes: 65_536 },
      },
      pseudonyms: { key: DEVELOPMENT_PSEUDONYM_KEY, keyId: 'development', development: true },
      events: { natsUrl: undefined, namespace: '', maxPerPrincipal: 10, maxTotal: 10_000, bufferEvents: 100, stallMs: 30_000 },
      audit: { level: 'PII', store: { kind: 'embedded', dataDir: undefined }, schema: 'dpg_audit', queueMax: 10_000, flushIntervalMs: 1000, failMode: 'closed', retentionMs: 365 * 86_400_000, purgeIntervalMs: 3_600_000 },
    });
  });

  it('trusted documents and persisted queries: a directory or http(s) URL, bounds, APQ off', () => {
    expect(loadConfig({ TRUSTED_DOCUMENTS: 'https://registry.example.com/manifests.json', APQ: 'off' }, []).documents).toMatchObject({ source: 'https://registry.example.com/manifests.json', apq: undefined });
    expect(configError(() => loadConfig({ TRUSTED_DOCUMENTS_MAX_DOCUMENTS: '0', APQ_TTL_S: 'day' }, []))).toMatch(/TRUSTED_DOCUMENTS_MAX_DOCUMENTS: [^\n]*\n\s*APQ_TTL_S: /);
    const message = configError(() => loadConfig({ TRUSTED_DOCUMENTS: 'ftp://x/y', APQ_MAX_DOCUMENT_BYTES: '2048', APQ_MEMORY_MAX_BYTES: '1024' }, []));
    expect(message).toContain('TRUSTED_DOCUMENTS: a directory or an http(s) URL (got "ftp://x/y")');
    expect(message).toContain('APQ_MAX_DOCUMENT_BYTES: larger than APQ_MEMORY_MAX_BYTES');
  });

  it('audit trail: production refuses the in-memory store, and one store at a time', () => {
    expect(configError(() => loadConfig({ NODE_ENV: 'production' }, []))).toContain('AUDIT_DATABASE_URL: required in production');
    expect(configError(() => loadConfig({ AUDIT_DATABASE_URL: 'postgres://a@h/db', AUDIT_DATA_DIR: '/var/audit' }, []))).toContain('AUDIT_DATA_DIR: set AUDIT_DATABASE_URL or AUDIT_DATA_DIR, not both');
    const message = configError(() => loadConfig({ AUDIT_DATABASE_URL: 'mysql://secret@h/db', AUDIT_SCHEMA: 'Audit;drop', AUDIT_LEVEL: 'SECRET', AUDIT_FAIL_MODE: 'maybe' }, []));
    for (const key of ['AUDIT_DATABASE_URL', 'AUDIT_SCHEMA', 'AUDIT_LEVEL', 'AUDIT_FAIL_MODE']) expect(message).toContain(key);
    // A database URL may carry a password: never echoed.
    expect(message).not.toContain('secret');
    expect(loadConfig({ AUDIT_DATABASE_URL: 'postgres://a@h/db', AUDIT_LEVEL: 'SENSITIVE_PII', AUDIT_FAIL_MODE: 'open' }, []).audit).toMatchObject({ level: 'SENSITIVE_PII', failMode: 'open', store: { kind: 'postgres', url: 'postgres://a@h/db' } });
  });

  it('production never trusts the development issuer and needs its own signing key and an issuer', () => {
    const message = configError(() => loadConfig({ NODE_ENV: 'production' }, []));
    expect(message).toContain('INTERNAL_SIGNING_KEY: required in production');
    expect(message).toContain('OIDC_ISSUERS: AUTH_REQUIRED is on');
    expect(message).toContain('PSEUDONYM_KEY: required in production');
    const key = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const issuers = JSON.stringify([{ issuer: 'https://idp.example.com', audiences: ['gw'] }]);
    const production = loadConfig({ NODE_ENV: 'production', AUDIT_DATABASE_URL: 'postgres://gateway@db/dpg', INTERNAL_SIGNING_KEY: key.replace(/\n/g, '\\n'), OIDC_ISSUERS: issuers, PSEUDONYM_KEY: 'ab'.repeat(32) }, []);
    expect(production.auth).toMatchObject({ trustDevIssuer: false, required: true });
    expect(production.authorization.anonymousIntrospection).toBe(false);
    // Any external issuer also switches the development issuer off, in any mode.
    expect(loadConfig({ OIDC_ISSUERS: issuers }, []).auth.trustDevIssuer).toBe(false);
  });

  it('validates trusted issuers: URLs, audiences, asymmetric algorithms only, claim paths', () => {
    const bad = (issuers: unknown) => configError(() => loadConfig({ OIDC_ISSUERS: JSON.stringify(issuers) }, []));
    expect(bad([{ issuer: 'not a url', audiences: ['a'] }])).toContain('OIDC_ISSUERS');
    expect(bad([{ issuer: 'https://i.example', audiences: [] }])).toContain('OIDC_ISSUERS');
    expect(bad([{ issuer: 'https://i.example', audiences: ['a'], algorithms: ['HS256'] }])).toContain('OIDC_ISSUERS');
    expect(bad([{ issuer: 'https://i.example', audiences: ['a'], algorithms: ['none'] }])).toContain('OIDC_ISSUERS');
    expect(bad([{ issuer: 'https://i.example', audiences: ['a'], rolesClaims: ['a..b'] }])).toContain('OIDC_ISSUERS');
    expect(bad([{ issuer: 'https://i.example', audiences: ['a'], surprise: true }])).toContain('OIDC_ISSUERS');
    expect(configError(() => loadConfig({ OIDC_ISSUERS: '[{' }, []))).toContain('OIDC_ISSUERS: not valid JSON');
  });

  it('lets flags win over the environment and parses SUBGRAPH_URLS', () => {
    const config = loadConfig(
      { PORT: '5000', SUPERGRAPH: 'a.graphql', SUBGRAPH_URLS: 'customer=http://c:4001/graphql, finance=https://f.example/graphql', NODE_ENV: 'production', AUDIT_DATA_DIR: '/var/lib/audit', AUTH_REQUIRED: 'false', PSEUDONYM_KEY: 'ab'.repeat(32), INTERNAL_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() },
      ['--port', '6000', '--supergraph', 'https://registry.example/supergraph'],
    );
    expect(config).toMatchObject({
      mode: 'production',
      port: 6000,
      supergraph: 'https://registry.example/supergraph',
      subgraphUrls: { customer: 'http://c:4001/graphql', finance: 'https://f.example/graphql' },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every switch in one grammar: on/off, true/false, 1/0, nothing else', () => {
    for (const [on, off] of [['on', 'off'], ['true', 'false'], ['1', '0']] as const) {
      const enabled = loadConfig({ INBOUND_DEDUP: on, SUBGRAPH_DEDUP: on, RATE_LIMITING: on, USAGE_RECORDING: on }, []);
      const disabled = loadConfig({ INBOUND_DEDUP: off, SUBGRAPH_DEDUP: off, RATE_LIMITING: off, USAGE_RECORDING: off }, []);
      expect([enabled.execution.inboundDedup, enabled.subgraphCalls.dedup, enabled.rateLimits.enabled, enabled.usage.enabled]).toEqual([true, true, true, true]);
      expect([disabled.execution.inboundDedup, disabled.subgraphCalls.dedup, disabled.rateLimits.enabled, disabled.usage.enabled]).toEqual([false, false, false, false]);
    }
    expect(configError(() => loadConfig({ RESPONSE_CACHE: 'yes' }, []))).toContain('RESPONSE_CACHE');
  });

  it('names every bad key, with the value it got', () => {
    const message = configError(() =>
      loadConfig({ PORT: 'eighty', SUBGRAPH_TIMEOUT_MS: '0', LOG_LEVEL: 'loud', SUBGRAPH_URLS: 'customer', NODE_ENV: 'prod' }, []),
    );
    for (const key of ['PORT / --port', 'SUBGRAPH_TIMEOUT_MS', 'LOG_LEVEL', 'SUBGRAPH_URLS', 'NODE_ENV']) expect(message).toContain(key);
    expect(message).toContain('(got "eighty")');
  });

  it('refuses unknown flags and non-http subgraph URLs', () => {
    expect(configError(() => loadConfig({}, ['--prot', '1']))).toMatch(/^Invalid command line: .*--prot/);
    expect(configError(() => loadConfig({ SUBGRAPH_URLS: 'customer=file:///etc/passwd' }, []))).toContain('SUBGRAPH_URLS');
  });
});

describe('REDIS_URL: one node or a Redis Cluster', () => {
  it('keeps redis:// and rediss:// for one node, and reads a cluster from redis+cluster:// seed nodes', () => {
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }, []).redis.url).toBe('redis://127.0.0.1:6379');
    expect(parseRedisUrl('rediss://:pw@redis.example:6380/2')).toEqual({ ok: true, target: { kind: 'node', url: 'rediss://:pw@redis.example:6380/2' } });
    const cluster = 'redis+cluster://10.0.0.1:7000,10.0.0.2,[::1]:7002';
    expect(loadConfig({ REDIS_URL: cluster }, []).redis.url).toBe(cluster);
    expect(parseRedisUrl(cluster)).toEqual({
      ok: true,
      target: { kind: 'cluster', seeds: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 6379 }, { host: '::1', port: 7002 }], tls: false, username: undefined, password: undefined },
    });
    // Credentials once, percent-encoded, for every node; TLS with rediss+cluster://.
    expect(parseRedisUrl('rediss+cluster://gw:p%40ss%2Cword@r1:7000,r2:7000/')).toEqual({
      ok: true,
      target: { kind: 'cluster', seeds: [{ host: 'r1', port: 7000 }, { host: 'r2', port: 7000 }], tls: true, username: 'gw', password: 'p@ss,word' },
    });
  });

  it.each([
    ['http://redis:6379', 'expected redis://host:port'],
    ['redis+cluster://', 'seed node 1'],
    ['redis+cluster://r1:7000,,r3:7000', 'seed node 2'],
    ['redis+cluster://r1:7000,r2:99999', 'seed node 2'],
    ['redis+cluster://r1:7000,r2:7000/1', 'no database path'],
    ['redis+cluster://r1:7000?tls=true', 'no query'],
  ])('refuses %s at start, naming REDIS_URL', (value, problem) => {
    const message = configError(() => loadConfig({ REDIS_URL: value }, []));
    expect(message).toContain('REDIS_URL: ');
    expect(message).toContain(problem);
  });
});

describe('subgraph configuration', () => {
  it('serves all products by default on 4001-4003', () => {
    expect(loadSubgraphsConfig({}, [])).toMatchObject({ products: ['customer', 'finance', 'product'], ports: { customer: 4001, finance: 4002, product: 4003 }, databaseUrl: undefined });
  });

  it('takes --port only with one --product, and names unknown products', () => {
    expect(loadSubgraphsConfig({}, ['--product', 'finance', '--port', '5002']).ports.finance).toBe(5002);
    expect(() => loadSubgraphsConfig({}, ['--port', '5002'])).toThrow(SubgraphConfigError);
    expect(() => loadSubgraphsConfig({}, ['--product', 'marketing'])).toThrow(/--product: unknown data product marketing/);
    expect(() => loadSubgraphsConfig({ DATABASE_URL: 'not a url' }, [])).toThrow(/DATABASE_URL/);
  });

  it("takes each product's own database URL, falling back on DATABASE_URL, and migrates at start unless told not to", () => {
    const own = 'postgres://dpg_customer:pw@db:5432/dpg';
    expect(loadSubgraphsConfig({ CUSTOMER_DATABASE_URL: own }, ['--product', 'customer'])).toMatchObject({
      databaseUrl: undefined,
      databaseUrls: { customer: own, finance: undefined, product: undefined },
      migrateOnStart: true,
    });
    expect(loadSubgraphsConfig({ DATABASE_URL: 'postgres://postgres@db/dpg', CUSTOMER_DATABASE_URL: own, MIGRATE_ON_START: 'false' }, []).migrateOnStart).toBe(false);
    expect(() => loadSubgraphsConfig({ MIGRATE_ON_START: 'maybe' }, [])).toThrow(/MIGRATE_ON_START/);
    expect(() => loadSubgraphsConfig({ FINANCE_DATABASE_URL: 'mysql://db/dpg' }, [])).toThrow(/FINANCE_DATABASE_URL: a postgres:\/\/ or postgresql:\/\/ URL/);
    // One process's products share PostgreSQL or the embedded database, never half and half.
    expect(() => loadSubgraphsConfig({ CUSTOMER_DATABASE_URL: own }, [])).toThrow(/DATABASE_URL: required when some products have their own URL \(FINANCE_DATABASE_URL, PRODUCT_DATABASE_URL unset\)/);
  });
});

describe('tracing configuration (the standard OTEL_* variables)', () => {
  it('is off unless an exporter or endpoint is named; an empty value is unset', () => {
    expect(loadConfig({}, []).tracing).toEqual({ enabled: false, traceParent: 'trust' });
    // docker-compose.yml passes ${OTEL_EXPORTER_OTLP_ENDPOINT:-}: empty means off.
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }, []).tracing.enabled).toBe(false);
    expect(loadSubgraphsConfig({}, []).tracing).toEqual({ enabled: false });
  });

  it('turns on with an endpoint, with the specification\'s defaults', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, []).tracing).toEqual({
      enabled: true,
      traceParent: 'trust',
      exporter: { url: 'http://collector:4318/v1/traces', protocol: 'http/protobuf', headers: {}, timeoutMs: 10_000, compression: 'none' },
      serviceName: undefined,
      resourceAttributes: {},
      sampler: { kind: 'parentbased_always_on', ratio: 1 },
    });
    // OTEL_TRACES_EXPORTER=otlp alone exports to the default collector address.
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }, []).tracing).toMatchObject({ enabled: true, exporter: { url: 'http://localhost:4318/v1/traces' } });
    expect(loadSubgraphsConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, []).tracing).toMatchObject({ enabled: true, exporter: { url: 'http://collector:4318/v1/traces' } });
  });

  it('lets the traces-specific variables win, and reads every setting it documents', () => {
    const tracing = loadConfig(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/api/traces',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-team=data,authorization=Basic%20abc',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20xyz',
        OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip',
        OTEL_SERVICE_NAME: 'gateway-eu',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.namespace=data',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        TRACE_PARENT: 'ignore',
      },
      [],
    ).tracing;
    expect(tracing).toEqual({
      enabled: true,
      traceParent: 'ignore',
      exporter: {
        url: 'https://traces.example.com/api/traces',
        protocol: 'http/json',
        headers: { 'x-team': 'data', authorization: 'Bearer xyz' },
        timeoutMs: 3000,
        compression: 'gzip',
      },
      serviceName: 'gateway-eu',
      resourceAttributes: { 'deployment.environment.name': 'prod', 'service.namespace': 'data' },
      sampler: { kind: 'parentbased_traceidratio', ratio: 0.25 },
    });
  });

  it('OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none win over an endpoint', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' }, []).tracing.enabled).toBe(false);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }, []).tracing.enabled).toBe(false);
  });

  it('refuses what it cannot do, naming the variable', () => {
    const message = configError(() =>
      loadConfig(
        {
          OTEL_TRACES_EXPORTER: 'zipkin',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
          OTEL_TRACES_SAMPLER: 'jaeger_remote',
          OTEL_TRACES_SAMPLER_ARG: '2',
          OTEL_SDK_DISABLED: 'yes',
          OTEL_EXPORTER_OTLP_TIMEOUT: 'soon',
          OTEL_RESOURCE_ATTRIBUTES: 'no-equals-sign',
          TRACE_PARENT: 'maybe',
        },
        [],
      ),
    );
    for (const key of ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG', 'OTEL_SDK_DISABLED', 'OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_RESOURCE_ATTRIBUTES', 'TRACE_PARENT']) {
      expect(message).toContain(`${key}:`);
    }
    expect(message).toContain('grpc is not supported');
    expect(() => loadSubgraphsConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, [])).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: expected an http\(s\) URL/);
  });
});

describe('configuration errors never show a secret', () => {
  it.each([
    ['INTERNAL_SIGNING_KEY', 'not-a-pem-but-a-secret-s3cr3t'],
    ['METRICS_TOKEN', 's3cr3t'],
    ['REDIS_URL', 'http://user:s3cr3t@redis:6379'],
    ['REDIS_URL', 'redis+cluster://user:s3cr3t@r1:7000,r2:notaport'],
    ['OTEL_EXPORTER_OTLP_HEADERS', 'authorization=Bearer%20s3cr3t,broken'],
    ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'api-key=s3cr3t,%'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://user:s3cr3t@collector'],
    ['PSEUDONYM_KEY', 's3cr3t'],
  ])('%s: the key is named, its value is not shown', (key, value) => {
    const message = configError(() => loadConfig({ [key]: value }, []));
    expect(message).toContain(`${key}:`);
    expect(message).not.toContain('s3cr3t');
  });

  it('a data product database URL with a password is not shown either', () => {
    let message = '';
    try {
      loadSubgraphsConfig({ DATABASE_URL: 'not a url s3cr3t' }, []);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('DATABASE_URL:');
    expect(message).not.toContain('s3cr3t');
  });

  it.each(['CUSTOMER_DATABASE_URL', 'FINANCE_DATABASE_URL', 'PRODUCT_DATABASE_URL'])("%s, a product's own URL, is not shown either", (key) => {
    let message = '';
    try {
      loadSubgraphsConfig({ [key]: 'mysql://dpg:s3cr3t@db/dpg' }, []);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(`${key}:`);
    expect(message).not.toContain('s3cr3t');
  });

  it('other values are shown, to help find the mistake', () => {
    expect(configError(() => loadConfig({ PORT: 'eighty' }, []))).toContain('PORT / --port: ');
    expect(configError(() => loadConfig({ PORT: 'eighty' }, []))).toContain('(got "eighty")');
  });
});
