import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import {
  type AddressServiceSandbox,
  type AddressServiceSandboxOptions,
  startAddressServiceSandbox,
} from '../../src/sandbox/address-service.js';
import { ORG_SENDER } from '../../src/sandbox/address-service-seed.js';

export interface Harness {
  app: FastifyInstance;
  config: Config;
  sandbox: AddressServiceSandbox;
  redis: Redis;
  base: string;
  prefix: string;
  dataDir: string;
  logs: string[];
  auth: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  json<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/** The service on a real port, the sandbox address service over real HTTP, and Redis under a fresh prefix. */
export async function startHarness(
  env: Record<string, string> = {},
  sandboxOpts: AddressServiceSandboxOptions = {},
  clock?: () => Date,
): Promise<Harness> {
  const redisUrl = inject('redisUrl');
  const prefix = `t${randomUUID().slice(0, 12)}`;
  const sandbox = await startAddressServiceSandbox(sandboxOpts);
  const dataDir = mkdtempSync(join(tmpdir(), 'eip-data-'));
  const config = loadConfig({
    ORG_NUMBER: ORG_SENDER,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    SERVICE_REGISTRY_URL: sandbox.url,
    DATA_DIR: dataDir,
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    API_USERNAME: 'fagsystem',
    API_PASSWORD: 'riktig-hest-batteri',
    LOG_LEVEL: 'info',
    ...env,
  });
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const app = await buildApp(config, { logStream, ...(clock ? { clock } : {}) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const auth = `Basic ${Buffer.from('fagsystem:riktig-hest-batteri').toString('base64')}`;
  const redis = new Redis(redisUrl);
  const client = apiClient(base, auth);
  return {
    app,
    config,
    sandbox,
    redis,
    base,
    prefix,
    dataDir,
    logs,
    auth,
    ...client,
    async close() {
      await app.close();
      await sandbox.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Authenticated requests to a service at `base`: raw (fetch) or JSON in and out (json). */
export function apiClient(base: string, auth: string): Pick<Harness, 'fetch' | 'json'> {
  const doFetch = (path: string, init: RequestInit = {}) =>
    fetch(base + path, {
      ...init,
      headers: { authorization: auth, ...(init.headers as Record<string, string>) },
    });
  return {
    fetch: doFetch,
    async json(method, path, body) {
      const res = await doFetch(path, {
        method,
        ...(body !== undefined
          ? {
              body: typeof body === 'string' ? body : JSON.stringify(body),
              headers: { 'content-type': 'application/json' },
            }
          : {}),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as never };
    },
  };
}

/** Deletes this run's keys only: never flush a server we did not start. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}
