import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, inject, it } from 'vitest';
import { stableJson } from '../../scripts/openapi-spec.js';
import { freePort } from '../../src/demo/redis.js';

const run = promisify(execFile);

it('does not load the docs UI until /api-docs is requested, then serves it', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/helpers/docs-probe.ts'], {
    env: {
      ...process.env,
      PROBE_REDIS_URL: inject('redisUrl'),
      PROBE_PREFIX: `t${randomUUID().slice(0, 12)}`,
    },
  });
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  expect(result).toEqual({
    afterBuild: false,
    afterRequest: true,
    pageStatus: 200,
    pageType: 'text/html; charset=utf-8',
    jsonStatus: 200,
    jsonTitle: 'eFormidling integration point for confidential post',
    jsonIsOpenapi: true,
  });
});

/** What serving messages never needs: each must stay unloaded until a request for it. */
const NOT_AT_START = [
  '/node_modules/@fastify/swagger/',
  '/node_modules/@fastify/swagger-ui/',
  '/node_modules/yaml/',
  '/node_modules/json-schema-resolver/',
  '/node_modules/jose/',
  '/node_modules/mime-types/',
  '/node_modules/mime-db/',
  '/node_modules/nodemailer/',
  '/node_modules/undici/',
  '/node_modules/ajv/',
  '/node_modules/@fastify/ajv-compiler/',
  '/node_modules/@fastify/fast-json-stringify-compiler/',
  '/src/sandbox/',
  '/src/demo/',
];

const loadedOf = (modules: string[], parts: string[]) =>
  parts.filter((part) => modules.some((url) => url.includes(part)));

it('starts the server without the OpenAPI generator, jose, mime-types or undici, and builds the same document on request', async () => {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'startup-'));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './test/helpers/module-log.mjs', 'src/server.ts'],
    {
      env: {
        ...process.env,
        ORG_NUMBER: '910075946',
        REDIS_URL: inject('redisUrl'),
        REDIS_PREFIX: `t${randomUUID().slice(0, 12)}`,
        SERVICE_REGISTRY_URL: 'http://127.0.0.1:9',
        DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        API_USERNAME: 'user',
        API_PASSWORD: 'a-password',
        LOG_LEVEL: 'error',
        DATA_DIR: dataDir,
        HOST: '127.0.0.1',
        PORT: String(port),
      },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const modules = () =>
    new Promise<string[]>((resolve) => {
      child.once('message', (m) => resolve(m as string[]));
      child.send('modules');
    });
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 40_000;
    for (;;) {
      const status = await fetch(`${base}/health/ready`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`the server did not become ready:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const atStart = await modules();
    // The log sees both kinds of module: CommonJS (fastify, bullmq) and ESM (our own files).
    expect(
      loadedOf(atStart, ['/node_modules/fastify/', '/node_modules/bullmq/', '/src/app.ts']),
    ).toHaveLength(3);
    expect(loadedOf(atStart, NOT_AT_START)).toEqual([]);

    const res = await fetch(`${base}/openapi.json`);
    expect(res.status).toBe(200);
    const committed = readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8');
    expect(stableJson(await res.json())).toBe(committed);
    const again = await fetch(`${base}/openapi.json`);
    expect(stableJson(await again.json())).toBe(committed);

    const afterDocs = await modules();
    expect(loadedOf(afterDocs, NOT_AT_START)).toEqual([
      '/node_modules/@fastify/swagger/',
      '/node_modules/yaml/',
      '/node_modules/json-schema-resolver/',
    ]);
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);
