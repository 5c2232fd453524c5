import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/harness.js';
import { sbd, TAUSHETSBELAGT } from '../helpers/messages.js';
import { multipartBody } from '../helpers/multipart.js';
import { expectProblem } from '../helpers/problem.js';
import { rawRequest } from '../helpers/raw-http.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

const sbdPart = (json: string) => ({
  headers: ['Content-Disposition: form-data; name="sbd"', 'Content-Type: application/json'],
  body: json,
});

function postMultipart(contentType: string, body: Buffer | string) {
  return rawRequest(
    h.base,
    'POST',
    '/api/messages/out/multipart',
    { authorization: h.auth, 'content-type': contentType },
    body,
  );
}

function postJson(body: string) {
  return rawRequest(
    h.base,
    'POST',
    '/api/messages/out',
    { authorization: h.auth, 'content-type': 'application/json' },
    body,
  );
}

/** Sends raw bytes on a fresh socket and returns everything the server writes before closing. */
function rawExchange(bytes: string): Promise<string> {
  const { port } = new URL(h.base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.end(bytes);
  });
}

function parseRawResponse(raw: string) {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? '')?.[1]);
  return { status, head: head ?? '', text: rest.join('\r\n\r\n') };
}

describe('multipart framing', () => {
  it('refuses multipart/form-data without a boundary with a 400 (was a 500)', async () => {
    const res = await postMultipart('multipart/form-data', '--x\r\n\r\n');
    const body = expectProblem(res, 400, 'BadRequestException');
    expect(body.message).toContain('boundary');
  });

  it('refuses a boundary longer than RFC 2046 allows (71 and 300 characters) with a 400', async () => {
    for (const len of [71, 300]) {
      const b = 'b'.repeat(len);
      const res = await postMultipart(
        `multipart/form-data; boundary=${b}`,
        multipartBody(b, [sbdPart('{}')]),
      );
      const body = expectProblem(res, 400, 'BadRequestException');
      expect(body.message).toContain(`${len} characters`);
    }
  });

  it('reads a 70-character boundary (the limit) and gets to the content', async () => {
    const b = 'b'.repeat(70);
    const res = await postMultipart(
      `multipart/form-data; boundary="${b}"`,
      multipartBody(b, [sbdPart('{}')]),
    );
    const body = expectProblem(res, 400, 'ConstraintViolationException');
    expect(body.message).toBe('standardBusinessDocumentHeader: is required');
  });

  it('refuses a truncated multipart body with a 400', async () => {
    const b = 'xyz';
    const res = await postMultipart(
      `multipart/form-data; boundary=${b}`,
      `--${b}\r\nContent-Disposition: form-data; name="sbd"\r\n\r\n{"a":`,
    );
    expectProblem(res, 400, 'BadRequestException');
    const messageId = randomUUID();
    const json = JSON.stringify(sbd({ messageId, hoveddokument: 'brev.pdf' }));
    const cut = await postMultipart(
      `multipart/form-data; boundary=${b}`,
      `--${b}\r\nContent-Disposition: form-data; name="sbd"\r\n\r\n${json}\r\n` +
        `--${b}\r\nContent-Disposition: form-data; name="Brev"; filename="brev.pdf"\r\n\r\n%PDF-1.7 and then`,
    );
    // Refused by the parser (the part is already cut off) or by the file store (the part ends while written).
    expect(cut.status).toBe(400);
    const code = JSON.parse(cut.text).exception as string;
    expectProblem(
      cut,
      400,
      ['BadRequestException', 'UploadAbortedException'].includes(code) ? code : 'BadRequestException',
    );
    expect((await h.json('GET', `/api/messages/out/${messageId}`)).status).toBe(404);
  });

  it('answers a non-multipart body on the multipart route with 415 in the documented body', async () => {
    const res = await postMultipart('text/plain', 'x');
    expectProblem(res, 415, 'UnsupportedMediaTypeException');
  });
});

describe('SBD input that used to reach the address service', () => {
  it('refuses an unpaired surrogate in the process identifier with a 400 naming the field (was a 500 URIError)', async () => {
    const doc = sbd({ process: 'urn:no:difi:profile:arkivmelding:\ud800:ver1.0' });
    const res = await postJson(JSON.stringify(doc));
    const body = expectProblem(res, 400, 'ConstraintViolationException');
    expect(body.errors).toEqual([
      expect.objectContaining({
        field: 'standardBusinessDocumentHeader.businessScope.scope[0].identifier',
        code: 'Encoding',
      }),
    ]);
  });

  it('refuses the same in a multipart sbd part', async () => {
    const json = JSON.stringify(sbd({ process: '\ud800' }));
    expect(json).toContain('\\ud800');
    const res = await postMultipart('multipart/form-data; boundary=q', multipartBody('q', [sbdPart(json)]));
    expectProblem(res, 400, 'ConstraintViolationException');
  });

  it("refuses process identifiers of 8 000 and 70 000 characters as the client's 400 (was a 503)", async () => {
    for (const len of [8_000, 70_000]) {
      const doc = sbd({ process: `${TAUSHETSBELAGT}${'x'.repeat(len)}` });
      const res = await postJson(JSON.stringify(doc));
      const body = expectProblem(res, 400, 'ConstraintViolationException');
      expect((body.errors as { field: string }[])[0]!.field).toBe(
        'standardBusinessDocumentHeader.businessScope.scope.identifier',
      );
      expect(res.text.length).toBeLessThan(4000);
    }
  });

  it('refuses a process that is not a URN', async () => {
    const res = await postJson(JSON.stringify(sbd({ process: '../../identifier/910075946' })));
    expectProblem(res, 400, 'ConstraintViolationException');
  });
});

describe('errors from Fastify and Node themselves use the documented body', () => {
  it('414 for an over-long path parameter', async () => {
    const res = await rawRequest(h.base, 'GET', `/api/messages/out/${'a'.repeat(500)}`, {
      authorization: h.auth,
    });
    expectProblem(res, 414, 'UriTooLongException');
  });

  it('400 for a path that is not valid percent-encoding', async () => {
    const res = await rawRequest(h.base, 'GET', '/api/messages/out/%E0%A4%A', { authorization: h.auth });
    expectProblem(res, 400, 'BadRequestException');
  });

  it('431 for headers larger than Node accepts, and the connection is closed', async () => {
    const raw = await rawExchange(
      `GET /api/statuses HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`,
    );
    const res = parseRawResponse(raw);
    expect(res.head).toMatch(/connection: close/i);
    const body = expectProblem(
      { status: res.status, text: res.text },
      431,
      'RequestHeaderFieldsTooLargeException',
    );
    expect(body.path).toBe('');
  });

  it('400 for bytes that are not HTTP', async () => {
    const res = parseRawResponse(await rawExchange('HELLO\r\n\r\n'));
    expectProblem({ status: res.status, text: res.text }, 400, 'BadRequestException');
  });

  it('413 for a JSON body over the limit', async () => {
    const res = await postJson(`{"a":"${'x'.repeat(h.config.JSON_BODY_LIMIT)}"}`);
    expectProblem(res, 413, 'PayloadTooLargeException');
  });

  it('415 for a body type the route does not take', async () => {
    const res = await rawRequest(
      h.base,
      'POST',
      '/api/messages/out',
      { authorization: h.auth, 'content-type': 'text/csv' },
      'a,b',
    );
    expectProblem(res, 415, 'UnsupportedMediaTypeException');
  });

  it('404 for an unknown message', async () => {
    const res = await rawRequest(h.base, 'GET', `/api/messages/out/${randomUUID()}`, {
      authorization: h.auth,
    });
    expectProblem(res, 404, 'MessageNotFoundException');
  });
});
