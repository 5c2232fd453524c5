import { randomUUID } from 'node:crypto';
import { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatOslo } from '../../src/domain/time.js';
import { Crypto } from '../../src/store/crypto.js';
import { createRedis } from '../../src/store/redis.js';
import { Store } from '../../src/store/store.js';
import { DIGEST_QUEUE } from '../../src/workers/digest.js';
import { startBackground } from '../../src/workers/index.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { TAUSHETSBELAGT } from '../helpers/messages.js';
import { createConfidentialMessage, FILE_TITLE, PUBLIC_TITLE, SECRET_TITLE } from '../helpers/outgoing.js';
import { TestSmtp } from '../helpers/smtp.js';
import { eventually } from '../helpers/webhook-receiver.js';

const DAY = 86_400_000;
let nowMs = new Date('2026-11-02T08:00:00Z').getTime();
const clock = () => new Date(nowMs);

let h: Harness;
let store: Store;
let smtp: TestSmtp;
let background: { close(): Promise<void> };
let digestEvents: QueueEvents;
let digestRuns = 0;

beforeAll(async () => {
  smtp = await new TestSmtp().start();
  h = await startHarness(
    {
      SMTP_URL: smtp.url,
      NOTICE_EMAIL_FROM: 'eformidling@kommune.example',
      NOTICE_EMAIL_TO: 'arkiv@kommune.example, postmottak@kommune.example',
      NOTICE_DIGEST_INTERVAL_MS: '250',
      UNREAD_CHECK_INTERVAL_MS: '100',
    },
    {},
    clock,
  );
  store = new Store(h.redis, `${h.prefix}:`, new Crypto(h.config.DATA_ENCRYPTION_KEY));
  digestEvents = new QueueEvents(DIGEST_QUEUE, {
    connection: createRedis(h.config.REDIS_URL, 'worker'),
    prefix: `${h.prefix}:bull`,
  });
  digestEvents.on('completed', () => digestRuns++);
  digestEvents.on('failed', () => digestRuns++);
  await digestEvents.waitUntilReady();
  background = await startBackground(h.config, { log: h.app.log, clock });
});
afterAll(async () => {
  await background.close();
  await digestEvents.close();
  await smtp.close();
  await h.close();
});

/** Waits until the digest job has run `n` more times. */
async function digestRunsPass(n: number) {
  const target = digestRuns + n;
  await eventually(async () => digestRuns >= target);
}

describe('e-mail digest of anomalies', () => {
  it('mails FEIL and LEVETID_UTLOPT once, with ids, receiver, process, status, time and reason, and no titles', async () => {
    const a = await createConfidentialMessage(h);
    const b = await createConfidentialMessage(h);
    const ok = await createConfidentialMessage(h);
    await store.addStatus(a.messageId, 'SENDT');
    await store.addStatus(a.messageId, 'FEIL', {
      description: 'Mottakeren mangler roller for taushetsbelagt post',
      now: new Date(nowMs),
    });
    await store.addStatus(b.messageId, 'LEVETID_UTLOPT');
    await store.addStatus(ok.messageId, 'SENDT');

    const mail = await eventually(async () => smtp.mails.find((m) => m.text.includes(b.messageId)));
    expect(smtp.mails).toHaveLength(1);
    expect(mail.from).toBe('eformidling@kommune.example');
    expect(mail.to).toEqual(['arkiv@kommune.example', 'postmottak@kommune.example']);
    expect(mail.subject).toContain('2 feilet eller utløpt');
    for (const s of [
      a.messageId,
      a.conversationId,
      b.messageId,
      b.conversationId,
      '910075946',
      TAUSHETSBELAGT,
    ]) {
      expect(mail.text).toContain(s);
    }
    expect(mail.text).toContain('Status: FEIL');
    expect(mail.text).toContain('Status: LEVETID_UTLOPT');
    expect(mail.text).toContain('Årsak: Mottakeren mangler roller for taushetsbelagt post');
    expect(mail.text).toMatch(/Tidspunkt: 2026-11-02T09:00:00\+01:00/);
    expect(mail.text).not.toContain(ok.messageId);
    for (const secret of [PUBLIC_TITLE, SECRET_TITLE, FILE_TITLE, 'sak 2026/4711']) {
      expect(mail.text).not.toContain(secret);
      expect(mail.subject).not.toContain(secret);
    }

    // Nothing new: no e-mail however many digests pass.
    await digestRunsPass(2);
    expect(smtp.mails).toHaveLength(1);
  });

  it('keeps the items when the SMTP server fails, and sends them with the next digest', async () => {
    smtp.down = true;
    const c = await createConfidentialMessage(h);
    await store.addStatus(c.messageId, 'FEIL', { description: 'Avvist' });
    await eventually(async () => smtp.refused >= 2);
    expect(smtp.mails.some((m) => m.text.includes(c.messageId))).toBe(false);
    smtp.down = false;
    const mail = await eventually(async () => smtp.mails.find((m) => m.text.includes(c.messageId)));
    expect(mail.text).toContain('Årsak: Avvist');
    expect(smtp.mails.filter((m) => m.text.includes(c.messageId))).toHaveLength(1);
    // The earlier items are not sent again.
    expect(mail.text.match(/Message-ID:/g)).toHaveLength(1);
  });

  it('leaves kvitteringer out: they are answers, not anomalies', async () => {
    const mid = randomUUID();
    const cid = randomUUID();
    const now = new Date(nowMs);
    const ts = formatOslo(now);
    const convId = await store.createOutgoing(
      {
        conversationId: cid,
        messageId: mid,
        sender: '0192:910077473',
        senderIdentifier: '910077473',
        receiver: '0192:910075946',
        receiverIdentifier: '910075946',
        processIdentifier: 'urn:no:difi:profile:arkivmelding:response:ver1.0',
        documentIdentifier: 'urn:no:difi:eformidling:xsd::arkivmelding_kvittering',
        messageReference: cid,
        messageTitle: '',
        lastUpdate: ts,
        expiry: ts,
        direction: 'OUTGOING',
        serviceIdentifier: 'DPV',
      },
      {
        messageId: mid,
        conversationId: cid,
        processIdentifier: 'urn:no:difi:profile:arkivmelding:response:ver1.0',
        receiverIdentifier: '910075946',
        senderIdentifier: '910077473',
        serviceIdentifier: 'DPV',
        documentType: 'arkivmelding_kvittering',
        type: 'arkivmelding_kvittering',
        resource: '',
        confidential: false,
        expiry: ts,
        expiryMs: nowMs,
        lastUpdated: ts,
        lastUpdatedMs: nowMs,
        inputHash: '',
      },
      '{}',
      now,
    );
    expect(convId).not.toBeNull();
    expect((await store.addStatus(mid, 'FEIL', { description: 'Kvittering ikke levert' })).outcome).toBe(
      'new',
    );
    const marker = await createConfidentialMessage(h);
    await store.addStatus(marker.messageId, 'FEIL');
    const mail = await eventually(async () => smtp.mails.find((m) => m.text.includes(marker.messageId)));
    expect(mail.text).not.toContain(mid);
    expect(smtp.mails.some((m) => m.text.includes(mid))).toBe(false);
  });

  it('has a line for each unread notice', async () => {
    const d = await createConfidentialMessage(h);
    await store.addStatus(d.messageId, 'SENDT');
    await store.addStatus(d.messageId, 'LEVERT', { now: new Date(nowMs) });
    nowMs += 3 * DAY + 1000;
    const mail = await eventually(async () => smtp.mails.find((m) => m.text.includes(d.messageId)));
    expect(mail.subject).toContain('1 ulest taushetsbelagt');
    expect(mail.text).toContain('Status: ULEST');
    expect(mail.text).toContain(d.conversationId);
    expect(mail.text).toContain('ikke lest etter 3d');
    expect(mail.text).not.toContain(PUBLIC_TITLE);
  });
});
