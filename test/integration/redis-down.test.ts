import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { startAddressServiceSandbox } from '../../src/sandbox/address-service.js';
import { sbd } from '../helpers/messages.js';

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('Redis unavailable', () => {
  it('answers 503 with a clear message, not 500, and readiness says DOWN', async () => {
    const sandbox = await startAddressServiceSandbox();
    const app = await buildApp(
      loadConfig({
        ORG_NUMBER: '910077473',
        REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
        SERVICE_REGISTRY_URL: sandbox.url,
        DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        API_AUTH: 'none',
        LOG_LEVEL: 'silent',
      }),
    );
    try {
      const res = await app.inject({ method: 'POST', url: '/api/messages/out', payload: sbd() });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ exception: 'StoreUnavailableException', status: 503 });
      const ready = await app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({ status: 'DOWN', checks: { redis: 'DOWN', delivery: 'NOT_CONFIGURED' } });
      expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    } finally {
      await app.close();
      await sandbox.close();
    }
  });
});
