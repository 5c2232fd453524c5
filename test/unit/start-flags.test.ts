import { execFile } from 'node:child_process';
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

/**
 * The outbound HTTP client (undici) parses answers with a WebAssembly build of llhttp. Once its functions are hot,
 * V8 recompiles them with its optimising tier on a background thread, and that compile holds 30–40 MB of compiler
 * memory at once; the allocator keeps those pages, so they showed up as the service's peak RSS under load.
 */
describe('outbound HTTP under the flags npm start uses', () => {
  it('does not recompile the HTTP parser with the optimising WebAssembly tier (the peak of compiler memory stays small)', async () => {
    const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start;
    const flags = start.split(/\s+/).slice(1, -1);
    const script = `
      const http = require('node:http');
      const v8 = require('node:v8');
      const { Agent, request } = require('undici');
      const answer = JSON.stringify({ id: 'x'.repeat(400) });
      const server = http.createServer((q, r) => { q.resume(); q.on('end', () => r.end(answer)); });
      server.listen(0, '127.0.0.1', async () => {
        const agent = new Agent({ connections: 4 });
        const url = 'http://127.0.0.1:' + server.address().port + '/';
        for (let i = 0; i < 2500; i++) {
          const res = await request(url, { method: 'POST', body: 'y'.repeat(1000), dispatcher: agent });
          await res.body.text();
        }
        await agent.close();
        server.close();
        process.stdout.write(String(v8.getHeapStatistics().peak_malloced_memory));
      });`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [...flags, '-e', script],
        { cwd: new URL('../..', import.meta.url), timeout: 60_000 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    });
    const peakMb = Number(out) / 1024 / 1024;
    expect(Number.isFinite(peakMb) && peakMb > 0, `child printed ${out}`).toBe(true);
    // Measured: 33–40 MB with V8's default tiering, 4–6 MB with the baseline tier only.
    expect(peakMb).toBeLessThan(16);
  }, 90_000);
});
