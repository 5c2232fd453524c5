import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config.js';

describe('README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  it('documents every setting', () => {
    const missing = Object.keys(configSchema.shape).filter((k) => !readme.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });
  it('starts with two commands: install and the demo', () => {
    expect(readme).toMatch(/## Quick start\n\n```sh\nnpm ci\nnpm run demo\n```/);
  });
  it('shows the test command', () => {
    expect(readme).toMatch(/```sh\nnpm test\n```/);
  });
});
