import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createSendQueue, sendJobId } from '../../src/queues/send-queue.js';
import { type AddressServiceSandbox, startAddressServiceSandbox } from '../../src/sandbox/address-service.js';
import { ORG_SENDER } from '../../src/sandbox/address-service-seed.js';
import { createRedis } from '../../src/store/redis.js';
import { deletePrefix } from '../helpers/harness.js';
import { arkivmeldingXml, sbd } from '../helpers/messages.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * The service reaches Redis through a proxy the test can cut: Redis is really unreachable for it, while
 * what it wrote stays in Redis for when it comes back.
 */
let sandbox: AddressServiceSandbox;
let direct: Redis;
let proxy: TcpProxy;
let redisUrl: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  sandbox = await startAddressServiceSandbox();
  const target = new URL(inject('redisUrl'));
  direct = new Redis(inject('redisUrl'));
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  const viaProxy = new URL(inject('redisUrl'));
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  redisUrl = viaProxy.toString();
});
afterEach(async () => {
  await proxy.restore();
  while (cleanups.length) await cleanups.pop()?.();
});
afterAll(async () => {
  await proxy.close();
  await sandbox.close();
  direct.disconnect();
});

/** The service with its send queue on its own connection; `beforeAdd` runs once, right before the job is added. */
async function startService(hooks: { beforeAdd?: () => Promise<void>; afterAdd?: () => Promise<void> }) {
  const prefix = `t${randomUUID().slice(0, 12)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'eip-data-'));
  const config = loadConfig({
    ORG_NUMBER: ORG_SENDER,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    SERVICE_REGISTRY_URL: sandbox.url,
    DATA_DIR: dataDir,
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    API_AUTH: 'none',
    LOG_LEVEL: 'silent',
  });
  const queueRedis = createRedis(redisUrl, 'api');
  queueRedis.on('error', () => {}); // refused connections while Redis is cut are expected here
  const queue = createSendQueue(queueRedis, `${prefix}:`);
  queue.on('error', () => {});
  const add = queue.add.bind(queue);
  let { beforeAdd, afterAdd } = hooks;
  queue.add = (async (...args: Parameters<typeof add>) => {
    const [before, after] = [beforeAdd, afterAdd];
    beforeAdd = afterAdd = undefined;
    await before?.();
    const job = await add(...args);
    await after?.();
    return job;
  }) as typeof queue.add;
  const app: FastifyInstance = await buildApp(config, { queue });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  cleanups.push(async () => {
    await app.close();
    await queue.close();
    queueRedis.disconnect();
    await deletePrefix(direct, prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> | null };
  };
  const put = (messageId: string, filename: string, body: string, type = 'application/pdf') =>
    call('PUT', `/api/messages/out/${messageId}`, body, {
      'content-type': type,
      'content-disposition': `attachment; name="Vedtak"; filename="${filename}"`,
    });
  /** A message ready to send: SBD, arkivmelding.xml and the document it names. */
  const readyMessage = async () => {
    const messageId = randomUUID();
    const created = await call(
      'POST',
      '/api/messages/out',
      JSON.stringify(sbd({ messageId, hoveddokument: 'vedtak.pdf' })),
      { 'content-type': 'application/json' },
    );
    expect(created.status).toBe(200);
    const xml = arkivmeldingXml({ files: ['vedtak.pdf'] });
    expect((await put(messageId, 'arkivmelding.xml', xml, 'text/xml')).status).toBe(200);
    expect((await put(messageId, 'vedtak.pdf', '%PDF-1.7 vedtak')).status).toBe(200);
    return messageId;
  };
  /** Polls readiness until the service reaches Redis again (a bound, not a timing assertion). */
  const untilReady = async () => {
    const deadline = Date.now() + 20_000;
    while ((await call('GET', '/health/ready')).status !== 200) {
      if (Date.now() > deadline) throw new Error('the service did not reach Redis again');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const state = (messageId: string) => direct.hget(`${prefix}:out:${messageId}`, 'state');
  const jobs = async (messageId: string) => {
    const id = sendJobId(messageId);
    const job = await queue.getJob(id);
    return {
      job,
      count: (await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).filter(
        (j) => j.id === id,
      ).length,
    };
  };
  return { call, put, readyMessage, untilReady, state, jobs };
}

describe('a send interrupted between claiming the message and adding its job', () => {
  it('Redis gone before the job is added: 503 that says to repeat the send; uploads say a send is in progress; the repeated send queues it', async () => {
    const svc = await startService({ beforeAdd: () => proxy.cut() });
    const messageId = await svc.readyMessage();

    const first = await svc.call('POST', `/api/messages/out/${messageId}`);
    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ exception: 'StoreUnavailableException' });
    expect(String(first.body?.message)).toContain(`repeat POST /api/messages/out/${messageId}`);

    await proxy.restore();
    await svc.untilReady();
    expect(await svc.state(messageId)).toBe('queuing');
    expect((await svc.jobs(messageId)).job).toBeUndefined();

    const upload = await svc.put(messageId, 'vedlegg.pdf', '%PDF-1.7 vedlegg');
    expect(upload.status).toBe(409);
    expect(upload.body).toMatchObject({ exception: 'MessageSendInProgressException' });
    expect(String(upload.body?.message)).toContain(`Repeat POST /api/messages/out/${messageId}`);

    const retried = await svc.call('POST', `/api/messages/out/${messageId}`);
    expect(retried.status).toBe(200);
    const { job, count } = await svc.jobs(messageId);
    expect(job?.data).toEqual({ messageId });
    expect(count).toBe(1);
    expect(await svc.state(messageId)).toBe('queued');
    expect((await svc.put(messageId, 'vedlegg.pdf', '%PDF-1.7 vedlegg')).body).toMatchObject({
      exception: 'MessageAlreadySentException',
    });
  });

  it('Redis gone after the job is added but before the message is marked: the repeated send finds the same job', async () => {
    const svc = await startService({ afterAdd: () => proxy.cut() });
    const messageId = await svc.readyMessage();

    expect((await svc.call('POST', `/api/messages/out/${messageId}`)).status).toBe(503);
    await proxy.restore();
    await svc.untilReady();
    expect(await svc.state(messageId)).toBe('queuing');
    expect((await svc.jobs(messageId)).count).toBe(1);

    expect((await svc.call('POST', `/api/messages/out/${messageId}`)).status).toBe(200);
    expect(await svc.state(messageId)).toBe('queued');
    expect((await svc.jobs(messageId)).count).toBe(1);
  });
});
