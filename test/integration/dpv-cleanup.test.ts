import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvitteringMessageId } from '../../src/domain/kvittering.js';
import { ORG_NO_CONFIDENTIAL_ROLES } from '../../src/sandbox/address-service-seed.js';
import {
  type DpvHarness,
  filesOf,
  sendMessage,
  startDpvHarness,
  waitFor,
  waitForStatus,
} from '../helpers/dpv.js';

let h: DpvHarness;

beforeAll(async () => {
  h = await startDpvHarness({
    // Published only when the test says so, so each step can be looked at.
    altinn: { publishDelayMs: 3_600_000 },
    env: { UNREAD_ALERT_AFTER: '1s', UNREAD_CHECK_INTERVAL_MS: '100' },
  });
});
afterAll(async () => {
  await h?.close();
});

interface ConversationJson {
  messageId: string;
  finished: boolean;
  pollable?: boolean;
  externalSystemReference?: string;
  notificationOutcome?: string;
  messageStatuses: { status: string }[];
}

async function conversations(query: string): Promise<string[]> {
  const r = await h.json<{ content: ConversationJson[] }>('GET', `/api/conversations?${query}&size=100`);
  expect(r.status).toBe(200);
  return r.body.content.map((c) => c.messageId).sort();
}

async function polled(): Promise<string[]> {
  const ids: string[] = [];
  for (const id of await conversations('direction=OUTGOING'))
    if ((await h.delivery.nextPollAt(id)) !== null) ids.push(id);
  return ids.sort();
}

const correspondenceOf = (messageId: string) =>
  h.altinn.correspondences().find((c) => c.idempotentKey?.toLowerCase() === messageId)!;

describe('after transport the outgoing message goes; the conversation stays and is followed', () => {
  it('SENDT deletes the message and its files; LEVERT, kvittering, unread notice and LEST still come', async () => {
    const messageId = await sendMessage(h, {
      files: { 'vedtak.pdf': Buffer.from('%PDF-1.7 vedtak'), 'vedlegg.pdf': Buffer.from('%PDF-1.7 vedlegg') },
    });
    await waitForStatus(h, messageId, 'SENDT');
    // The reference's §1.2 (4): the message and its files are deleted after transport.
    await waitFor(
      async () => (await h.fetch(`/api/messages/out/${messageId}`)).status === 404,
      'the message to be deleted',
    );
    const gone = await h.json<{ exception: string }>('GET', `/api/messages/out/${messageId}`);
    expect(gone.status).toBe(404);
    const list = await h.json<{ content: unknown[] }>('GET', `/api/messages/out?messageId=${messageId}`);
    expect(list.body.content).toEqual([]);
    expect(await filesOf(h, messageId)).toEqual([]);
    expect(await h.store.getSbdJson(messageId)).toBeNull();
    expect(await h.store.listFiles(messageId)).toEqual([]);
    // History stays: statuses and the conversation, with the correspondence id.
    const conv = await h.json<ConversationJson>('GET', `/api/conversations/messageId/${messageId}`);
    expect(conv.status).toBe(200);
    expect(conv.body.messageStatuses.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT']);
    expect(conv.body.externalSystemReference).toBe(correspondenceOf(messageId).correspondenceId);
    expect(conv.body.finished).toBe(false);
    expect(conv.body).not.toHaveProperty('pollable');
    // What polling and the unread watch need is kept beside it.
    expect(await h.delivery.state(messageId)).toMatchObject({
      correspondenceId: correspondenceOf(messageId).correspondenceId,
      confidential: true,
    });

    await h.altinn.publishNow(correspondenceOf(messageId).correspondenceId);
    await waitForStatus(h, messageId, 'LEVERT');
    await waitFor(
      async () => (await h.incoming.getSbdJson(kvitteringMessageId(messageId))) ?? undefined,
      'kvittering',
    );
    const outcome = await waitFor(async () => {
      const c = await h.json<ConversationJson>('GET', `/api/conversations/messageId/${messageId}`);
      return c.body.notificationOutcome;
    }, 'notification outcome');
    expect(outcome).toBe('Varselet om meldingen er sendt til mottakeren på e-post.');
    // A confidential message LEVERT and unread: the watchdog raises its notice though the message is gone.
    const unread = await waitFor(async () => {
      const r = await h.json<{ messageId: string; noticesSent: number }[]>('GET', '/api/reports/unread');
      const row = r.body.find((u) => u.messageId === messageId);
      return row && row.noticesSent >= 1 ? row : undefined;
    }, 'unread notice');
    expect(unread.noticesSent).toBe(1);

    await h.altinn.read(correspondenceOf(messageId).correspondenceId);
    const all = await waitForStatus(h, messageId, 'LEST');
    expect(all.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT', 'LEVERT', 'LEST']);
    // Polling over: the delivery facts go too.
    await waitFor(async () => (await h.delivery.state(messageId)).correspondenceId === undefined, 'forget');
    expect(await h.delivery.nextPollAt(messageId)).toBeNull();
    const r = await h.json<{ messageId: string }[]>('GET', '/api/reports/unread');
    expect(r.body.map((u) => u.messageId)).not.toContain(messageId);
  });

  it('GET /api/conversations?pollable=true lists exactly the conversations being polled', async () => {
    const delivered = await sendMessage(h);
    const refused = await sendMessage(h, { receiver: ORG_NO_CONFIDENTIAL_ROLES });
    const waiting = await sendMessage(h);
    await waitForStatus(h, waiting, 'SENDT');
    await h.altinn.publishNow(correspondenceOf(delivered).correspondenceId);
    await waitForStatus(h, delivered, 'LEVERT');
    await h.altinn.publishNow(correspondenceOf(refused).correspondenceId);
    await waitForStatus(h, refused, 'FEIL');
    await waitFor(async () => (await h.delivery.nextPollAt(refused)) === null, 'polling of FEIL to stop');

    const expected = [delivered, waiting].sort();
    expect(await polled()).toEqual(expected);
    expect(await conversations('pollable=true')).toEqual(expected);
    expect(await conversations('pollable=true&direction=OUTGOING')).toEqual(expected);
    // LEVERT is finished and still polled (for LEST); FEIL is finished and not polled.
    expect(await conversations('pollable=true&finished=true')).toEqual([delivered]);
    expect(await conversations('pollable=true&finished=false')).toEqual([waiting]);
    expect(await conversations('pollable=false&finished=true')).toContain(refused);
    expect(await conversations('pollable=false')).not.toContain(delivered);

    await h.altinn.read(correspondenceOf(delivered).correspondenceId);
    await waitForStatus(h, delivered, 'LEST');
    await waitFor(async () => (await h.delivery.nextPollAt(delivered)) === null, 'polling to stop');
    expect(await polled()).toEqual([waiting]);
    expect(await conversations('pollable=true')).toEqual([waiting]);
    expect(await conversations('pollable=false&finished=true')).toEqual(
      expect.arrayContaining([delivered, refused]),
    );
  });
});
