import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORG_DPV_ORDINARY_ONLY } from '../../src/sandbox/address-service-seed.js';
import { Crypto } from '../../src/store/crypto.js';
import { Store } from '../../src/store/store.js';
import { startBackground } from '../../src/workers/index.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { ADMINISTRASJON, sbd } from '../helpers/messages.js';
import { createConfidentialMessage } from '../helpers/outgoing.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const t0 = new Date('2026-11-02T08:00:00Z').getTime();
let nowMs = t0;
const clock = () => new Date(nowMs);

let h: Harness;
let store: Store;
let background: { close(): Promise<void> };
let r: WebhookReceiver;

beforeAll(async () => {
  h = await startHarness({ UNREAD_CHECK_INTERVAL_MS: '100', WEBHOOK_RETRY_BASE_MS: '50' }, {}, clock);
  store = new Store(h.redis, `${h.prefix}:`, new Crypto(h.config.DATA_ENCRYPTION_KEY));
  background = await startBackground(h.config, { log: h.app.log, clock });
  r = await new WebhookReceiver().start();
  const sub = await h.json('POST', '/api/subscriptions', {
    name: 'Ulest',
    pushEndpoint: r.url,
    resource: 'messages',
    event: 'unread',
  });
  expect(sub.status).toBe(200);
});
afterAll(async () => {
  await background.close();
  await r.close();
  await h.close();
});

const unread = (messageId: string) => r.events('unread').filter((e) => e.body.messageId === messageId);
const thresholds = (messageId: string) => unread(messageId).map((e) => e.body.threshold);

async function deliveredAt(messageId: string, at: number) {
  await store.addStatus(messageId, 'SENDT', { now: new Date(at - 60_000) });
  expect((await store.addStatus(messageId, 'LEVERT', { now: new Date(at) })).outcome).toBe('new');
}

type Row = Record<string, unknown>;

describe('unread confidential watchdog', () => {
  let m1: { messageId: string; conversationId: string };
  let m2: { messageId: string; conversationId: string };

  it('raises one unread notice when a LEVERT confidential message reaches the first age', async () => {
    m1 = await createConfidentialMessage(h);
    m2 = await createConfidentialMessage(h);
    await deliveredAt(m1.messageId, t0);
    await deliveredAt(m2.messageId, t0 + HOUR);

    nowMs = t0 + 3 * DAY + 2 * HOUR;
    await r.waitFor(() => unread(m1.messageId).length === 1 && unread(m2.messageId).length === 1);
    const e = unread(m1.messageId)[0]!;
    expect(e.body).toEqual({
      createdTs: expect.stringMatching(/^2026-11-05T/),
      resource: 'messages',
      event: 'unread',
      messageId: m1.messageId,
      conversationId: m1.conversationId,
      direction: 'OUTGOING',
      serviceIdentifier: 'DPV',
      receiverIdentifier: '910075946',
      levertTs: expect.stringMatching(/^2026-11-02T09:00:00\+01:00$/),
      waitedSeconds: (3 * DAY + 2 * HOUR) / 1000,
      threshold: '3d',
      description: expect.stringContaining('3 døgn og 2 timer'),
    });
    expect(e.body.description).toContain('tilgang');
    expect(thresholds(m2.messageId)).toEqual(['3d']);
  });

  it('lists waiting messages oldest first in JSON and CSV', async () => {
    const json = await h.json<Row[]>('GET', '/api/reports/unread');
    expect(json.status).toBe(200);
    const mine = json.body.filter((x) => x.messageId === m1.messageId || x.messageId === m2.messageId);
    expect(mine).toEqual([
      {
        messageId: m1.messageId,
        conversationId: m1.conversationId,
        receiverIdentifier: '910075946',
        levertTs: '2026-11-02T09:00:00+01:00',
        waitedSeconds: (3 * DAY + 2 * HOUR) / 1000,
        noticesSent: 1,
        lastNoticeTs: expect.stringMatching(/^2026-11-05T/),
      },
      expect.objectContaining({
        messageId: m2.messageId,
        noticesSent: 1,
        waitedSeconds: (3 * DAY + HOUR) / 1000,
      }),
    ]);

    for (const res of [
      await h.fetch('/api/reports/unread', { headers: { accept: 'text/csv' } }),
      await h.fetch('/api/reports/unread?format=csv'),
    ]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
      const lines = (await res.text()).trimEnd().split('\r\n');
      expect(lines[0]).toBe(
        'messageId,conversationId,receiverIdentifier,levertTs,waitedSeconds,noticesSent,lastNoticeTs',
      );
      const row = lines.find((l) => l.startsWith(m1.messageId))!;
      expect(row.split(',')).toEqual([
        m1.messageId,
        m1.conversationId,
        '910075946',
        '2026-11-02T09:00:00+01:00',
        String((3 * DAY + 2 * HOUR) / 1000),
        '1',
        mine[0]!.lastNoticeTs,
      ]);
      expect(lines.findIndex((l) => l.startsWith(m1.messageId))).toBeLessThan(
        lines.findIndex((l) => l.startsWith(m2.messageId)),
      );
    }
  });

  it('stops at LEST: no further notice and out of the report', async () => {
    await store.addStatus(m2.messageId, 'LEST', { now: new Date(nowMs) });
    const report = await h.json<Row[]>('GET', '/api/reports/unread');
    expect(report.body.map((x) => x.messageId)).not.toContain(m2.messageId);
    expect(report.body.map((x) => x.messageId)).toContain(m1.messageId);
  });

  it('stops when the letter is purged (ANNET) or fails: out of the report, no watch kept', async () => {
    const purged = await createConfidentialMessage(h);
    const failed = await createConfidentialMessage(h);
    for (const m of [purged, failed]) await deliveredAt(m.messageId, t0 + 2 * HOUR);
    await store.addStatus(purged.messageId, 'ANNET', { now: new Date(nowMs) });
    await store.addStatus(failed.messageId, 'FEIL', { now: new Date(nowMs) });
    const report = await h.json<Row[]>('GET', '/api/reports/unread');
    const listed = report.body.map((x) => x.messageId);
    expect(listed).not.toContain(purged.messageId);
    expect(listed).not.toContain(failed.messageId);
    expect(listed).toContain(m1.messageId);
    // Once the fan-out has seen both, neither is watched any more.
    const watched = async () =>
      (await h.redis.exists(
        `${h.prefix}:unread:m:${purged.messageId}`,
        `${h.prefix}:unread:m:${failed.messageId}`,
      )) + ((await h.redis.zscore(`${h.prefix}:unread:levert`, purged.messageId)) ? 1 : 0);
    for (let i = 0; i < 100 && (await watched()) > 0; i++) await new Promise((res) => setTimeout(res, 100));
    expect(await watched()).toBe(0);
  });

  it('after a restart, repeats no notice and sends the one that fell due while it was down', async () => {
    await background.close();
    nowMs = t0 + 7 * DAY + 3 * HOUR;
    // Nothing runs while stopped.
    expect(thresholds(m1.messageId)).toEqual(['3d']);
    background = await startBackground(h.config, { log: h.app.log, clock });
    await r.waitFor(() => unread(m1.messageId).length === 2);
    expect(thresholds(m1.messageId)).toEqual(['3d', '7d']);
    expect(unread(m1.messageId)[1]!.body.waitedSeconds).toBe((7 * DAY + 3 * HOUR) / 1000);

    // Stop and start again with nothing new due: no repeats.
    await background.close();
    background = await startBackground(h.config, { log: h.app.log, clock });
    nowMs = t0 + 14 * DAY + 1000;
    await r.waitFor(() => unread(m1.messageId).length === 3);
    expect(thresholds(m1.messageId)).toEqual(['3d', '7d', '14d']);
    // m2 was read before its 7d age: nothing after LEST, not even in the same ticks that sent m1's.
    expect(thresholds(m2.messageId)).toEqual(['3d']);
    expect(await h.redis.exists(`${h.prefix}:notice:unread-${m2.messageId}-1`)).toBe(0);

    const report = await h.json<Row[]>('GET', '/api/reports/unread');
    expect(report.body.find((x) => x.messageId === m1.messageId)).toMatchObject({ noticesSent: 3 });
  });

  it('leaves ordinary (not confidential) post alone', async () => {
    const created = await h.json(
      'POST',
      '/api/messages/out',
      sbd({ receiver: ORG_DPV_ORDINARY_ONLY, process: ADMINISTRASJON }),
    );
    expect(created.status).toBe(200);
    const mid = (
      created.body.standardBusinessDocumentHeader as {
        documentIdentification: { instanceIdentifier: string };
      }
    ).documentIdentification.instanceIdentifier;
    const marker = await createConfidentialMessage(h);
    await deliveredAt(mid, nowMs);
    await deliveredAt(marker.messageId, nowMs);
    nowMs += 4 * DAY;
    // The confidential one delivered at the same time is the barrier: both were looked at in the same ticks.
    await r.waitFor(() => unread(marker.messageId).length === 1);
    expect(unread(mid)).toEqual([]);
    expect(await h.redis.exists(`${h.prefix}:unread:m:${mid}`)).toBe(0);
    const report = await h.json<Row[]>('GET', '/api/reports/unread');
    expect(report.body.map((x) => x.messageId)).not.toContain(mid);
  });

  it('raises every age that fell due while down, each once', async () => {
    const m3 = await createConfidentialMessage(h);
    await background.close();
    await deliveredAt(m3.messageId, nowMs);
    nowMs += 8 * DAY;
    background = await startBackground(h.config, { log: h.app.log, clock });
    await r.waitFor(() => unread(m3.messageId).length === 2);
    expect(thresholds(m3.messageId).sort()).toEqual(['3d', '7d']);
  });
});
