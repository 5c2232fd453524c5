import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAddressServiceSandbox } from '../../src/sandbox/address-service.js';
import {
  ORG_DPO,
  ORG_DPV_TAUSHETSBELAGT,
  ORG_NO_CONFIDENTIAL_ROLES,
  ORG_NO_CONFIDENTIAL_ROLES_NAME,
  ORG_SENDER,
  PROCESS_TAUSHETSBELAGT,
} from '../../src/sandbox/address-service-seed.js';
import { type AltinnSandbox, startAltinnSandbox } from '../../src/sandbox/altinn.js';

const CLIENT_ID = 'sandbox-test-client';
const STATIC_TOKEN = `static-${randomUUID()}`;
const CONFIDENTIAL = 'eformidling-dpv-taushetsbelagt';
const PDF = Buffer.from('%PDF-1.7 sandbox test document');

let sandbox: AltinnSandbox;
let privateKey: CryptoKey;

beforeAll(async () => {
  const keys = await generateKeyPair('RS256', { extractable: true });
  privateKey = keys.privateKey;
  sandbox = await startAltinnSandbox({
    publishDelayMs: 150,
    staticTokens: [STATIC_TOKEN],
    maskinportenClients: { [CLIENT_ID]: { ...(await exportJWK(keys.publicKey)), alg: 'RS256' } },
  });
});

afterAll(async () => {
  await sandbox?.close();
});

async function assertion(claims: Record<string, unknown> = {}, lifetime = 60): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: 'altinn:correspondence.write altinn:serviceowner', ...claims })
    .setProtectedHeader({ alg: 'RS256' })
    .setIssuer(CLIENT_ID)
    .setAudience(sandbox.maskinportenAudience)
    .setIssuedAt(now)
    .setExpirationTime(now + lifetime)
    .setJti(randomUUID())
    .sign(privateKey);
}

async function grant(body: Record<string, string>): Promise<Response> {
  return fetch(sandbox.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
  });
}

/** Maskinporten grant, then the exchange: the Altinn token a DPV adapter would use. */
async function altinnToken(): Promise<string> {
  const res = await grant({
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    assertion: await assertion(),
  });
  expect(res.status).toBe(200);
  const mp = (await res.json()) as { access_token: string };
  const ex = await fetch(sandbox.exchangeUrl, { headers: { authorization: `Bearer ${mp.access_token}` } });
  expect(ex.status).toBe(200);
  return ex.text();
}

interface UploadOptions {
  recipient?: string;
  resourceId?: string;
  isConfidential?: boolean;
  idempotentKey?: string;
  fields?: Record<string, string>;
  omit?: string[];
  files?: { name: string; data: Buffer }[];
  token?: string;
}

/** The multipart upload as the reference integration point writes it (dotted keys, one `attachments` part). */
function uploadForm(o: UploadOptions = {}): FormData {
  const id = o.idempotentKey ?? randomUUID();
  const files = o.files ?? [{ name: 'vedtak.pdf', data: PDF }];
  const fields: Record<string, string> = {
    'correspondence.resourceId': o.resourceId ?? CONFIDENTIAL,
    'correspondence.sender': '0192:910077473',
    'correspondence.sendersReference': id,
    'correspondence.messageSender': 'SANDKASSE AVSENDERETAT',
    'correspondence.requestedPublishTime': new Date().toISOString(),
    'correspondence.dueDateTime': new Date(Date.now() + 7 * 86_400_000).toISOString(),
    'correspondence.isConfirmationNeeded': 'false',
    'correspondence.isConfidential': String(o.isConfidential ?? true),
    'correspondence.propertyList.senderOrgNumber': '910077473',
    'correspondence.content.language': 'nb',
    'correspondence.content.messageTitle': 'Vedtak i sak 2026/17',
    'correspondence.content.messageSummary': 'Vedtak i sak 2026/17',
    'correspondence.content.messageBody': 'Vedtak',
    'correspondence.notification.notificationTemplate': 'CustomMessage',
    'correspondence.notification.notificationChannel': 'Email',
    'correspondence.notification.emailSubject': 'Melding mottatt i Altinn',
    'correspondence.notification.emailBody': 'Du har mottatt en taushetsbelagt melding.',
    'correspondence.notification.sendReminder': 'false',
    'recipients[0]': `urn:altinn:organization:identifier-no:${o.recipient ?? ORG_DPV_TAUSHETSBELAGT}`,
    idempotentKey: id,
    ...Object.fromEntries(
      files.flatMap((f, i) => [
        [`correspondence.content.attachments[${i}].fileName`, f.name],
        [`correspondence.content.attachments[${i}].displayName`, `Dokument ${i}`],
        [`correspondence.content.attachments[${i}].isEncrypted`, 'false'],
        [`correspondence.content.attachments[${i}].sendersReference`, 'AttachmentReference_as123452'],
      ]),
    ),
    ...o.fields,
  };
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) if (!o.omit?.includes(k)) form.append(k, v);
  for (const f of files) form.append('attachments', new Blob([f.data], { type: 'application/pdf' }), f.name);
  return form;
}

async function upload(o: UploadOptions = {}): Promise<Response> {
  return fetch(`${sandbox.correspondenceUrl}/correspondence/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${o.token ?? STATIC_TOKEN}`, accept: 'application/json' },
    body: uploadForm(o),
  });
}

async function uploadOk(o: UploadOptions = {}): Promise<string> {
  const res = await upload(o);
  const body = (await res.json()) as { correspondences: { correspondenceId: string }[] };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.correspondences[0]!.correspondenceId;
}

async function get(path: string, token = STATIC_TOKEN): Promise<Response> {
  return fetch(`${sandbox.correspondenceUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

type Overview = { status: string; statusText: string; published: string | null; read: string | null };

/** Polls the overview until its status is the wanted one (bounded). */
async function waitForStatus(id: string, status: string): Promise<Overview> {
  let last: Overview | undefined;
  for (let i = 0; i < 100; i++) {
    const res = await get(`/correspondence/${id}`);
    if (res.status === 200) {
      last = (await res.json()) as Overview;
      if (last.status === status) return last;
    }
    await sleep(20);
  }
  throw new Error(`correspondence ${id} did not reach ${status}; last ${JSON.stringify(last)}`);
}

async function problem(res: Response): Promise<Record<string, unknown>> {
  expect(res.headers.get('content-type')).toMatch(/json/);
  return (await res.json()) as Record<string, unknown>;
}

describe('Altinn sandbox: tokens', () => {
  it('grants a Maskinporten token for a signed assertion and exchanges it for an Altinn token that creates', async () => {
    const token = await altinnToken();
    expect(token.split('.')).toHaveLength(3);
    const id = await uploadOk({ token });
    const recorded = sandbox.uploads.find((u) => u.correspondenceIds.includes(id));
    expect(recorded?.authorization).toBe(`Bearer ${token}`);
  });

  it('refuses bad grants with invalid_grant', async () => {
    const wrongType = await grant({ grant_type: 'client_credentials', assertion: await assertion() });
    expect(wrongType.status).toBe(400);
    expect(((await wrongType.json()) as { error: string }).error).toBe('invalid_grant');

    const other = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ scope: 'altinn:correspondence.write' })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(CLIENT_ID)
      .setAudience(sandbox.maskinportenAudience)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(other.privateKey);
    const bad = await grant({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: forged });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_grant' });

    const wrongAud = await new SignJWT({ scope: 'altinn:correspondence.write' })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(CLIENT_ID)
      .setAudience('https://maskinporten.no/')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    const aud = await grant({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: wrongAud,
    });
    expect(await aud.json()).toMatchObject({ error: 'invalid_grant' });

    const expired = await new SignJWT({ scope: 'altinn:correspondence.write' })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(CLIENT_ID)
      .setAudience(sandbox.maskinportenAudience)
      .setIssuedAt(now - 200)
      .setExpirationTime(now - 100)
      .sign(privateKey);
    const exp = await grant({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: expired,
    });
    expect(await exp.json()).toMatchObject({ error: 'invalid_grant' });

    const garbage = await grant({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: 'x.y',
    });
    expect(garbage.status).toBe(400);
  });

  it('answers 403 with no body when the exchanged token lacks a write scope', async () => {
    const res = await grant({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: await assertion({ scope: 'altinn:correspondence.read' }),
    });
    const mp = (await res.json()) as { access_token: string; scope: string };
    expect(mp.scope).toBe('altinn:correspondence.read');
    const ex = await fetch(sandbox.exchangeUrl, { headers: { authorization: `Bearer ${mp.access_token}` } });
    const forbidden = await get(`/correspondence?resourceId=${CONFIDENTIAL}&role=Sender`, await ex.text());
    expect(forbidden.status).toBe(403);
    expect(await forbidden.text()).toBe('');
  });

  it('answers 401 with WWW-Authenticate and no body for a missing, unknown or Maskinporten token', async () => {
    const none = await fetch(`${sandbox.correspondenceUrl}/correspondence/${randomUUID()}`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await none.text()).toBe('');
    expect((await get(`/correspondence/${randomUUID()}`, 'made-up')).status).toBe(401);
    const res = await grant({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: await assertion(),
    });
    const mp = (await res.json()) as { access_token: string };
    expect((await get(`/correspondence/${randomUUID()}`, mp.access_token)).status).toBe(401);
    // And the exchange wants a Maskinporten token, not an Altinn one.
    expect(
      (await fetch(sandbox.exchangeUrl, { headers: { authorization: `Bearer ${STATIC_TOKEN}` } })).status,
    ).toBe(401);
  });
});

describe('Altinn sandbox: upload and state', () => {
  it('records the upload, answers Initialized with ids, then publishes after the delay', async () => {
    const key = randomUUID();
    const res = await upload({ idempotentKey: key });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      correspondences: { correspondenceId: string; status: string; recipient: string; notifications: null }[];
      attachmentIds: string[];
    };
    expect(body.correspondences).toEqual([
      {
        correspondenceId: expect.stringMatching(
          /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        ),
        status: 'Initialized',
        recipient: `urn:altinn:organization:identifier-no:${ORG_DPV_TAUSHETSBELAGT}`,
        notifications: null,
      },
    ]);
    expect(body.attachmentIds).toHaveLength(1);
    const id = body.correspondences[0]!.correspondenceId;

    const recorded = sandbox.uploads.find((u) => u.correspondenceIds.includes(id))!;
    expect(recorded.status).toBe(200);
    expect(recorded.fields.idempotentKey).toEqual([key]);
    expect(recorded.fields['correspondence.content.messageTitle']).toEqual(['Vedtak i sak 2026/17']);
    expect(recorded.attachments).toEqual([
      {
        fieldName: 'attachments',
        filename: 'vedtak.pdf',
        contentType: 'application/pdf',
        size: PDF.length,
        sha256: createHash('sha256').update(PDF).digest('hex'),
      },
    ]);

    const early = (await (await get(`/correspondence/${id}`)).json()) as Overview & {
      content: { messageTitle: string };
    };
    expect(early.published).toBeNull();
    expect(early.content.messageTitle).toBe('Vedtak i sak 2026/17');

    const published = await waitForStatus(id, 'Published');
    expect(published.published).toEqual(expect.any(String));
    const after = (await (await get(`/correspondence/${id}`)).json()) as {
      content: { messageTitle: string };
    };
    expect(after.content.messageTitle).toBe('');

    const details = (await (await get(`/correspondence/${id}/details`)).json()) as {
      statusHistory: { status: string }[];
      notifications: {
        notificationChannel: string;
        notificationStatusDetails: { email: { succeeded: boolean; sendStatus: { status: string } } | null };
      }[];
    };
    expect(details.statusHistory.map((s) => s.status)).toEqual([
      'Initialized',
      'ReadyForPublish',
      'Published',
    ]);
    expect(details.notifications).toHaveLength(1);
    expect(details.notifications[0]!.notificationStatusDetails.email).toMatchObject({
      succeeded: true,
      sendStatus: { status: 'Delivered' },
    });
  });

  it('details show a failed e-mail and a recipient without contact information', async () => {
    const outcome = async (recipient: string) => {
      const id = await uploadOk({ recipient, resourceId: 'eformidling-dpv', isConfidential: false });
      await sandbox.publishNow(id);
      const details = (await (await get(`/correspondence/${id}/details`)).json()) as {
        notifications: {
          notificationStatusDetails: { email: { succeeded: boolean; sendStatus: { status: string } } | null };
        }[];
      };
      return details.notifications.map((n) => n.notificationStatusDetails.email);
    };
    expect(await outcome(ORG_DPO)).toEqual([
      expect.objectContaining({
        succeeded: false,
        sendStatus: expect.objectContaining({ status: 'Failed' }),
      }),
    ]);
    expect(await outcome(ORG_SENDER)).toEqual([
      expect.objectContaining({
        succeeded: false,
        sendStatus: expect.objectContaining({ status: 'Failed_RecipientNotIdentified' }),
      }),
    ]);
  });

  it('holds a correspondence until a later requestedPublishTime', async () => {
    const later = await uploadOk({
      fields: { 'correspondence.requestedPublishTime': new Date(Date.now() + 3_600_000).toISOString() },
    });
    const now = await uploadOk();
    await waitForStatus(now, 'Published'); // created after `later`, same delay: `later` is past its delay too
    expect((await waitForStatus(later, 'Initialized')).published).toBeNull();
    await sandbox.publishNow(later);
    await waitForStatus(later, 'Published');
  });

  it('binds dotted keys case-insensitively and takes a JSON create too', async () => {
    const lower = await uploadOk({
      omit: ['correspondence.content.messageTitle'],
      fields: { 'CORRESPONDENCE.CONTENT.MESSAGETITLE': 'Vedtak i sak 2026/18' },
    });
    const snap = sandbox.correspondences().find((c) => c.correspondenceId === lower)!;
    expect(snap.request.correspondence.content.messageTitle).toBe('Vedtak i sak 2026/18');

    const res = await fetch(`${sandbox.correspondenceUrl}/correspondence`, {
      method: 'POST',
      headers: { authorization: `Bearer ${STATIC_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        correspondence: {
          resourceId: 'urn:altinn:resource:eformidling-dpv',
          sendersReference: 'ref-json',
          content: { messageTitle: 'Melding', messageBody: 'Tekst' },
        },
        recipients: [`0192:${ORG_DPV_TAUSHETSBELAGT}`],
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { correspondences: { status: string; recipient: string }[] };
    expect(body.correspondences[0]).toMatchObject({
      status: 'ReadyForPublish',
      recipient: `urn:altinn:organization:identifier-no:${ORG_DPV_TAUSHETSBELAGT}`,
    });
  });

  it('answers 409 CORR-01034 when an idempotent key is reused, and search finds the first', async () => {
    const key = randomUUID();
    const first = await uploadOk({ idempotentKey: key });
    const again = await upload({ idempotentKey: key });
    expect(again.status).toBe(409);
    expect(await problem(again)).toMatchObject({
      status: 409,
      title: 'Conflict',
      code: 'CORR-01034',
      errorCode: 1034,
      detail: 'A correspondence with the same idempotent key already exists',
    });
    expect(sandbox.uploads.at(-1)?.status).toBe(409);

    const byKey = await get(`/correspondence?resourceId=${CONFIDENTIAL}&role=Sender&idempotentKey=${key}`);
    expect(await byKey.json()).toEqual({ ids: [first] });
    const byRef = await get(`/correspondence?resourceId=${CONFIDENTIAL}&role=Sender&sendersReference=${key}`);
    expect(await byRef.json()).toEqual({ ids: [first] });
    const otherResource = await get(
      `/correspondence?resourceId=eformidling-dpv&role=Sender&idempotentKey=${key}`,
    );
    expect(await otherResource.json()).toEqual({ ids: [] });

    const noRole = await get(`/correspondence?resourceId=${CONFIDENTIAL}&idempotentKey=${key}`);
    expect(noRole.status).toBe(400);
    expect(await problem(noRole)).toMatchObject({
      code: 'STD-00000',
      errors: { role: [expect.any(String)] },
    });
  });

  it('a refused request does not burn the idempotent key', async () => {
    const key = randomUUID();
    const refused = await upload({ idempotentKey: key, fields: { 'correspondence.content.language': 'de' } });
    expect(refused.status).toBe(400);
    await uploadOk({ idempotentKey: key });
  });

  it('fails a confidential correspondence at publish when the recipient lacks the roles', async () => {
    const id = await uploadOk({ recipient: ORG_NO_CONFIDENTIAL_ROLES });
    const failed = await waitForStatus(id, 'Failed');
    expect(failed.statusText).toBe(
      `Recipient of ${id} lacks roles required to read correspondence. Consider sending physical mail to this recipient instead.`,
    );
    expect(failed.published).toBeNull();
    const details = (await (await get(`/correspondence/${id}/details`)).json()) as {
      notifications: unknown[];
    };
    expect(details.notifications).toEqual([]);
  });

  it('read, fail and purge controls move the state; purge makes the overview 404 CORR-01001', async () => {
    const id = await uploadOk();
    await sandbox.publishNow(id);
    expect((await waitForStatus(id, 'Published')).read).toBeNull();

    const readRes = await fetch(`${sandbox.url}/__fake/correspondence/${id}/read`, { method: 'POST' });
    expect(readRes.status).toBe(200);
    const read = await waitForStatus(id, 'Read');
    expect(read.read).toEqual(expect.any(String));
    const history = (await (await get(`/correspondence/${id}/details`)).json()) as {
      statusHistory: { status: string }[];
    };
    expect(history.statusHistory.map((s) => s.status)).toEqual([
      'Initialized',
      'ReadyForPublish',
      'Published',
      'Fetched',
      'Read',
    ]);

    const purge = await fetch(`${sandbox.url}/__fake/correspondence/${id}/purge`, { method: 'POST' });
    expect(purge.status).toBe(200);
    const gone = await get(`/correspondence/${id}`);
    expect(gone.status).toBe(404);
    expect(await problem(gone)).toMatchObject({ code: 'CORR-01001', errorCode: 1001, status: 404 });
    expect((await get(`/correspondence/${id}/details`)).status).toBe(200);

    const other = await uploadOk();
    const fail = await fetch(`${sandbox.url}/__fake/correspondence/${other}/fail`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ statusText: 'Malware scan failed: test' }),
    });
    expect(fail.status).toBe(200);
    const failed = await waitForStatus(other, 'Failed');
    expect(failed.statusText).toBe('Malware scan failed: test');
    await sandbox.publishNow(other); // a failed correspondence is never published
    expect((await waitForStatus(other, 'Failed')).published).toBeNull();

    const unpublished = await uploadOk();
    const refused = await fetch(`${sandbox.url}/__fake/correspondence/${unpublished}/read`, {
      method: 'POST',
    });
    expect(refused.status).toBe(409);
    expect(
      (await fetch(`${sandbox.url}/__fake/correspondence/${randomUUID()}/read`, { method: 'POST' })).status,
    ).toBe(404);
  });

  it('sender purge: allowed before publish (PurgedByAltinn), 400 CORR-01013 after', async () => {
    const local = await startAltinnSandbox({ staticTokens: ['t'], publishDelayMs: 60_000 });
    try {
      const del = (id: string) =>
        fetch(`${local.correspondenceUrl}/correspondence/${id}/purge`, {
          method: 'DELETE',
          headers: { authorization: 'Bearer t' },
        });
      const make = async () => {
        const res = await fetch(`${local.correspondenceUrl}/correspondence/upload`, {
          method: 'POST',
          headers: { authorization: 'Bearer t' },
          body: uploadForm(),
        });
        return ((await res.json()) as { correspondences: { correspondenceId: string }[] }).correspondences[0]!
          .correspondenceId;
      };
      const early = await make();
      const purged = await del(early);
      expect(purged.status).toBe(200);
      expect(await purged.json()).toBe(early);
      expect(local.correspondences().find((c) => c.correspondenceId === early)?.status).toBe(
        'PurgedByAltinn',
      );
      expect(await problem(await del(early))).toMatchObject({ code: 'CORR-01014' });

      const late = await make();
      await local.publishNow(late);
      const refused = await del(late);
      expect(refused.status).toBe(400);
      expect(await problem(refused)).toMatchObject({ code: 'CORR-01013', errorCode: 1013 });
    } finally {
      await local.close();
    }
  });
});

describe('Altinn sandbox: validation', () => {
  const cases: [string, UploadOptions, number, Record<string, unknown>][] = [
    [
      'language',
      { fields: { 'correspondence.content.language': 'de' } },
      400,
      { code: 'CORR-01023', errorCode: 1023, title: 'Bad Request', type: expect.stringContaining('rfc9110') },
    ],
    [
      'whitespace title',
      { fields: { 'correspondence.content.messageTitle': '   ' } },
      400,
      { code: 'CORR-01020' },
    ],
    [
      'title over 255',
      { fields: { 'correspondence.content.messageTitle': 'x'.repeat(256) } },
      400,
      {
        code: 'STD-00000',
        errors: { 'Correspondence.Content.MessageTitle': [expect.stringContaining('255')] },
      },
    ],
    [
      'missing title',
      { omit: ['correspondence.content.messageTitle'] },
      400,
      {
        code: 'STD-00000',
        errors: { 'Correspondence.Content.MessageTitle': ['The MessageTitle field is required.'] },
      },
    ],
    [
      'body over 30000',
      { fields: { 'correspondence.content.messageBody': 'x'.repeat(30_001) } },
      400,
      {
        code: 'STD-00000',
        errors: { 'Correspondence.Content.MessageBody': [expect.stringContaining('30000')] },
      },
    ],
    [
      'summary over 255',
      { fields: { 'correspondence.content.messageSummary': 'x'.repeat(256) } },
      400,
      { code: 'STD-00000', errors: { 'Correspondence.Content.MessageSummary': [expect.any(String)] } },
    ],
    [
      'bad recipient',
      { fields: { 'recipients[0]': 'urn:altinn:organization:identifier-no:12345' } },
      400,
      { code: 'STD-00000', errors: { Recipients: [expect.stringContaining('12345')] } },
    ],
    [
      'due date in the past',
      { fields: { 'correspondence.dueDateTime': '2020-01-01T00:00:00Z' } },
      400,
      { code: 'CORR-01008', errorCode: 1008 },
    ],
    [
      'file part without metadata',
      {
        omit: [
          'correspondence.content.attachments[0].fileName',
          'correspondence.content.attachments[0].displayName',
          'correspondence.content.attachments[0].isEncrypted',
          'correspondence.content.attachments[0].sendersReference',
        ],
      },
      400,
      { code: 'CORR-01005', detail: 'Mismatch between uploaded files and attachment metadata' },
    ],
    ['empty file', { files: [{ name: 'tom.pdf', data: Buffer.alloc(0) }] }, 400, { code: 'CORR-02004' }],
    [
      'missing e-mail text',
      { omit: ['correspondence.notification.emailBody'] },
      400,
      { code: 'CORR-03002', errorCode: 3002 },
    ],
    [
      'EmailAndSms without an SMS text',
      { fields: { 'correspondence.notification.notificationChannel': 'EmailAndSms' } },
      400,
      { code: 'CORR-03024' },
    ],
    [
      'confidential resource without isConfidential',
      { isConfidential: false },
      400,
      { code: 'CORR-01060', errorCode: 1060 },
    ],
    [
      'isConfidential on an ordinary resource',
      { resourceId: 'eformidling-dpv', isConfidential: true },
      400,
      { code: 'CORR-01061' },
    ],
    ['unknown resource', { resourceId: 'no-such-resource' }, 400, { code: 'CORR-01036', errorCode: 1036 }],
    [
      'not a boolean',
      { fields: { 'correspondence.isConfidential': 'yes' } },
      400,
      { code: 'STD-00000', errors: { 'Correspondence.IsConfidential': [expect.any(String)] } },
    ],
    [
      'empty GUID key',
      { idempotentKey: '00000000-0000-0000-0000-000000000000' },
      400,
      { code: 'CORR-01033' },
    ],
  ];

  for (const [name, options, status, expected] of cases) {
    it(`refuses: ${name}`, async () => {
      const res = await upload(options);
      expect(res.status).toBe(status);
      expect(await problem(res)).toMatchObject({ status, ...expected, traceId: expect.any(String) });
      expect(sandbox.uploads.at(-1)?.status).toBe(status);
      expect(sandbox.uploads.at(-1)?.correspondenceIds).toEqual([]);
    });
  }

  it('answers arbitrary form keys and values with 200 or a 400 problem, never an error', async () => {
    const segment = fc.oneof(
      fc.constantFrom(
        'correspondence',
        'content',
        'attachments[0]',
        'recipients[0]',
        'notification',
        'propertyList',
      ),
      fc.constantFrom(
        'messageTitle',
        'isConfidential',
        'dueDateTime',
        'idempotentKey',
        'fileName',
        '[9999]',
        '',
      ),
      fc.string({ maxLength: 8 }),
    );
    const key = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.'));
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('true', 'x', '-1', '2020-13-45', '{}'),
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(key, value, { maxKeys: 6 }), async (fields) => {
        const res = await upload({ fields });
        const body = (await res.json()) as { status?: number };
        expect([200, 400]).toContain(res.status);
        if (res.status === 400) expect(body.status).toBe(400);
      }),
      { numRuns: 60 },
    );
  });

  it('answers 406 in plain text to an Accept header without JSON', async () => {
    const html = await fetch(
      `${sandbox.correspondenceUrl}/correspondence?resourceId=${CONFIDENTIAL}&role=Sender`,
      {
        headers: { authorization: `Bearer ${STATIC_TOKEN}`, accept: 'text/html' },
      },
    );
    expect(html.status).toBe(406);
    expect(html.headers.get('content-type')).toMatch(/^text\/plain/);
    const json = await fetch(
      `${sandbox.correspondenceUrl}/correspondence?resourceId=${CONFIDENTIAL}&role=Sender`,
      {
        headers: { authorization: `Bearer ${STATIC_TOKEN}`, accept: 'text/html, application/json;q=0.9' },
      },
    );
    expect(json.status).toBe(200);
  });

  it('refuses malformed bodies with a 4xx, never a crash', async () => {
    const json = await fetch(`${sandbox.correspondenceUrl}/correspondence`, {
      method: 'POST',
      headers: { authorization: `Bearer ${STATIC_TOKEN}`, 'content-type': 'application/json' },
      body: '{"correspondence":',
    });
    expect(json.status).toBe(400);
    expect(await problem(json)).toMatchObject({ code: 'STD-00000', errors: { $: [expect.any(String)] } });
    const notMultipart = await fetch(`${sandbox.correspondenceUrl}/correspondence/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${STATIC_TOKEN}`, 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(notMultipart.status).toBe(415);
    const brokenMultipart = await fetch(`${sandbox.correspondenceUrl}/correspondence/upload`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${STATIC_TOKEN}`,
        'content-type': 'multipart/form-data; boundary=xyz',
      },
      body: '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue-without-end',
    });
    expect(brokenMultipart.status).toBe(400);
    // What did bind (nothing useful) fails the model checks, as Altinn's form binding would.
    expect(await problem(brokenMultipart)).toMatchObject({ status: 400, code: 'STD-00000' });
    const array = await fetch(`${sandbox.correspondenceUrl}/correspondence`, {
      method: 'POST',
      headers: { authorization: `Bearer ${STATIC_TOKEN}`, 'content-type': 'application/json' },
      body: '[1,2]',
    });
    expect(array.status).toBe(400);
    const proto = await upload({ fields: { '__proto__.polluted': 'yes', 'constructor.prototype.x': 'y' } });
    expect(proto.status).toBe(200); // unknown keys are ignored, as Altinn's form binding ignores them
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const badFault = await fetch(`${sandbox.url}/__fake/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operation: 'upload', answers: [{ kind: 'explode' }] }),
    });
    expect(badFault.status).toBe(400);
  });
});

describe('Altinn sandbox: faults', () => {
  it('answers queued statuses in order, then behaves normally again', async () => {
    sandbox.fault(
      'upload',
      { status: 503 },
      { status: 429 },
      { status: 200, body: '<html>proxy</html>', contentType: 'text/html' },
    );
    const a = await upload();
    expect(a.status).toBe(503);
    const b = await upload();
    expect(b.status).toBe(429);
    expect(b.headers.get('retry-after')).toBe('1');
    const c = await upload();
    expect(c.status).toBe(200);
    expect(c.headers.get('content-type')).toMatch(/text\/html/);
    expect(await c.text()).toBe('<html>proxy</html>');
    expect(sandbox.uploads.slice(-3).map((u) => [u.status, u.correspondenceIds.length])).toEqual([
      [503, 0],
      [429, 0],
      [200, 0],
    ]);
    await uploadOk();
  });

  it('cut: headers, half a body, then the socket closes', async () => {
    sandbox.fault('overview', { kind: 'cut' });
    const res = await get(`/correspondence/${randomUUID()}`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('timeout: nothing for the given time, then the socket closes', async () => {
    sandbox.fault('search', { kind: 'timeout', ms: 100 });
    await expect(get(`/correspondence?resourceId=${CONFIDENTIAL}&role=Sender`)).rejects.toThrow();
    expect((await get(`/correspondence?resourceId=${CONFIDENTIAL}&role=Sender`)).status).toBe(200);
  });

  it('no-id: 200 JSON without correspondence ids, nothing stored', async () => {
    const before = sandbox.correspondences().length;
    sandbox.fault('upload', { kind: 'no-id' });
    const res = await upload();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ correspondences: [], attachmentIds: [] });
    expect(sandbox.correspondences()).toHaveLength(before);
  });

  it('crash-after: the correspondence is stored but the socket is destroyed; a retry gets 409 and search finds it', async () => {
    const key = randomUUID();
    sandbox.fault('upload', { kind: 'crash-after' });
    await expect(upload({ idempotentKey: key })).rejects.toThrow();
    const recorded = sandbox.uploads.at(-1)!;
    expect(recorded.status).toBe(0);
    expect(recorded.correspondenceIds).toHaveLength(1);
    expect((await upload({ idempotentKey: key })).status).toBe(409);
    const found = await get(`/correspondence?resourceId=${CONFIDENTIAL}&role=Sender&idempotentKey=${key}`);
    expect(await found.json()).toEqual({ ids: recorded.correspondenceIds });
  });

  it('faults on details, purge, token and exchange, also queued over HTTP', async () => {
    const set = await fetch(`${sandbox.url}/__fake/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operation: 'details', answers: [{ status: 502, body: 'bad gateway' }] }),
    });
    expect(set.status).toBe(204);
    expect((await get(`/correspondence/${randomUUID()}/details`)).status).toBe(502);
    expect((await get(`/correspondence/${randomUUID()}/details`)).status).toBe(404);

    sandbox.fault('purge', { status: 500 });
    const purge = await fetch(`${sandbox.correspondenceUrl}/correspondence/${randomUUID()}/purge`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${STATIC_TOKEN}` },
    });
    expect(purge.status).toBe(500);

    sandbox.fault('token', { status: 503 });
    const token = await grant({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: await assertion(),
    });
    expect(token.status).toBe(503);

    sandbox.fault('exchange', { status: 500 });
    const ok = await grant({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: await assertion(),
    });
    const mp = (await ok.json()) as { access_token: string };
    const ex = await fetch(sandbox.exchangeUrl, { headers: { authorization: `Bearer ${mp.access_token}` } });
    expect(ex.status).toBe(500);
    expect(
      (await fetch(sandbox.exchangeUrl, { headers: { authorization: `Bearer ${mp.access_token}` } })).status,
    ).toBe(200);

    const uploads = (await (await fetch(`${sandbox.url}/__fake/uploads`)).json()) as unknown[];
    expect(uploads).toHaveLength(sandbox.uploads.length);
  });
});

describe('the organisation without confidential roles', () => {
  it('is a taushetsbelagt DPV receiver on the confidential resource in the address-service sandbox, with an info record', async () => {
    const sr = await startAddressServiceSandbox();
    try {
      const res = await fetch(
        `${sr.url}/identifier/${ORG_NO_CONFIDENTIAL_ROLES}/process/${PROCESS_TAUSHETSBELAGT}`,
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        serviceRecords: { service: { identifier: string; resource: string } }[];
      };
      expect(body.serviceRecords.map((r) => r.service)).toEqual([
        expect.objectContaining({ identifier: 'DPV', resource: CONFIDENTIAL }),
      ]);
      const info = (await (await fetch(`${sr.url}/info/${ORG_NO_CONFIDENTIAL_ROLES}`)).json()) as {
        infoRecord: { organizationName: string };
      };
      expect(info.infoRecord.organizationName).toBe(ORG_NO_CONFIDENTIAL_ROLES_NAME);
    } finally {
      await sr.close();
    }
  });
});

// Last: expiring tokens kills the static token too, for the rest of this sandbox's life.
describe('Altinn sandbox: token expiry', () => {
  it('expireTokens makes every issued token answer 401 until new ones are issued', async () => {
    const local = await startAltinnSandbox({ staticTokens: ['static-a'], maskinportenClients: {} });
    try {
      const before = await fetch(
        `${local.correspondenceUrl}/correspondence?resourceId=${CONFIDENTIAL}&role=Sender`,
        {
          headers: { authorization: 'Bearer static-a' },
        },
      );
      expect(before.status).toBe(200);
      local.expireTokens();
      const after = await fetch(
        `${local.correspondenceUrl}/correspondence?resourceId=${CONFIDENTIAL}&role=Sender`,
        {
          headers: { authorization: 'Bearer static-a' },
        },
      );
      expect(after.status).toBe(401);
      expect(after.headers.get('www-authenticate')).toBe('Bearer');
    } finally {
      await local.close();
    }
    const token = await altinnToken();
    expect((await get(`/correspondence?resourceId=${CONFIDENTIAL}&role=Sender`, token)).status).toBe(200);
    const res = await fetch(`${sandbox.url}/__fake/tokens/expire`, { method: 'POST' });
    expect(res.status).toBe(204);
    expect((await get(`/correspondence?resourceId=${CONFIDENTIAL}&role=Sender`, token)).status).toBe(401);
    const fresh = await altinnToken();
    expect((await get(`/correspondence?resourceId=${CONFIDENTIAL}&role=Sender`, fresh)).status).toBe(200);
  });
});
