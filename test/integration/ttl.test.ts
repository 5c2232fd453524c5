import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { TTL_EXPIRED_AFTER_SENDT_DESCRIPTION, TTL_EXPIRED_DESCRIPTION } from '../../src/domain/status.js';
import { scheduleExpiry, type TtlJobData } from '../../src/queues/ttl-queue.js';
import { Crypto } from '../../src/store/crypto.js';
import { IncomingStore } from '../../src/store/incoming.js';
import { Store } from '../../src/store/store.js';
import { startBackground } from '../../src/workers/index.js';
import { TTL_EXPIRED_INCOMING_DESCRIPTION, TtlWorker } from '../../src/workers/ttl.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { receipt } from '../helpers/incoming.js';
import { arkivmeldingXml, sbd } from '../helpers/messages.js';

const HOUR = 3_600_000;

/** Polls until `check` returns true, for at most `ms`; no fixed sleeps. */
async function waitFor(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Env {
  h: Harness;
  store: Store;
  incoming: IncomingStore;
  sendQueue: Queue;
  ttlQueue: Queue;
  close(): Promise<void>;
}

async function env(clock?: () => Date): Promise<Env> {
  const h = await startHarness({}, {}, clock);
  const crypto = new Crypto(h.config.DATA_ENCRYPTION_KEY);
  const sendQueue = new Queue('send', { connection: h.redis, prefix: `${h.prefix}:bull` });
  const ttlQueue = new Queue('ttl', { connection: h.redis, prefix: `${h.prefix}:bull` });
  return {
    h,
    store: new Store(h.redis, `${h.prefix}:`, crypto),
    incoming: new IncomingStore(h.redis, `${h.prefix}:`, crypto),
    sendQueue,
    ttlQueue,
    async close() {
      await sendQueue.close();
      await ttlQueue.close();
      await h.close();
    },
  };
}

/** Creates (and, with `send`, uploads and sends) a taushetsbelagt message expiring at `expiry`. */
async function outgoing(e: Env, expiry: Date, send = true): Promise<string> {
  const messageId = randomUUID();
  const doc = sbd({ messageId, expectedResponseDateTime: expiry.toISOString() });
  if (!send) {
    expect((await e.h.json('POST', '/api/messages/out', doc)).status).toBe(200);
    return messageId;
  }
  const form = new FormData();
  form.append('sbd', JSON.stringify(doc));
  form.append('Arkivmelding', new Blob([arkivmeldingXml({ files: ['a.pdf'] })]), 'arkivmelding.xml');
  form.append('Vedtak', new Blob(['%PDF-1.7 a'], { type: 'application/pdf' }), 'a.pdf');
  const res = await e.h.fetch('/api/messages/out/multipart', { method: 'POST', body: form });
  expect(res.status, await res.clone().text()).toBe(200);
  return messageId;
}

async function statuses(e: Env, messageId: string): Promise<{ status: string; description?: string }[]> {
  const conv = await e.store.getConversationByMessageId(messageId);
  return (await e.store.statusesOfConversation(conv!.id)).map((s) => ({
    status: s.status,
    ...(s.description ? { description: s.description } : {}),
  }));
}
const names = async (e: Env, id: string) => (await statuses(e, id)).map((s) => s.status);

function ttlConfig(e: Env, over: Partial<Config> = {}): Config {
  return { ...e.h.config, ...over };
}

describe('TTL with an injected clock', () => {
  let e: Env;
  let now = new Date();
  let ttl: TtlWorker;
  beforeAll(async () => {
    e = await env(() => now);
    ttl = new TtlWorker(ttlConfig(e), { clock: () => now });
  });
  afterAll(async () => {
    await ttl.close();
    await e.close();
  });

  it('expires a message that was never sent; sending it afterwards is refused', async () => {
    const id = await outgoing(e, new Date(now.getTime() + HOUR), false);
    expect(await ttl.sweep()).toBe(0);
    expect(await names(e, id)).toEqual(['OPPRETTET']);
    now = new Date(now.getTime() + HOUR);
    expect(await ttl.sweep()).toBe(1);
    expect(await statuses(e, id)).toEqual([
      { status: 'OPPRETTET' },
      { status: 'LEVETID_UTLOPT', description: TTL_EXPIRED_DESCRIPTION },
    ]);
    const conv = await e.h.json<{ finished: boolean }>('GET', `/api/conversations/messageId/${id}`);
    expect(conv.body.finished).toBe(true);
    const send = await e.h.json<{ exception: string }>('POST', `/api/messages/out/${id}`);
    expect(send.status).toBe(400);
    expect(send.body.exception).toBe('TimeToLiveException');
    expect(await e.sendQueue.getJob(`send-${id}`)).toBeUndefined();
    expect(await names(e, id)).toEqual(['OPPRETTET', 'LEVETID_UTLOPT']);
    expect(await ttl.sweep()).toBe(0);
  });

  it('expires a queued message and takes its send job off the queue', async () => {
    const id = await outgoing(e, new Date(now.getTime() + HOUR));
    expect(await (await e.sendQueue.getJob(`send-${id}`))?.getState()).toBe('waiting');
    const ttlJob = await e.ttlQueue.getJob(`ttl-${id}`);
    expect(await ttlJob?.getState()).toBe('delayed');
    expect(ttlJob?.data).toEqual({ messageId: id });
    expect(ttlJob!.opts.delay).toBe(HOUR);
    now = new Date(now.getTime() + HOUR + 1);
    expect(await ttl.expire(id)).toBe('expired');
    expect(await names(e, id)).toEqual(['OPPRETTET', 'LEVETID_UTLOPT']);
    expect(await e.sendQueue.getJob(`send-${id}`)).toBeUndefined();
    // A repeat (the sweep after the job) writes nothing new.
    expect(await ttl.expire(id)).toBe('finished');
    expect(await names(e, id)).toEqual(['OPPRETTET', 'LEVETID_UTLOPT']);
  });

  it('expires a message after SENDT', async () => {
    const id = await outgoing(e, new Date(now.getTime() + HOUR));
    expect((await e.store.addStatus(id, 'SENDT', { now })).outcome).toBe('new');
    now = new Date(now.getTime() + 2 * HOUR);
    expect(await ttl.sweep()).toBe(1);
    expect(await names(e, id)).toEqual(['OPPRETTET', 'SENDT', 'LEVETID_UTLOPT']);
    // Altinn has it already: the status must not tell the fagsystem to simply send it again.
    const expired = (await statuses(e, id)).find((s) => s.status === 'LEVETID_UTLOPT');
    expect(expired?.description).toBe(TTL_EXPIRED_AFTER_SENDT_DESCRIPTION);
  });

  it('never expires a message after LEVERT; LEVERT takes it out of the expiry index', async () => {
    const id = await outgoing(e, new Date(now.getTime() + HOUR));
    await e.store.addStatus(id, 'SENDT', { now });
    expect(await e.store.expiryIndexed(id)).not.toBeNull();
    await e.store.addStatus(id, 'LEVERT', { now });
    expect(await e.store.expiryIndexed(id)).toBeNull();
    now = new Date(now.getTime() + 2 * HOUR);
    expect(await ttl.sweep()).toBe(0);
    expect(await ttl.expire(id)).toBe('finished');
    expect(await names(e, id)).toEqual(['OPPRETTET', 'SENDT', 'LEVERT']);
    // Nor through the one status writer.
    expect((await e.store.addStatus(id, 'LEVETID_UTLOPT', { now })).outcome).toBe('refused');
  });

  it('removes an expired incoming message and registers LEVETID_UTLOPT on its conversation', async () => {
    const r = { ...receipt(), expiry: new Date(now.getTime() + HOUR).toISOString(), now };
    expect(await e.incoming.addIncoming(r)).toEqual({ outcome: 'new' });
    const kept = { ...receipt(), now };
    expect(await e.incoming.addIncoming(kept)).toEqual({ outcome: 'new' });
    now = new Date(now.getTime() + HOUR);
    expect(await ttl.sweep()).toBe(1);
    expect(await statuses(e, r.messageId)).toEqual([
      { status: 'OPPRETTET' },
      { status: 'INNKOMMENDE_MOTTATT' },
      { status: 'LEVETID_UTLOPT', description: TTL_EXPIRED_INCOMING_DESCRIPTION },
    ]);
    expect(await e.incoming.getIncoming(r.messageId)).toBeNull();
    const list = await e.h.json<{ totalElements: number }>(
      'GET',
      `/api/messages/in?messageId=${r.messageId}`,
    );
    expect(list.body.totalElements).toBe(0);
    // The one without an expiry stays.
    const peek = await e.h.fetch('/api/messages/in/peek');
    expect(peek.status).toBe(200);
    expect(JSON.parse(await peek.text())).toEqual(JSON.parse(kept.sbdJson));
  });
});

describe('a backlog of expiries (after downtime)', () => {
  let e: Env;
  let now = new Date();
  const BACKLOG = 60;
  beforeAll(async () => {
    e = await env(() => now);
  });
  afterAll(async () => e.close());

  /** Counts expire() calls on `ttl`, and the most ever in flight at once; `onFirst` runs as the first one starts. */
  function watch(ttl: TtlWorker, onFirst?: () => void) {
    const seen = { calls: 0, inFlight: 0, maxInFlight: 0 };
    const expire = ttl.expire.bind(ttl);
    ttl.expire = async (messageId: string) => {
      if (seen.calls++ === 0) onFirst?.();
      seen.inFlight++;
      seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
      try {
        return await expire(messageId);
      } finally {
        seen.inFlight--;
      }
    };
    return seen;
  }

  it('is expired a few at a time, and a close() during the sweep stops it; the next sweep does the rest', async () => {
    now = new Date();
    const ids: string[] = [];
    for (let i = 0; i < BACKLOG; i++) ids.push(await outgoing(e, new Date(now.getTime() + HOUR), false));
    now = new Date(now.getTime() + 2 * HOUR);

    const first = new TtlWorker(ttlConfig(e), { clock: () => now });
    // A shutdown that arrives while the first expiry runs: the group it is in finishes, the rest waits.
    let closing: Promise<void> | undefined;
    const seenFirst = watch(first, () => {
      closing = first.close();
    });
    const sweep = first.sweep();
    expect(await sweep).toBeLessThan(BACKLOG);
    await closing;
    const expiredFirst = (await Promise.all(ids.map((id) => names(e, id)))).filter((s) =>
      s.includes('LEVETID_UTLOPT'),
    ).length;
    expect(expiredFirst).toBeGreaterThan(0);
    expect(expiredFirst).toBeLessThan(BACKLOG);

    const second = new TtlWorker(ttlConfig(e), { clock: () => now });
    const seenSecond = watch(second);
    try {
      expect(await second.sweep()).toBe(BACKLOG - expiredFirst);
    } finally {
      await second.close();
    }
    for (const id of ids) expect(await names(e, id)).toEqual(['OPPRETTET', 'LEVETID_UTLOPT']);
    expect(Math.max(seenFirst.maxInFlight, seenSecond.maxInFlight)).toBeLessThanOrEqual(16);
    expect(seenSecond.maxInFlight).toBeGreaterThan(1);
  });
});

describe('the sweep (job scheduler) catches what the delayed job missed', () => {
  let e: Env;
  let now = new Date();
  beforeAll(async () => {
    e = await env(() => now);
  });
  afterAll(() => e.close());

  it('after downtime past the expiry, with the expiry job lost', async () => {
    const id = await outgoing(e, new Date(now.getTime() + HOUR));
    const job = await e.ttlQueue.getJob(`ttl-${id}`);
    await job!.remove();
    // The service is "down" (no worker) while the expiry passes.
    now = new Date(now.getTime() + 3 * HOUR);
    // Started as the server starts it.
    const background = await startBackground(ttlConfig(e, { TTL_SWEEP_INTERVAL_MS: 200 }), {
      clock: () => now,
      log: pino({ level: 'silent' }),
    });
    try {
      await waitFor(async () => (await names(e, id)).includes('LEVETID_UTLOPT'));
      expect(await names(e, id)).toEqual(['OPPRETTET', 'LEVETID_UTLOPT']);
      expect(await e.sendQueue.getJob(`send-${id}`)).toBeUndefined();
      const schedulers = await e.ttlQueue.getJobSchedulers();
      expect(schedulers.map((s) => [s.key, s.every])).toEqual([['ttl-sweep', 200]]);
    } finally {
      await background.close();
    }
  });
});

describe('the delayed expiry job, in real time', () => {
  let e: Env;
  let ttl: TtlWorker;
  beforeAll(async () => {
    e = await env();
    // A sweep interval far beyond the test: only the per-message job can expire the message.
    ttl = new TtlWorker(ttlConfig(e, { TTL_SWEEP_INTERVAL_MS: 24 * HOUR }));
    await ttl.start();
  });
  afterAll(async () => {
    await ttl.close();
    await e.close();
  });

  it('fires at expectedResponseDateTime for a queued message', async () => {
    const expiry = new Date(Date.now() + 5000);
    const id = await outgoing(e, expiry);
    expect(await e.store.expiryIndexed(id)).toBe(expiry.getTime());
    expect(await names(e, id)).toEqual(['OPPRETTET']);
    // The status is written first, then the send job is taken off the queue: wait for both.
    await waitFor(
      async () =>
        (await names(e, id)).includes('LEVETID_UTLOPT') && !(await e.sendQueue.getJob(`send-${id}`)),
      20_000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(expiry.getTime());
    expect(await e.store.expiryIndexed(id)).toBeNull();
  });
});

describe('an expiry job that fires before the deadline by our clock', () => {
  let e: Env;
  const now = new Date();
  beforeAll(async () => {
    e = await env(() => now);
  });
  afterAll(() => e.close());

  it('is put back as delayed and expires nothing', async () => {
    const id = await outgoing(e, new Date(now.getTime() + HOUR), false);
    // As if the job were scheduled with a clock ahead of ours.
    await scheduleExpiry(e.ttlQueue as Queue<TtlJobData>, id, now.getTime() + HOUR, now.getTime() + HOUR);
    const ttl = new TtlWorker(ttlConfig(e, { TTL_SWEEP_INTERVAL_MS: 24 * HOUR }), { clock: () => now });
    try {
      await ttl.start();
      await waitFor(async () => {
        const job = await e.ttlQueue.getJob(`ttl-${id}`);
        return (await job?.getState()) === 'delayed' && (job?.attemptsStarted ?? 0) > 0;
      });
      expect(await names(e, id)).toEqual(['OPPRETTET']);
      expect(await e.store.expiryIndexed(id)).not.toBeNull();
    } finally {
      await ttl.close();
    }
  });
});
