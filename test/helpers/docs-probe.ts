import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

/**
 * Run as a child process (a fresh module graph): builds the app and reports whether the docs UI module is
 * loaded before and after the first /api-docs request.
 */
const require = createRequire(import.meta.url);
const uiEntry = require.resolve('@fastify/swagger-ui');
const loaded = () => Object.hasOwn(require.cache, uiEntry);

const app = await buildApp(
  loadConfig({
    ORG_NUMBER: '910077473',
    REDIS_URL: process.env.PROBE_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: process.env.PROBE_PREFIX ?? 'docsprobe',
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    API_AUTH: 'none',
    LOG_LEVEL: 'silent',
  }),
);
await app.ready();
const afterBuild = loaded();
const page = await app.inject('/api-docs');
const json = await app.inject('/api-docs/json');
const openapi = await app.inject('/openapi.json');
const result = {
  afterBuild,
  afterRequest: loaded(),
  pageStatus: page.statusCode,
  pageType: String(page.headers['content-type']),
  jsonStatus: json.statusCode,
  jsonTitle: (json.json() as { info?: { title?: string } }).info?.title,
  jsonIsOpenapi: openapi.statusCode === 200 && json.body === openapi.body,
};
await app.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
