import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/harness.js';
import { ADMINISTRASJON, arkivmeldingXml, sbd } from '../helpers/messages.js';

type ErrorBody = {
  exception: string;
  message: string;
  errors?: { path?: string; line?: number; column?: number; message: string }[];
};

let strict: Harness;
let lenient: Harness;
beforeAll(async () => {
  strict = await startHarness();
  lenient = await startHarness({ CONFIDENTIAL_RECIPIENT_RULE: 'warning' });
});
afterAll(async () => {
  await strict.close();
  await lenient.close();
});

async function createIn(h: Harness, process?: string): Promise<string> {
  const messageId = randomUUID();
  const res = await h.json('POST', '/api/messages/out', sbd({ messageId, ...(process ? { process } : {}) }));
  expect(res.status).toBe(200);
  return messageId;
}

function putXml(h: Harness, id: string, xml: string) {
  return h.fetch(`/api/messages/out/${id}`, {
    method: 'PUT',
    headers: {
      'content-type': 'text/xml',
      'content-disposition': 'attachment; name="Arkivmelding"; filename="arkivmelding.xml"',
    },
    body: xml,
  });
}

describe('arkivmelding.xml at upload', () => {
  it('refuses a schema-invalid document with every problem located, and keeps no file', async () => {
    const id = await createIn(strict);
    const xml = arkivmeldingXml().replace(
      '<journaldato>2026-11-20</journaldato>',
      '<journaldato>20. november</journaldato>',
    );
    const res = await putXml(strict, id, xml);
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.exception).toBe('InvalidArkivmeldingException');
    const p = body.errors?.find((e) => e.path?.includes('journaldato'));
    expect(p).toBeDefined();
    expect(p!.line).toBeGreaterThan(1);
    expect(p!.column).toBeGreaterThan(0);
    expect(readdirSync(`${strict.dataDir}/out/${id}`)).toEqual([]);
    // The message is still there and takes a corrected upload.
    expect((await putXml(strict, id, arkivmeldingXml())).status).toBe(200);
  });

  it('refuses a DOCTYPE with 400 UnsafeXmlException', async () => {
    const id = await createIn(strict);
    const xml = arkivmeldingXml().replace(
      '<arkivmelding ',
      '<!DOCTYPE arkivmelding [<!ENTITY x "y">]>\n<arkivmelding ',
    );
    const res = await putXml(strict, id, xml);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).exception).toBe('UnsafeXmlException');
  });

  it('refuses arkivmelding.xml over ARKIVMELDING_MAX_SIZE', async () => {
    const id = await createIn(strict);
    const big = arkivmeldingXml().replace(
      '<system>Fagsystem</system>',
      `<system>${'x'.repeat(11_000_000)}</system>`,
    );
    const res = await putXml(strict, id, big);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).exception).toBe('ArkivmeldingTooLargeException');
  });

  it('refuses a taushetsbelagt message whose offentligTittel is missing or a placeholder, saying what to change', async () => {
    for (const offentligTittel of [null, 'Skjermet', '   ']) {
      const id = await createIn(strict);
      const res = await putXml(strict, id, arkivmeldingXml({ offentligTittel }));
      expect(res.status, String(offentligTittel)).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.exception).toBe('ConfidentialityRequirementException');
      expect(body.errors?.some((e) => /offentligTittel/.test(e.message + (e.path ?? '')))).toBe(true);
    }
  });

  it('refuses a public title that identifies neither case nor reader, or records a warning when configured', async () => {
    const xml = arkivmeldingXml({ offentligTittel: 'Melding om tiltak', saksaar: null });
    const id = await createIn(strict);
    const res = await putXml(strict, id, xml);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).exception).toBe('ConfidentialityRequirementException');

    const id2 = await createIn(lenient);
    expect((await putXml(lenient, id2, xml)).status).toBe(200);
    const conv = await lenient.json<{ warnings?: { message: string }[] }>(
      'GET',
      `/api/conversations/messageId/${id2}`,
    );
    expect(conv.body.warnings?.length).toBeGreaterThan(0);
  });

  it('does not apply the confidentiality rules to ordinary processes', async () => {
    const id = await createIn(strict, ADMINISTRASJON);
    expect((await putXml(strict, id, arkivmeldingXml({ offentligTittel: null, saksaar: null }))).status).toBe(
      200,
    );
  });

  it('records an antallFiler mismatch as a warning on the conversation, not a refusal', async () => {
    const id = await createIn(strict);
    expect((await putXml(strict, id, arkivmeldingXml({ files: ['a.pdf'], antallFiler: 3 }))).status).toBe(
      200,
    );
    const conv = await strict.json<{
      warnings?: { message: string }[];
      messageTitle: string;
      messageReference: string;
    }>('GET', `/api/conversations/messageId/${id}`);
    expect(conv.body.warnings?.some((w) => /antallFiler/.test(w.message))).toBe(true);
    expect(conv.body.messageTitle).toBe('Melding om tiltak, sak 2026/4711');
    expect(conv.body.messageReference).toMatch(/-12$/);
  });

  it('at send, refuses a hoveddokument the arkivmelding does not reference', async () => {
    const messageId = randomUUID();
    expect(
      (await strict.json('POST', '/api/messages/out', sbd({ messageId, hoveddokument: 'annet.pdf' }))).status,
    ).toBe(200);
    await putXml(strict, messageId, arkivmeldingXml({ files: ['a.pdf'] }));
    await strict.fetch(`/api/messages/out/${messageId}`, {
      method: 'PUT',
      headers: { 'content-disposition': 'attachment; name="A"; filename="a.pdf"' },
      body: 'x',
    });
    const res = await strict.fetch(`/api/messages/out/${messageId}`, { method: 'POST' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.exception).toBe('InvalidArkivmeldingException');
    expect(body.message).toContain('annet.pdf');
  });
});
