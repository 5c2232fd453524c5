import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('how the service is started', () => {
  it('the container runs node with the same flags as npm start', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start;
    const words = start.split(/\s+/);
    expect(words[0]).toBe('node');
    expect(words.at(-1)).toBe('dist/src/server.js');
    const cmd = /^CMD (\[.*\])$/m.exec(read('docker/Dockerfile'))?.[1];
    expect(cmd, 'the Dockerfile has an exec-form CMD').toBeDefined();
    expect(JSON.parse(cmd!)).toEqual(words);
  });

  it('npm start bounds how far the old generation grows before it is collected, and the young generation', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start;
    expect(start).toMatch(/--heap-growing-percent=\d+/);
    expect(start).toMatch(/--max-semi-space-size=\d+/);
    expect(read('docker/Dockerfile')).toMatch(/^ENV .*MALLOC_ARENA_MAX=2/m);
  });
});
