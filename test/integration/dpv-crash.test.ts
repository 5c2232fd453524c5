import { type ChildProcess, fork } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DpvHarness,
  STATIC_TOKEN,
  sendMessage,
  startDpvHarness,
  statusesOf,
  waitFor,
  waitForStatus,
} from '../helpers/dpv.js';

let h: DpvHarness;
let child: ChildProcess | undefined;

beforeAll(async () => {
  h = await startDpvHarness({ env: { SEND_JOB_LOCK_MS: '1000' } });
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await h.close();
});

describe('a worker process killed between Altinn’s 200 and the status write', () => {
  it('restarted: one correspondence in Altinn, status SENDT once', async () => {
    await h.stopBackground();
    const c = h.config;
    child = fork(new URL('../helpers/crash-worker.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        ORG_NUMBER: c.ORG_NUMBER,
        REDIS_URL: c.REDIS_URL,
        REDIS_PREFIX: c.REDIS_PREFIX,
        SERVICE_REGISTRY_URL: c.SERVICE_REGISTRY_URL,
        DATA_DIR: c.DATA_DIR,
        DATA_ENCRYPTION_KEY: c.DATA_ENCRYPTION_KEY.toString('base64'),
        ALTINN_CORRESPONDENCE_URL: c.ALTINN_CORRESPONDENCE_URL,
        ALTINN_TOKEN: STATIC_TOKEN,
        API_AUTH: 'none',
        SEND_JOB_LOCK_MS: '1000',
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const messages: { uploaded?: number; ready?: boolean }[] = [];
    child.on('message', (m) => messages.push(m as never));
    await waitFor(async () => messages.some((m) => m.ready), 'the child worker to start');

    const messageId = await sendMessage(h);
    await waitFor(async () => messages.some((m) => m.uploaded === 200), 'Altinn to answer the child');
    child.kill('SIGKILL');
    await waitFor(async () => child!.exitCode !== null || child!.signalCode !== null, 'the child to die');
    // Altinn has it; we have nothing but OPPRETTET.
    expect((await statusesOf(h, messageId)).map((s) => s.status)).toEqual(['OPPRETTET']);

    await h.restartBackground();
    const statuses = await waitForStatus(h, messageId, 'SENDT');
    expect(statuses.filter((s) => s.status === 'SENDT')).toHaveLength(1);
    const created = h.altinn.correspondences().filter((x) => x.idempotentKey?.toLowerCase() === messageId);
    expect(created).toHaveLength(1);
    expect(
      h.altinn.uploads.filter((u) => u.fields.idempotentKey?.[0] === messageId).map((u) => u.status),
    ).toEqual([200, 409]);
    expect((await h.delivery.state(messageId)).correspondenceId).toBe(created[0]!.correspondenceId);
    await waitForStatus(h, messageId, 'LEVERT');
  });

  it('killed after recording the correspondence but before SENDT: finished without asking Altinn again', async () => {
    await h.stopBackground();
    const messageId = await sendMessage(h);
    // What a process that died right after recording Altinn's answer leaves behind.
    await h.delivery.markSent(messageId, {
      correspondenceId: '01900000-0000-7000-8000-000000000001',
      reminder: true,
      confidential: true,
      now: Date.now(),
      firstPollAt: Date.now() + 60_000,
    });
    const before = h.altinn.uploads.length;
    await h.restartBackground({ parts: { send: true } });
    const statuses = await waitForStatus(h, messageId, 'SENDT');
    expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT']);
    expect(h.altinn.uploads.length).toBe(before);
  });

  it('a poll that overtakes the SENDT write registers SENDT before LEVERT', async () => {
    await h.stopBackground();
    const published = h.altinn.correspondences().find((x) => x.published)!;
    const messageId = await sendMessage(h);
    // The sender recorded Altinn's answer and is about to write SENDT; the poller gets there first.
    await h.delivery.markSent(messageId, {
      correspondenceId: published.correspondenceId,
      reminder: true,
      confidential: true,
      now: Date.now(),
      firstPollAt: Date.now(),
    });
    await h.restartBackground({ parts: { statusPoll: true } });
    const statuses = await waitForStatus(h, messageId, 'LEVERT');
    expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT', 'LEVERT']);
  });
});
