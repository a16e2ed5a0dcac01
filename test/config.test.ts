import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, DEFAULT_SUBGRAPH_TIMEOUT_MS, DEFAULT_SUPERGRAPH, loadConfig } from '../gateway/config.js';
import { loadSubgraphsConfig, SubgraphConfigError } from '../subgraphs/config.js';

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
      supergraph: DEFAULT_SUPERGRAPH,
      subgraphUrls: {},
      subgraphTimeoutMs: DEFAULT_SUBGRAPH_TIMEOUT_MS,
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
      shutdownGraceMs: 10_000,
      logLevel: 'info',
    });
  });

  it('lets flags win over the environment and parses SUBGRAPH_URLS', () => {
    const config = loadConfig(
      { PORT: '5000', SUPERGRAPH: 'a.graphql', SUBGRAPH_URLS: 'customer=http://c:4001/graphql, finance=https://f.example/graphql', NODE_ENV: 'production' },
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
});
