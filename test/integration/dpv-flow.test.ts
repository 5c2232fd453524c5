import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GONE_DESCRIPTION, LACKS_ROLES_DESCRIPTION } from '../../src/domain/correspondence-status.js';
import { kvitteringMessageId } from '../../src/domain/kvittering.js';
import { createSendQueue, sendJobId } from '../../src/queues/send-queue.js';
import {
  ORG_DPV_TAUSHETSBELAGT,
  ORG_NO_CONFIDENTIAL_ROLES,
  ORG_SENDER,
} from '../../src/sandbox/address-service-seed.js';
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

beforeAll(async () => {
  h = await startDpvHarness();
});
afterAll(async () => {
  await h.close();
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('taushetsbelagt post to Altinn: fagsystem → API → queue → worker → Altinn → SENDT → LEVERT → LEST', () => {
  it('uploads exactly the fields and files the spec asks for, then follows the correspondence to LEST', async () => {
    const vedtak = Buffer.from('%PDF-1.7 vedtak om tiltak, hemmelig innhold');
    const vedlegg = Buffer.from('%PDF-1.7 vedlegg');
    const ekstra = Buffer.from('%PDF-1.7 ikke referert');
    const messageId = await sendMessage(h, {
      files: { 'vedtak.pdf': vedtak, 'vedlegg.pdf': vedlegg, 'ekstra.pdf': ekstra },
      referenced: ['vedtak.pdf', 'vedlegg.pdf'],
      offentligTittel: 'Vedtak i sak 2026/4711',
      tittel: 'Vedtak om tiltak for navngitt barn',
      dpv: { varselType: 'VarselDPVMedRevarsel', varselTransportType: 'EpostOgSMS', dagerTilSvarfrist: 14 },
    });
    await waitForStatus(h, messageId, 'SENDT');

    const ups = h.altinn.uploads.filter((u) => u.fields.idempotentKey?.[0] === messageId);
    expect(ups).toHaveLength(1);
    const up = ups[0]!;
    expect(up.status).toBe(200);
    expect(up.authorization).toBe(`Bearer ${STATIC_TOKEN}`);
    const f = (k: string) => up.fields[k];
    expect(f('recipients[0]')).toEqual([`urn:altinn:organization:identifier-no:${ORG_DPV_TAUSHETSBELAGT}`]);
    expect(f('idempotentKey')).toEqual([messageId]);
    expect(f('correspondence.sendersReference')).toEqual([messageId]);
    expect(f('correspondence.resourceId')).toEqual(['eformidling-dpv-taushetsbelagt']);
    expect(f('correspondence.isConfidential')).toEqual(['true']);
    expect(f('correspondence.messageSender')).toEqual(['SANDKASSE AVSENDERETAT']);
    expect(f('correspondence.propertyList.senderOrgNumber')).toEqual([ORG_SENDER]);
    expect(f('correspondence.content.language')).toEqual(['nb']);
    expect(f('correspondence.content.messageTitle')).toEqual(['Vedtak i sak 2026/4711']);
    expect(f('correspondence.content.messageSummary')).toEqual(['Vedtak i sak 2026/4711']);
    expect(f('correspondence.content.messageBody')).toEqual(['Vedtak om tiltak for navngitt barn']);
    const published = Date.parse(f('correspondence.requestedPublishTime')![0]!);
    const due = Date.parse(f('correspondence.dueDateTime')![0]!);
    expect(due - published).toBe(14 * 86_400_000);
    expect(f('correspondence.notification.notificationTemplate')).toEqual(['CustomMessage']);
    expect(f('correspondence.notification.notificationChannel')).toEqual(['EmailAndSms']);
    expect(f('correspondence.notification.emailSubject')).toEqual(['Melding mottatt i Altinn']);
    const text = f('correspondence.notification.emailBody')![0]!;
    expect(text).toContain('SANDKASSE AVSENDERETAT');
    expect(text).toContain('taushetsbelagt');
    expect(text).toContain('«eformidling-dpv-taushetsbelagt»');
    expect(text).toContain('$correspondenceRecipientName$');
    expect(f('correspondence.notification.smsBody')).toEqual([text]);
    expect(f('correspondence.notification.sendReminder')).toEqual(['true']);
    expect(f('correspondence.notification.reminderEmailBody')).toEqual([text]);
    expect(f('correspondence.notification.reminderSmsBody')).toEqual([text]);
    expect(f('correspondence.content.attachments[0].fileName')).toEqual(['vedtak.pdf']);
    expect(f('correspondence.content.attachments[1].fileName')).toEqual(['vedlegg.pdf']);
    expect(f('correspondence.content.attachments[2].fileName')).toBeUndefined();
    expect(up.attachments.map((a) => [a.fieldName, a.filename, a.size, a.sha256])).toEqual([
      ['attachments', 'vedtak.pdf', vedtak.length, sha256(vedtak)],
      ['attachments', 'vedlegg.pdf', vedlegg.length, sha256(vedlegg)],
    ]);

    const correspondenceId = up.correspondenceIds[0]!;
    const conv = await h.json<Record<string, unknown>>('GET', `/api/conversations/messageId/${messageId}`);
    expect(conv.body.externalSystemReference).toBe(correspondenceId);

    // Published after the sandbox's delay → LEVERT, and a kvittering for the fagsystem.
    await waitForStatus(h, messageId, 'LEVERT');
    const kid = kvitteringMessageId(messageId);
    const kvittering = await waitFor(
      async () => (await h.incoming.getSbdJson(kid)) ?? undefined,
      'kvittering',
    );
    const k = JSON.parse(kvittering) as Record<string, Record<string, unknown>>;
    expect(k.arkivmelding_kvittering).toEqual({
      receiptType: 'OK',
      relatedToMessageId: messageId,
      messages: [],
    });
    // The fagsystem finds it the usual way.
    const peek = await h.json<Record<string, Record<string, unknown>>>(
      'GET',
      `/api/messages/in/peek?conversationId=${conv.body.conversationId}`,
    );
    expect(peek.status).toBe(200);
    expect(peek.body.arkivmelding_kvittering).toEqual({
      receiptType: 'OK',
      relatedToMessageId: messageId,
      messages: [],
    });
    const meta = await h.incoming.getIncoming(kid);
    expect(meta).toMatchObject({
      conversationId: conv.body.conversationId,
      processIdentifier: 'urn:no:difi:profile:arkivmelding:response:ver1.0',
      senderIdentifier: ORG_DPV_TAUSHETSBELAGT,
      receiverIdentifier: ORG_SENDER,
    });
    // The notification outcome, from /details once after LEVERT.
    const convId = (await h.store.conversationIdOfMessage(messageId))!;
    const outcome = await waitFor(
      async () => (await h.store.getConversation(convId))?.notificationOutcome ?? undefined,
      'outcome',
    );
    expect(outcome).toBe('Varselet om meldingen er sendt til mottakeren på e-post.');
    const withOutcome = await h.json<Record<string, unknown>>(
      'GET',
      `/api/conversations/messageId/${messageId}`,
    );
    expect(withOutcome.body.notificationOutcome).toBe(outcome);
    expect(withOutcome.body.warnings).toBeUndefined();

    await h.altinn.read(correspondenceId);
    const all = await waitForStatus(h, messageId, 'LEST');
    expect(all.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT', 'LEVERT', 'LEST']);
    await waitFor(async () => (await h.delivery.nextPollAt(messageId)) === null, 'polling to stop');
    const after = await h.json<Record<string, unknown>>('GET', `/api/conversations/messageId/${messageId}`);
    expect(after.body.finished).toBe(true);
    // Nothing confidential in the logs.
    const logs = h.logs.join('');
    expect(logs).not.toContain('Vedtak om tiltak for navngitt barn');
    expect(logs).not.toContain('Vedtak i sak 2026/4711');
    expect(logs).not.toContain('vedlegg.pdf');
    expect(logs).not.toContain('SANDKASSE AVSENDERETAT ');
  });

  it('a receiver where nobody holds the confidential roles: FEIL that says so in Norwegian, nobody notified', async () => {
    const messageId = await sendMessage(h, { receiver: ORG_NO_CONFIDENTIAL_ROLES });
    const statuses = await waitForStatus(h, messageId, 'FEIL');
    expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT', 'FEIL']);
    const feil = statuses.find((s) => s.status === 'FEIL')!;
    expect(feil.description).toContain(LACKS_ROLES_DESCRIPTION);
    expect(feil.description).toContain('ingen der kan åpne den');
    expect(feil.description).toContain('fysisk post');
    await waitFor(async () => (await h.delivery.nextPollAt(messageId)) === null, 'polling to stop');
  });

  it('purged in Altinn → ANNET and polling stops', async () => {
    const messageId = await sendMessage(h);
    await waitForStatus(h, messageId, 'LEVERT');
    const correspondenceId = (await h.delivery.state(messageId)).correspondenceId!;
    await h.altinn.purge(correspondenceId);
    const statuses = await waitForStatus(h, messageId, 'ANNET');
    expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT', 'LEVERT', 'ANNET']);
    // Altinn answers 404 for a purged correspondence.
    expect(statuses.find((s) => s.status === 'ANNET')!.description).toBe(GONE_DESCRIPTION);
    await waitFor(async () => (await h.delivery.nextPollAt(messageId)) === null, 'polling to stop');
  });

  it("Failed for another reason → FEIL with Altinn's text", async () => {
    const messageId = await sendMessage(h);
    await waitForStatus(h, messageId, 'SENDT');
    const correspondenceId = (await h.delivery.state(messageId)).correspondenceId!;
    await h.altinn.fail(correspondenceId, 'Malware scan failed: vedtak.pdf');
    const statuses = await waitForStatus(h, messageId, 'FEIL');
    expect(statuses.find((s) => s.status === 'FEIL')!.description).toBe(
      'Altinn kunne ikke levere meldingen: Malware scan failed: vedtak.pdf',
    );
  });
});

describe('the sender’s own notification text', () => {
  it('is used with $reporterName$ filled in; one that does not name the access gets a warning on the conversation', async () => {
    const messageId = await sendMessage(h, {
      dpv: { taushetsbelagtVarselTekst: 'Ny post fra $reporterName$ til $correspondenceRecipientName$.' },
    });
    await waitForStatus(h, messageId, 'SENDT');
    const up = h.altinn.uploads.find((u) => u.fields.idempotentKey?.[0] === messageId)!;
    expect(up.fields['correspondence.notification.emailBody']).toEqual([
      'Ny post fra SANDKASSE AVSENDERETAT til $correspondenceRecipientName$.',
    ]);
    const conv = await h.json<{ warnings?: { code: string }[] }>(
      'GET',
      `/api/conversations/messageId/${messageId}`,
    );
    expect(conv.body.warnings?.map((w) => w.code)).toContain('ConfidentialNotificationWithoutAccessHint');
  });
});

describe('statuses are registered once and in order', () => {
  it('a poll racing the send and a retried job store nothing twice', async () => {
    const messageId = await sendMessage(h);
    await waitForStatus(h, messageId, 'LEVERT');
    // Run the job again (as a retry would) and poll by hand alongside the scheduled poller.
    const res = await h.background.sendWorker!.attempt(messageId, h.app.log as never);
    expect(res).toEqual({ kind: 'done' });
    await Promise.all([
      h.background.statusPoller!.pollOne(messageId),
      h.background.statusPoller!.pollOne(messageId),
    ]);
    const statuses = await statusesOf(h, messageId);
    expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT', 'LEVERT']);
    expect(h.altinn.uploads.filter((u) => u.fields.idempotentKey?.[0] === messageId)).toHaveLength(1);
  });
});

describe('polling a letter that is not read yet', () => {
  it('writes no status until Altinn reports something new, then only that (the scheduled poller runs too)', async () => {
    const messageId = await sendMessage(h);
    await waitForStatus(h, messageId, 'LEVERT');
    const poller = h.background.statusPoller!;
    const store = (poller as unknown as { deps: { store: { addStatus: (...a: unknown[]) => unknown } } }).deps
      .store;
    const written: unknown[] = [];
    const addStatus = store.addStatus.bind(store);
    store.addStatus = (...args: unknown[]) => {
      written.push(args[1]);
      return addStatus(...args);
    };
    try {
      await poller.pollOne(messageId);
      await poller.pollOne(messageId);
      expect(written).toEqual([]);
      const correspondenceId = (await h.delivery.state(messageId)).correspondenceId!;
      await h.altinn.read(correspondenceId);
      await poller.pollOne(messageId);
      // The scheduled poller (every 50 ms here) may have been the one to register it, or both at once.
      expect(written.length).toBeGreaterThan(0);
      expect(new Set(written)).toEqual(new Set(['LEST']));
    } finally {
      store.addStatus = addStatus;
    }
    expect((await statusesOf(h, messageId)).map((s) => s.status)).toEqual([
      'OPPRETTET',
      'SENDT',
      'LEVERT',
      'LEST',
    ]);
  });
});

describe('the same message sent by two attempts at once', () => {
  it('one correspondence in Altinn, SENDT once', async () => {
    await h.stopBackground();
    const messageId = await sendMessage(h);
    await h.restartBackground();
    const worker = h.background.sendWorker!;
    // Alongside the queued job the worker is taking: two more attempts, as a retried or stalled job would make.
    const results = await Promise.all([
      worker.attempt(messageId, h.app.log as never),
      worker.attempt(messageId, h.app.log as never),
    ]);
    expect(results.every((r) => r.kind === 'done')).toBe(true);
    await waitForStatus(h, messageId, 'SENDT');
    const created = h.altinn.correspondences().filter((c) => c.idempotentKey?.toLowerCase() === messageId);
    expect(created).toHaveLength(1);
    const statuses = await statusesOf(h, messageId);
    expect(statuses.filter((s) => s.status === 'SENDT')).toHaveLength(1);
    expect((await h.delivery.state(messageId)).correspondenceId).toBe(created[0]!.correspondenceId);
  });
});

describe('the confidential journalpost tittel in the correspondence', () => {
  type Files = { readAll: (m: string, f: string) => Promise<Buffer> };
  type Sealing = {
    crypto: { seal(v: string): string; open(v: string): string };
    redis: Redis;
    prefix: string;
  };
  const bodyOf = (messageId: string) =>
    h.altinn.uploads.find((u) => u.fields.idempotentKey?.[0] === messageId)?.fields[
      'correspondence.content.messageBody'
    ];

  it('comes from the sealed summary made at upload: the stored file is not read again for it', async () => {
    const files = (h.background.sendWorker as unknown as { deps: { files: Files } }).deps.files;
    const readAll = files.readAll;
    let reads = 0;
    files.readAll = async function (this: unknown, m: string, f: string) {
      reads++;
      return readAll.call(this, m, f);
    };
    try {
      const messageId = await sendMessage(h, { tittel: 'Tiltak for navngitt barn, sak 2026/9' });
      await waitForStatus(h, messageId, 'SENDT');
      expect(bodyOf(messageId)).toEqual(['Tiltak for navngitt barn, sak 2026/9']);
      expect(reads).toBe(0);
    } finally {
      files.readAll = readAll;
    }
  });

  it('of a message whose summary was stored without it is read from arkivmelding.xml', async () => {
    await h.stopBackground();
    const messageId = await sendMessage(h, { tittel: 'Eldre melding om navngitt barn' });
    const sealing = h.store as unknown as Sealing;
    const key = `${sealing.prefix}out:${messageId}:ark`;
    const summary = JSON.parse(sealing.crypto.open((await sealing.redis.get(key))!)) as Record<
      string,
      unknown
    >;
    expect(summary.confidentialTitle).toBe('Eldre melding om navngitt barn');
    delete summary.confidentialTitle;
    await sealing.redis.set(key, sealing.crypto.seal(JSON.stringify(summary)));
    await h.restartBackground();
    await waitForStatus(h, messageId, 'SENDT');
    expect(bodyOf(messageId)).toEqual(['Eldre melding om navngitt barn']);
  });
});

describe('an attempt whose files go while it reads them', () => {
  it('finds the message finished by the other attempt: done, no retry, one correspondence', async () => {
    await h.stopBackground();
    const messageId = await sendMessage(h);
    // Only the two attempts below work on it: the queued job is taken away before the worker starts.
    const queue = createSendQueue(h.redis, `${h.prefix}:`);
    await queue.remove(sendJobId(messageId));
    await queue.close();
    await h.restartBackground();
    const worker = h.background.sendWorker!;
    const files = (
      worker as unknown as { deps: { files: { openRead: (m: string, f: string) => Promise<unknown> } } }
    ).deps.files;
    const openRead = files.openRead;
    let raced = false;
    // The first file opened for the upload lets another attempt send the message and remove its files first.
    files.openRead = async function (this: unknown, m: string, f: string) {
      if (!raced) {
        raced = true;
        expect((await worker.attempt(messageId, h.app.log as never)).kind).toBe('done');
      }
      return openRead.call(this, m, f);
    };
    try {
      const result = await worker.attempt(messageId, h.app.log as never);
      expect(raced).toBe(true);
      expect(result.kind).toBe('done');
    } finally {
      files.openRead = openRead;
    }
    const created = h.altinn.correspondences().filter((c) => c.idempotentKey?.toLowerCase() === messageId);
    expect(created).toHaveLength(1);
    expect((await statusesOf(h, messageId)).filter((s) => s.status === 'SENDT')).toHaveLength(1);
    expect((await h.delivery.state(messageId)).attempts).toBe(0);
  });
});

describe('large files', () => {
  it('a 6 MiB document reaches Altinn byte for byte (streamed from the encrypted file)', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    const messageId = await sendMessage(h, { files: { 'stor.pdf': big } });
    await waitForStatus(h, messageId, 'SENDT');
    const up = h.altinn.uploads.find((u) => u.fields.idempotentKey?.[0] === messageId)!;
    expect(up.attachments).toEqual([
      expect.objectContaining({ filename: 'stor.pdf', size: big.length, sha256: sha256(big) }),
    ]);
  });
});
