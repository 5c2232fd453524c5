import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddressServiceClient } from '../../src/adapters/address-service.js';
import { pollInterval } from '../../src/domain/correspondence-status.js';
import { formatOslo } from '../../src/domain/time.js';
import {
  DOCTYPE_ARKIVMELDING_KVITTERING,
  ORG_DPV_TAUSHETSBELAGT,
  PROCESS_ARKIVMELDING_RESPONSE,
  SANDBOX_ORGS,
  type SandboxOrg,
} from '../../src/sandbox/address-service-seed.js';
import { DEFAULT_PARTIES } from '../../src/sandbox/altinn.js';
import { RECEIPT_NOT_SENT_DESCRIPTION } from '../../src/services/outgoing.js';
import type { AddressBook } from '../../src/workers/types.js';
import {
  type DpvHarness,
  filesOf,
  sendMessage,
  startDpvHarness,
  statusesOf,
  waitFor,
  waitForStatus,
} from '../helpers/dpv.js';

/** Takes DPV kvitteringer on the response process (the seeded sender takes them over DPO). */
const ORG_DPV_RECEIPTS = '910088800';
const receiptsOrg: SandboxOrg = {
  identifier: ORG_DPV_RECEIPTS,
  organizationName: 'KVITTERHEIM SANDKASSEETAT',
  postadresse: null,
  entityType: { name: 'ORGL' },
  serviceRecords: [
    {
      process: PROCESS_ARKIVMELDING_RESPONSE,
      documentTypes: [DOCTYPE_ARKIVMELDING_KVITTERING],
      service: {
        identifier: 'DPV',
        serviceCode: '4255',
        serviceEditionCode: '10',
        resource: 'eformidling-dpv',
      },
      pemCertificate: null,
    },
  ],
};

let h: DpvHarness;
let queue: Queue;

beforeAll(async () => {
  h = await startDpvHarness({
    env: { ALTINN_UPLOAD_TIMEOUT_MS: '400' },
    addressService: { records: [...SANDBOX_ORGS, receiptsOrg] },
  });
  queue = new Queue('send', { connection: h.redis, prefix: `${h.prefix}:bull` });
});
afterAll(async () => {
  await queue.close();
  await h.close();
});

const uploadsOf = (messageId: string) =>
  h.altinn.uploads.filter((u) => u.fields.idempotentKey?.[0] === messageId);
const correspondencesOf = (messageId: string) =>
  h.altinn.correspondences().filter((c) => c.idempotentKey?.toLowerCase() === messageId.toLowerCase());

describe('Altinn failures while sending', () => {
  it('503, then recovery: retried with backoff and sent once', async () => {
    h.altinn.fault('upload', { status: 503, body: 'Service Unavailable' });
    const messageId = await sendMessage(h);
    await waitForStatus(h, messageId, 'SENDT');
    expect(uploadsOf(messageId).map((u) => u.status)).toEqual([503, 200]);
    expect(correspondencesOf(messageId)).toHaveLength(1);
    const state = await h.delivery.state(messageId);
    expect(state.attempts).toBe(1);
    expect(state.lastError).toContain('HTTP 503');
  });

  it('400 → FEIL after one attempt, with the ProblemDetails code and detail; the job fails for good', async () => {
    h.altinn.fault('upload', {
      status: 400,
      contentType: 'application/problem+json',
      body: JSON.stringify({
        type: 'https://tools.ietf.org/html/rfc9110#section-15.5.1',
        title: 'Bad Request',
        status: 400,
        detail:
          'Invalid language chosen. Supported languages is Norsk bokmål (nb), Nynorsk (nn) and English (en)',
        code: 'CORR-01023',
        errorCode: 1023,
      }),
    });
    const messageId = await sendMessage(h);
    const statuses = await waitForStatus(h, messageId, 'FEIL');
    expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'FEIL']);
    expect(statuses[1]!.description).toBe(
      'Altinn avviste meldingen: HTTP 400 CORR-01023: Invalid language chosen. Supported languages is Norsk bokmål (nb), Nynorsk (nn) and English (en)',
    );
    expect(uploadsOf(messageId)).toHaveLength(1);
    const job = await queue.getJob(`send-${messageId}`);
    await waitFor(async () => (await job?.getState()) === 'failed', 'the job to fail');
  });

  it('a crash between Altinn creating the correspondence and our answer: 409 on retry, found by key, one correspondence, SENDT', async () => {
    h.altinn.fault('upload', { kind: 'crash-after' });
    const messageId = await sendMessage(h);
    const statuses = await waitForStatus(h, messageId, 'SENDT');
    expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT']);
    expect(uploadsOf(messageId).map((u) => u.status)).toEqual([0, 409]);
    const created = correspondencesOf(messageId);
    expect(created).toHaveLength(1);
    expect((await h.delivery.state(messageId)).correspondenceId).toBe(created[0]!.correspondenceId);
    // And it is followed like any other.
    await waitForStatus(h, messageId, 'LEVERT');
  });

  it.each([
    [
      'HTML instead of JSON',
      { status: 200, body: '<html><body>Gateway</body></html>', contentType: 'text/html' },
    ],
    ['a body cut short', { kind: 'cut' as const }],
    ['a 200 without an id', { kind: 'no-id' as const }],
    ['no answer (timeout)', { kind: 'timeout' as const, ms: 1500 }],
    ['429 Too Many Requests', { status: 429, headers: { 'retry-after': '0' } }],
  ])('%s: retried with a readable reason, then sent once', async (_name, fault) => {
    h.altinn.fault('upload', fault);
    const messageId = await sendMessage(h);
    await waitForStatus(h, messageId, 'SENDT');
    expect(correspondencesOf(messageId)).toHaveLength(1);
    const state = await h.delivery.state(messageId);
    expect(state.attempts).toBe(1);
    expect(state.lastError).toMatch(/^(Altinn upload (answered|failed)|no Altinn token)/);
  });

  it('bad answers while polling: logged and polled again, never stuck', async () => {
    const messageId = await sendMessage(h);
    await waitForStatus(h, messageId, 'SENDT');
    h.altinn.fault(
      'overview',
      { status: 500 },
      { kind: 'cut' },
      { status: 200, body: '<html></html>', contentType: 'text/html' },
    );
    await waitForStatus(h, messageId, 'LEVERT');
    expect(h.logs.join('')).toContain('status poll failed; trying again later');
  });
});

describe('time to live', () => {
  it('expired before the worker takes the job: LEVETID_UTLOPT, nothing sent', async () => {
    await h.stopBackground();
    const messageId = await sendMessage(h);
    // The worker's clock is two days ahead: the message's 24 hours have run out.
    await h.restartBackground({ clock: () => new Date(Date.now() + 48 * 3_600_000) });
    const statuses = await waitForStatus(h, messageId, 'LEVETID_UTLOPT');
    expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'LEVETID_UTLOPT']);
    expect(uploadsOf(messageId)).toHaveLength(0);
    await h.restartBackground({});
  });
});

describe('confidential post and the service record', () => {
  it('a taushetsbelagt message whose service record now points to a non-confidential resource is never sent: FEIL says why', async () => {
    const real = new AddressServiceClient({
      baseUrl: h.sandbox.url,
      verify: true,
      timeoutMs: 2000,
      cacheSeconds: 0,
    });
    const moved: AddressBook = {
      info: (id) => real.info(id),
      lookup: async (p) => {
        const res = await real.lookup(p);
        for (const r of res.serviceRecords) r.service.resource = 'eformidling-dpv-administrasjon';
        return res;
      },
    };
    await h.restartBackground({ addressBook: moved });
    try {
      const messageId = await sendMessage(h);
      const statuses = await waitForStatus(h, messageId, 'FEIL');
      expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'FEIL']);
      expect(statuses[1]!.description).toContain("'eformidling-dpv-administrasjon'");
      expect(statuses[1]!.description).toContain('som ikke er den taushetsbelagte ressursen');
      expect(uploadsOf(messageId)).toHaveLength(0);
    } finally {
      await h.restartBackground({});
    }
  });
});

describe('an arkivmelding_kvittering the fagsystem sends', () => {
  it('to a receiver reached over DPV: not sent to Altinn, SENDT, LEVERT, LEST at once', async () => {
    const messageId = randomUUID();
    const created = await h.json('POST', '/api/messages/out', {
      standardBusinessDocumentHeader: {
        headerVersion: '1.0',
        receiver: [{ identifier: { authority: 'iso6523-actorid-upis', value: `0192:${ORG_DPV_RECEIPTS}` } }],
        documentIdentification: {
          standard: DOCTYPE_ARKIVMELDING_KVITTERING,
          typeVersion: '2.0',
          instanceIdentifier: messageId,
          type: 'arkivmelding_kvittering',
        },
        businessScope: {
          scope: [
            {
              type: 'ConversationId',
              instanceIdentifier: randomUUID(),
              identifier: PROCESS_ARKIVMELDING_RESPONSE,
            },
          ],
        },
      },
      arkivmelding_kvittering: { receiptType: 'OK', relatedToMessageId: randomUUID(), messages: [] },
    });
    expect(created.status).toBe(200);
    const sent = await h.fetch(`/api/messages/out/${messageId}`, { method: 'POST' });
    expect(sent.status).toBe(200);
    const statuses = await statusesOf(h, messageId);
    expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT', 'LEVERT', 'LEST']);
    expect(statuses[1]!.description).toBe(RECEIPT_NOT_SENT_DESCRIPTION);
    expect(await queue.getJob(`send-${messageId}`)).toBeUndefined();
    expect(uploadsOf(messageId)).toHaveLength(0);
  });
});

describe('retries that run out', () => {
  it('Altinn down until the TTL passes: LEVETID_UTLOPT, the last reason kept, nothing created', async () => {
    h.altinn.fault('upload', ...Array.from({ length: 400 }, () => ({ status: 502, body: 'Bad Gateway' })));
    const messageId = await sendMessage(h, {
      expectedResponseDateTime: formatOslo(new Date(Date.now() + 1500)),
    });
    const statuses = await waitForStatus(h, messageId, 'LEVETID_UTLOPT');
    expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'LEVETID_UTLOPT']);
    expect(statuses[1]!.description).toContain('Levetiden for meldingen er utgått');
    // Whichever of the TTL job and the send worker gets there first writes it; the last reason is kept either way.
    expect(statuses[1]!.description).toContain(
      'Siste forsøk mot Altinn feilet: Altinn upload answered HTTP 502',
    );
    // The message, its files and the delivery facts are gone; the conversation stays.
    await waitFor(async () => (await h.delivery.state(messageId)).attempts === 0, 'delivery facts dropped');
    expect((await h.fetch(`/api/messages/out/${messageId}`)).status).toBe(404);
    expect(await filesOf(h, messageId)).toEqual([]);
    expect(uploadsOf(messageId).length).toBeGreaterThan(1);
    expect(correspondencesOf(messageId)).toHaveLength(0);
  });
});

describe('Maskinporten tokens end to end', () => {
  let m: DpvHarness;
  const clientId = 'eip-sandbox-client';
  afterAll(async () => {
    await m?.close();
  });

  it('grant → exchange → upload; an expired token is refreshed once on 401; the address service gets its own scope', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = 'k1';
    const priv = { ...(await exportJWK(privateKey)), kid, alg: 'RS256' };
    const pub = { ...(await exportJWK(publicKey)), kid, alg: 'RS256' };
    m = await startDpvHarness({
      staticToken: false,
      altinn: { maskinportenClients: { [clientId]: pub } },
      // Only the sender, so the upload is the call that meets the expired token.
      background: { parts: { send: true } },
      env: (a) => ({
        MASKINPORTEN_CLIENT_ID: clientId,
        MASKINPORTEN_KEY: JSON.stringify(priv),
        MASKINPORTEN_TOKEN_URL: a.tokenUrl,
        ALTINN_TOKEN_EXCHANGE_URL: a.exchangeUrl,
        SERVICE_REGISTRY_SCOPE: 'eformidling:serviceregistry',
      }),
    });
    const first = await sendMessage(m);
    await waitForStatus(m, first, 'SENDT');
    const up1 = m.altinn.uploads.find((u) => u.fields.idempotentKey?.[0] === first)!;
    expect(up1.status).toBe(200);
    const token1 = up1.authorization!.replace(/^Bearer /, '');
    expect(decodeJwt(token1).iss).toBe(`${m.altinn.url}/authentication/api/v1/openid/`);

    m.altinn.expireTokens();
    const before = m.altinn.uploads.length;
    const second = await sendMessage(m);
    await waitForStatus(m, second, 'SENDT');
    // The refused request is recorded before its body is read, so it is found by position.
    const ups = m.altinn.uploads.slice(before);
    expect(ups[1]!.fields.idempotentKey).toEqual([second]);
    expect(ups.map((u) => u.status)).toEqual([401, 200]);
    expect(ups[0]!.authorization).toBe(`Bearer ${token1}`);
    expect(ups[1]!.authorization).not.toBe(`Bearer ${token1}`);
    // One attempt as far as the worker is concerned: the refresh is inside it.
    expect((await m.delivery.state(second)).attempts).toBe(0);

    // The token endpoints misbehaving is retried like Altinn itself.
    m.altinn.expireTokens();
    m.altinn.fault('token', { kind: 'no-id' });
    m.altinn.fault('exchange', { status: 503 });
    const third = await sendMessage(m);
    await waitForStatus(m, third, 'SENDT');
    const thirdState = await m.delivery.state(third);
    expect(thirdState.attempts).toBe(2);
    expect(thirdState.lastError).toBe("no Altinn token: Altinn's token exchange answered HTTP 503");

    const srAuth = m.sandbox.requests.map((r) => r.authorization).filter((a) => a?.startsWith('Bearer '));
    expect(srAuth.length).toBeGreaterThan(0);
    expect(decodeJwt(srAuth[0]!.replace(/^Bearer /, '')).scope).toBe('eformidling:serviceregistry');
  });
});

describe('polling back-off', () => {
  let b: DpvHarness;
  afterAll(async () => {
    await b?.close();
  });

  it('the next poll comes later the older the correspondence is; details once after LEVERT and once after the reminder', async () => {
    let now = Date.now();
    const base = 1000;
    const max = 10_000;
    const ramp = 100_000;
    b = await startDpvHarness({
      env: {
        STATUS_POLL_INTERVAL_MS: String(base),
        STATUS_POLL_MAX_INTERVAL_MS: String(max),
        STATUS_POLL_RAMP_MS: String(ramp),
        DPV_REMINDER_CHECK_MS: String(2 * ramp),
      },
      background: { clock: () => new Date(now) },
    });
    const messageId = await sendMessage(b);
    await waitForStatus(b, messageId, 'SENDT');
    await waitFor(async () => b.altinn.correspondences().some((c) => c.published), 'Altinn to publish');
    const sentMs = (await b.delivery.state(messageId)).sentMs!;
    expect(await b.delivery.nextPollAt(messageId)).toBe(sentMs + base);

    now = sentMs + ramp / 2;
    await b.background.statusPoller!.pollOne(messageId);
    expect(await b.delivery.nextPollAt(messageId)).toBe(now + pollInterval(ramp / 2, base, max, ramp));
    expect(pollInterval(ramp / 2, base, max, ramp)).toBe(5500);

    // That poll saw LEVERT and read the details once: the notification went out by e-mail.
    const convId = (await b.store.conversationIdOfMessage(messageId))!;
    expect((await b.store.getConversation(convId))?.notificationOutcome).toBe(
      'Varselet om meldingen er sendt til mottakeren på e-post.',
    );
    expect((await b.delivery.state(messageId)).detailsStage).toBe(1);

    now = sentMs + 3 * ramp;
    await b.background.statusPoller!.pollOne(messageId);
    expect(await b.delivery.nextPollAt(messageId)).toBe(now + max);
    // Past the reminder time and still unread: the details are read once more, for the reminder (none here).
    expect((await b.delivery.state(messageId)).detailsStage).toBe(2);
    expect((await b.store.getConversation(convId))?.notificationOutcome).toBe(
      'Varselet om meldingen er sendt til mottakeren på e-post. Altinn har ikke opprettet noe påminnelsesvarsel om meldingen.',
    );
    const conv = await b.json<{ warnings?: { code: string }[] }>(
      'GET',
      `/api/conversations/messageId/${messageId}`,
    );
    expect(conv.body.warnings?.map((w) => w.code)).toEqual(['NotificationNotSent']);
  });
});

describe('nobody notified', () => {
  let n: DpvHarness;
  afterAll(async () => {
    await n?.close();
  });

  it('after LEVERT the details show no contact information: recorded on the conversation as a warning', async () => {
    n = await startDpvHarness({
      altinn: {
        parties: DEFAULT_PARTIES.map((p) =>
          p.orgnr === ORG_DPV_TAUSHETSBELAGT
            ? { ...p, notification: { email: 'no-contact', sms: 'no-contact' } }
            : p,
        ),
      },
    });
    const messageId = await sendMessage(n);
    await waitForStatus(n, messageId, 'LEVERT');
    const convId = (await n.store.conversationIdOfMessage(messageId))!;
    const outcome = await waitFor(
      async () => (await n.store.getConversation(convId))?.notificationOutcome ?? undefined,
      'outcome',
    );
    expect(outcome).toContain('ingen kontaktinformasjon');
    const conv = await n.json<{
      warnings?: { code: string; message: string }[];
      notificationOutcome?: string;
    }>('GET', `/api/conversations/messageId/${messageId}`);
    expect(conv.body.warnings?.map((w) => w.code)).toEqual(['NotificationNoContactInformation']);
    expect(conv.body.notificationOutcome).toBe(outcome);
  });
});
