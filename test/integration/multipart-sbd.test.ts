import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/harness.js';
import { arkivmeldingXml, sbd } from '../helpers/messages.js';
import { filePart, multipartBody, type RawPart } from '../helpers/multipart.js';
import { expectProblem } from '../helpers/problem.js';
import { rawRequest } from '../helpers/raw-http.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

const BOUNDARY = 'Ez6Xy1nEU1tp3kxh9rrPzGDmjY7wJG6-Ls';

async function post(parts: RawPart[], boundary = BOUNDARY) {
  return rawRequest(
    h.base,
    'POST',
    '/api/messages/out/multipart',
    { authorization: h.auth, 'content-type': `multipart/form-data;boundary=${boundary}` },
    multipartBody(boundary, parts),
  );
}

function fileParts(): RawPart[] {
  return [
    filePart('Arkivmelding', 'arkivmelding.xml', 'text/xml', arkivmeldingXml({ files: ['brev.pdf'] })),
    filePart('Brev', 'brev.pdf', 'application/pdf', '%PDF-1.7 brev'),
  ];
}

/** The "sbd" part's headers in the forms clients write them. */
const SBD_FORMS: Record<string, (json: string) => string[]> = {
  // Spring's MultipartBodyBuilder, byte for byte: typed JSON, with its own Content-Length.
  'Spring (application/json, Content-Length)': (json) => [
    'Content-Disposition: form-data; name="sbd"',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(json)}`,
  ],
  'Spring with a filename': (json) => [
    'Content-Disposition: form-data; name="sbd"; filename="sbd.json"',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(json)}`,
  ],
  'typed application/json; charset=UTF-8': () => [
    'Content-Disposition: form-data; name="sbd"',
    'Content-Type: application/json;charset=UTF-8',
  ],
  'a plain field (no Content-Type)': () => ['Content-Disposition: form-data; name="sbd"'],
  'a file without Content-Type': () => ['Content-Disposition: form-data; name="sbd"; filename="sbd.json"'],
  'text/plain': () => ['Content-Disposition: form-data; name="sbd"', 'Content-Type: text/plain'],
};

describe('the multipart "sbd" part', () => {
  for (const [form, headers] of Object.entries(SBD_FORMS)) {
    it(`is accepted as ${form}`, async () => {
      const messageId = randomUUID();
      const json = JSON.stringify(sbd({ messageId, hoveddokument: 'brev.pdf' }));
      const res = await post([{ headers: headers(json), body: json }, ...fileParts()]);
      expect(res.status, res.text).toBe(200);
      const body = JSON.parse(res.text);
      expect(body.standardBusinessDocumentHeader.documentIdentification.instanceIdentifier).toBe(messageId);
      expect((await h.json('GET', `/api/statuses/${messageId}`)).status).toBe(200);
    });
  }

  it('refuses JSON that is not an SBD, typed application/json, with a 400 (was a 500 TypeError)', async () => {
    const res = await post([
      {
        headers: SBD_FORMS['Spring (application/json, Content-Length)']!('{"toString":"x"}'),
        body: '{"toString":"x"}',
      },
    ]);
    const body = expectProblem(res, 400, 'ConstraintViolationException');
    expect(body.message).toBe('standardBusinessDocumentHeader: is required');
  });

  it('refuses a __proto__ key with a 400 in the documented body, typed or not', async () => {
    const messageId = randomUUID();
    const good = sbd({ messageId }) as Record<string, Record<string, unknown>>;
    const poisoned = JSON.stringify(good).replace(
      '"headerVersion"',
      '"__proto__":{"polluted":true},"headerVersion"',
    );
    for (const headers of Object.values(SBD_FORMS)) {
      const res = await post([{ headers: headers(poisoned), body: poisoned }]);
      const body = expectProblem(res, 400, 'HttpMessageNotReadableException');
      expect(body.message).toContain('__proto__');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await h.json('GET', `/api/messages/out/${messageId}`)).status).toBe(404);
  });

  it('refuses a part named __proto__ in the documented body', async () => {
    const json = JSON.stringify(sbd({ hoveddokument: 'brev.pdf' }));
    const res = await post([
      { headers: SBD_FORMS['a plain field (no Content-Type)']!(json), body: json },
      {
        headers: ['Content-Disposition: form-data; name="__proto__"', 'Content-Type: application/json'],
        body: '{}',
      },
    ]);
    const body = expectProblem(res, 400, 'BadRequestException');
    expect(body.message).toContain('__proto__');
  });

  it('refuses another part typed application/json that does not parse with a 400 (was a 406)', async () => {
    const json = JSON.stringify(sbd({ hoveddokument: 'brev.pdf' }));
    const res = await post([
      { headers: SBD_FORMS['a plain field (no Content-Type)']!(json), body: json },
      {
        headers: ['Content-Disposition: form-data; name="note"', 'Content-Type: application/json'],
        body: '{',
      },
    ]);
    expectProblem(res, 400, 'HttpMessageNotReadableException');
  });

  it('refuses JSON that does not parse, naming the part', async () => {
    const res = await post([{ headers: SBD_FORMS['Spring with a filename']!('{'), body: '{' }]);
    const body = expectProblem(res, 400, 'HttpMessageNotReadableException');
    expect(body.message).toContain('part "sbd"');
  });

  it('refuses a second "sbd" part with a 400 naming it, and keeps nothing (was a 500 TypeError)', async () => {
    const messageId = randomUUID();
    const json = JSON.stringify(sbd({ messageId, hoveddokument: 'brev.pdf' }));
    const res = await post([
      { headers: SBD_FORMS['a plain field (no Content-Type)']!(json), body: json },
      {
        headers: SBD_FORMS['a plain field (no Content-Type)']!(json),
        body: arkivmeldingXml({ files: ['brev.pdf'] }),
      },
      ...fileParts(),
    ]);
    const body = expectProblem(res, 400, 'ConstraintViolationException');
    expect(body.message).toContain('more than one "sbd" part');
    expect((await h.json('GET', `/api/messages/out/${messageId}`)).status).toBe(404);
  });

  it('refuses a file part without a filename with a 400, and keeps nothing', async () => {
    const messageId = randomUUID();
    const json = JSON.stringify(sbd({ messageId, hoveddokument: 'brev.pdf' }));
    const res = await post([
      { headers: SBD_FORMS['a plain field (no Content-Type)']!(json), body: json },
      {
        headers: ['Content-Disposition: form-data; name="Brev"', 'Content-Type: application/octet-stream'],
        body: '%PDF-1.7 brev',
      },
    ]);
    const body = expectProblem(res, 400, 'InvalidFilenameException');
    expect(body.message).toContain('filename');
    expect((await h.json('GET', `/api/messages/out/${messageId}`)).status).toBe(404);
  });

  it('refuses an sbd part larger than JSON_BODY_LIMIT with a 413', async () => {
    const big = ' '.repeat(h.config.JSON_BODY_LIMIT + 1);
    const res = await post([{ headers: SBD_FORMS['a plain field (no Content-Type)']!(big), body: big }]);
    expectProblem(res, 413, 'PayloadTooLargeException');
  });
});
