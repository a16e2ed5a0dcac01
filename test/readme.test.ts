import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS } from '../gateway/config.js';
import { ERROR_CODES, ERROR_STATUS } from '../lib/errors.js';
import { SUBGRAPH_CONFIG_KEYS } from '../subgraphs/config.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const rows = readme.split('\n').filter((line) => line.startsWith('| `'));

describe('README', () => {
  it('lists every error code with its HTTP status', () => {
    for (const code of ERROR_CODES) {
      const row = rows.find((line) => line.startsWith(`| \`${code}\` |`));
      expect(row, `README row for ${code}`).toBeDefined();
      expect(row).toContain(`| ${ERROR_STATUS[code]} |`);
    }
  });

  it('documents every configuration variable', () => {
    for (const key of [...CONFIG_KEYS, ...SUBGRAPH_CONFIG_KEYS]) expect(readme, key).toContain(`\`${key}\``);
  });

  it('shows the two commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
