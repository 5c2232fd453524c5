import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ORG_DPO,
  ORG_DPV_ORDINARY_ONLY,
  ORG_UNKNOWN,
  SANDBOX_ORGS,
  type SandboxOrg,
} from '../../src/sandbox/address-service-seed.js';
import { Crypto } from '../../src/store/crypto.js';
import { Store } from '../../src/store/store.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { arkivmeldingXml, sbd, TAUSHETSBELAGT } from '../helpers/messages.js';

type ErrorBody = {
  status: number;
  exception: string;
  message: string;
  description?: string;
  errors?: { field?: string; code: string; message: string }[];
  type: string;
  title: string;
  detail: string;
  instance: string;
  path: string;
  timestamp: string;
  error: string;
};

const ORG_WRONG_RESOURCE = '910000001';
const wrongResourceOrg: SandboxOrg = {
  identifier: ORG_WRONG_RESOURCE,
  organizationName: 'FEILKOPLET SANDKASSEETAT',
  postadresse: null,
  entityType: { name: 'ORGL' },
  serviceRecords: [
    {
      process: TAUSHETSBELAGT,
      documentTypes: ['urn:no:difi:arkivmelding:xsd::arkivmelding'],
      pemCertificate: null,
      service: {
        identifier: 'DPV',
        serviceCode: '4255',
        serviceEditionCode: '10',
        resource: 'eformidling-dpv-administrasjon',
      },
    },
  ],
};

let h: Harness;
let now = new Date();
beforeAll(async () => {
  h = await startHarness(
    { MAX_MESSAGE_SIZE: '20000', JSON_BODY_LIMIT: '20000' },
    { records: [...SANDBOX_ORGS, wrongResourceOrg] },
    () => now,
  );
});
afterAll(() => h.close());

async function create(body: unknown): Promise<string> {
  const res = await h.json('POST', '/api/messages/out', body);
  expect(res.status).toBe(200);
  return (
    res.body.standardBusinessDocumentHeader as { documentIdentification: { instanceIdentifier: string } }
  ).documentIdentification.instanceIdentifier;
}

async function expectError(
  res: Response | Promise<Response>,
  status: number,
  exception: string,
): Promise<ErrorBody> {
  const r = await res;
  const body = (await r.json()) as ErrorBody;
  expect({ status: r.status, exception: body.exception }).toEqual({ status, exception });
  // RFC 9457 and the reference's fields side by side.
  expect(body).toMatchObject({ status, title: body.error, detail: body.message });
  expect(body.type).toContain(exception);
  expect(body.instance).toMatch(/^urn:request:/);
  expect(body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  return body;
}

const post = (body: unknown) =>
  h.fetch('/api/messages/out', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const put = (
  id: string,
  filename: string | null,
  body: string | Buffer,
  extra: Record<string, string> = {},
) =>
  h.fetch(`/api/messages/out/${id}`, {
    method: 'PUT',
    headers: {
      'content-type': 'application/pdf',
      ...(filename !== null
        ? { 'content-disposition': `attachment; name="Dok"; filename="${filename}"` }
        : {}),
      ...extra,
    },
    body,
  });

describe('create: SBD rules', () => {
  it('fills defaults and writes the reference key order', async () => {
    const input = sbd({ messageId: null, conversationId: null, sender: null });
    const res = await h.json('POST', '/api/messages/out', input);
    expect(res.status).toBe(200);
    const header = res.body.standardBusinessDocumentHeader as Record<string, any>;
    expect(Object.keys(res.body)).toEqual(['standardBusinessDocumentHeader', 'arkivmelding']);
    expect(Object.keys(header)).toEqual([
      'headerVersion',
      'sender',
      'receiver',
      'documentIdentification',
      'businessScope',
    ]);
    const di = header.documentIdentification as Record<string, string>;
    expect(Object.keys(di)).toEqual([
      'standard',
      'typeVersion',
      'instanceIdentifier',
      'type',
      'creationDateAndTime',
    ]);
    expect(di.instanceIdentifier).toMatch(/^[0-9a-f-]{36}$/);
    const scope = (header.businessScope as { scope: Record<string, unknown>[] }).scope[0]!;
    expect(Object.keys(scope)).toEqual(['type', 'instanceIdentifier', 'identifier', 'scopeInformation']);
    const ttl = (scope.scopeInformation as { expectedResponseDateTime: string }[])[0]!
      .expectedResponseDateTime;
    const hours = (Date.parse(ttl) - now.getTime()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThan(24.1);
    expect((header.sender as { identifier: { value: string } }[])[0]!.identifier.value).toBe(
      '0192:910077473',
    );
  });

  it('accepts the business message before the header', async () => {
    const s = sbd();
    const reordered = {
      arkivmelding: s.arkivmelding,
      standardBusinessDocumentHeader: s.standardBusinessDocumentHeader,
    };
    expect((await post(reordered)).status).toBe(200);
  });

  it('rewrites a foreign sender as on behalf of our own organisation', async () => {
    const res = await h.json('POST', '/api/messages/out', sbd({ sender: '0192:987654321' }));
    const header = res.body.standardBusinessDocumentHeader as { sender: { identifier: { value: string } }[] };
    expect(header.sender[0]!.identifier.value).toBe('0192:910077473:987654321');
  });

  it('returns the stored message for an identical re-post and refuses other content under the same id', async () => {
    const s = sbd();
    const first = await h.json('POST', '/api/messages/out', s);
    const again = await h.json('POST', '/api/messages/out', s);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    // Re-posting our own answer (defaults filled in) is the same message too.
    const echoed = await h.json('POST', '/api/messages/out', first.body);
    expect(echoed.status).toBe(200);
    expect(echoed.body).toEqual(first.body);
    const other = structuredClone(s) as { arkivmelding: { sikkerhetsnivaa: number } };
    other.arkivmelding.sikkerhetsnivaa = 4;
    const body = await expectError(post(other), 400, 'MessageAlreadyExistsException');
    expect(body.message).toContain('different content');
  });

  it.each([
    ['malformed JSON', '{"standardBusinessDocumentHeader": ', 400, 'HttpMessageNotReadableException'],
    ['a JSON array', '[]', 400, 'HttpMessageNotReadableException'],
  ])('refuses %s', async (_name, body, status, code) => {
    await expectError(post(body), status, code);
  });

  it('refuses a third top-level key', async () => {
    await expectError(post({ ...sbd(), extra: {} }), 400, 'HttpMessageNotReadableException');
  });

  it('refuses an unknown business message type with 400, not 500', async () => {
    const s = sbd() as {
      standardBusinessDocumentHeader: { documentIdentification: { type: string } };
      arkivmelding?: unknown;
    };
    s.standardBusinessDocumentHeader.documentIdentification.type = 'strange';
    const body = await expectError(
      post({ standardBusinessDocumentHeader: s.standardBusinessDocumentHeader, strange: {} }),
      400,
      'UnknownMessageTypeException',
    );
    expect(body.errors?.[0]).toMatchObject({
      field: 'standardBusinessDocumentHeader.documentIdentification.type',
      code: 'MessageType',
    });
  });

  it('refuses a standard that does not end with ::<type>', async () => {
    const s = sbd() as { standardBusinessDocumentHeader: { documentIdentification: { standard: string } } };
    s.standardBusinessDocumentHeader.documentIdentification.standard =
      'urn:no:difi:arkivmelding:xsd::kvittering';
    await expectError(post(s), 400, 'MessageTypeDoesNotFitDocumentTypeException');
  });

  it.each([
    [
      'receiver',
      (s: Record<string, any>) => {
        s.standardBusinessDocumentHeader.receiver[0].identifier.value = '0192:12345';
      },
      'standardBusinessDocumentHeader.receiver.identifier.value',
    ],
    [
      'headerVersion type',
      (s: Record<string, any>) => {
        s.standardBusinessDocumentHeader.headerVersion = 1;
      },
      'standardBusinessDocumentHeader.headerVersion',
    ],
    [
      'messageId UUID',
      (s: Record<string, any>) => {
        s.standardBusinessDocumentHeader.documentIdentification.instanceIdentifier = 'abc';
      },
      'standardBusinessDocumentHeader.documentIdentification.instanceIdentifier',
    ],
    [
      'conversationId UUID',
      (s: Record<string, any>) => {
        s.standardBusinessDocumentHeader.businessScope.scope[0].instanceIdentifier = 'abc';
      },
      'standardBusinessDocumentHeader.businessScope.scope.instanceIdentifier',
    ],
    [
      'scope type',
      (s: Record<string, any>) => {
        s.standardBusinessDocumentHeader.businessScope.scope[0].type = 'Nope';
      },
      'standardBusinessDocumentHeader.businessScope.scope[0].type',
    ],
    [
      'authority',
      (s: Record<string, any>) => {
        s.standardBusinessDocumentHeader.receiver[0].identifier.authority = 'x';
      },
      'standardBusinessDocumentHeader.receiver.identifier.authority',
    ],
    [
      'two receivers',
      (s: Record<string, any>) => {
        s.standardBusinessDocumentHeader.receiver.push(s.standardBusinessDocumentHeader.receiver[0]);
      },
      'standardBusinessDocumentHeader.receiver',
    ],
    [
      'past expectedResponseDateTime',
      (s: Record<string, any>) => {
        s.standardBusinessDocumentHeader.businessScope.scope[0].scopeInformation = [
          { expectedResponseDateTime: '2020-01-01T00:00:00+01:00' },
        ];
      },
      'standardBusinessDocumentHeader.businessScope.scope.scopeInformation.expectedResponseDateTime',
    ],
    [
      'minute in expectedResponseDateTime (T10:75:00)',
      (s: Record<string, any>) => {
        s.standardBusinessDocumentHeader.businessScope.scope[0].scopeInformation = [
          { expectedResponseDateTime: '2030-01-01T10:75:00+01:00' },
        ];
      },
      'standardBusinessDocumentHeader.businessScope.scope.0.scopeInformation.0.expectedResponseDateTime',
    ],
    [
      'offset in expectedResponseDateTime (+25:99)',
      (s: Record<string, any>) => {
        s.standardBusinessDocumentHeader.businessScope.scope[0].scopeInformation = [
          { expectedResponseDateTime: '2030-01-01T10:00:00+25:99' },
        ];
      },
      'standardBusinessDocumentHeader.businessScope.scope.0.scopeInformation.0.expectedResponseDateTime',
    ],
    [
      'second in creationDateAndTime (T10:00:60)',
      (s: Record<string, any>) => {
        s.standardBusinessDocumentHeader.documentIdentification.creationDateAndTime =
          '2026-11-20T10:00:60+01:00';
      },
      'standardBusinessDocumentHeader.documentIdentification.creationDateAndTime',
    ],
    [
      'sikkerhetsnivaa type',
      (s: Record<string, any>) => {
        s.arkivmelding.sikkerhetsnivaa = 'high';
      },
      'arkivmelding.sikkerhetsnivaa',
    ],
    [
      'hoveddokument path',
      (s: Record<string, any>) => {
        s.arkivmelding.hoveddokument = '../etc/passwd';
      },
      'arkivmelding.hoveddokument',
    ],
    [
      'varselType',
      (s: Record<string, any>) => {
        s.arkivmelding.dpv.varselType = 'Sometimes';
      },
      'arkivmelding.dpv.varselType',
    ],
  ])('names the field for a bad %s', async (_name, mutate, field) => {
    const s = sbd() as Record<string, any>;
    mutate(s);
    const body = await expectError(post(s), 400, 'ConstraintViolationException');
    expect(body.errors?.map((e) => e.field)).toContain(field);
  });

  it('refuses a body over the JSON limit with 413', async () => {
    const s = sbd() as Record<string, any>;
    s.arkivmelding.dpf = { forsendelseType: 'x'.repeat(30_000) };
    await expectError(post(s), 413, 'PayloadTooLargeException');
  });
});

describe('create: receiver capability', () => {
  it('refuses an unknown receiver with the address service explanation', async () => {
    const body = await expectError(
      post(sbd({ receiver: ORG_UNKNOWN })),
      400,
      'ReceiverDoesNotAcceptProcessException',
    );
    expect(body.message).toContain(TAUSHETSBELAGT);
    expect(body.description).toContain(ORG_UNKNOWN);
  });
  it('refuses a receiver that has no taushetsbelagt capability', async () => {
    const body = await expectError(
      post(sbd({ receiver: ORG_DPV_ORDINARY_ONLY })),
      400,
      'ReceiverDoesNotAcceptProcessException',
    );
    expect(body.description).toContain('not found for receiver');
  });
  it('refuses a receiver resolved to DPO, saying only DPV is supported', async () => {
    const body = await expectError(post(sbd({ receiver: ORG_DPO })), 400, 'ServiceNotSupportedException');
    expect(body.message).toContain('DPO');
    expect(body.message).toContain('DPV');
  });
  it('refuses taushetsbelagt post resolved to a non-confidential Altinn resource', async () => {
    const body = await expectError(
      post(sbd({ receiver: ORG_WRONG_RESOURCE })),
      400,
      'ConfidentialResourceMismatchException',
    );
    expect(body.message).toContain('eformidling-dpv-taushetsbelagt');
  });
  it('answers 503 when the address service fails and 502 when its signature is bad', async () => {
    h.sandbox.setMode('error-500');
    try {
      await expectError(
        post(
          sbd({ receiver: '910075946', process: 'urn:no:difi:profile:arkivmelding:administrasjon:ver1.0' }),
        ),
        503,
        'ServiceRegistryUnavailableException',
      );
      h.sandbox.setMode('tamper');
      // Another security level is another cache key, so this lookup reaches the (now tampering) sandbox.
      const s = sbd() as { arkivmelding: { sikkerhetsnivaa: number } };
      s.arkivmelding.sikkerhetsnivaa = 2;
      await expectError(post(s), 502, 'ServiceRegistrySignatureException');
    } finally {
      h.sandbox.setMode('ok');
    }
  });
  it('serves capabilities in the reference shape, 404 for an unknown receiver', async () => {
    const res = await h.json<{ capabilities: Record<string, unknown>[] }>(
      'GET',
      `/api/capabilities/910075946?process=${TAUSHETSBELAGT}`,
    );
    expect(res.status).toBe(200);
    expect(res.body.capabilities[0]).toEqual({
      process: TAUSHETSBELAGT,
      serviceIdentifier: 'DPV',
      documentTypes: [{ type: 'arkivmelding', standard: 'urn:no:difi:arkivmelding:xsd::arkivmelding' }],
    });
    await expectError(h.fetch(`/api/capabilities/${ORG_UNKNOWN}`), 404, 'IdentifierNotFoundException');
    await expectError(h.fetch('/api/capabilities/abc'), 400, 'ConstraintViolationException');
  });
});

describe('upload rules', () => {
  it('requires Content-Disposition', async () => {
    const id = await create(sbd());
    await expectError(put(id, null, 'x'), 400, 'MissingHttpHeaderException');
  });
  it.each(['../x.pdf', 'a/b.pdf', 'a\\\\b.pdf', 'c:x.pdf'])('refuses the filename %s', async (name) => {
    const id = await create(sbd());
    await expectError(put(id, name, 'x'), 400, 'InvalidFilenameException');
  });
  it('refuses a duplicate filename', async () => {
    const id = await create(sbd());
    expect((await put(id, 'a.pdf', 'x')).status).toBe(200);
    await expectError(put(id, 'a.pdf', 'y'), 400, 'DuplicateFilenameException');
  });
  it('requires a title for DPV', async () => {
    const id = await create(sbd());
    await expectError(
      h.fetch(`/api/messages/out/${id}`, {
        method: 'PUT',
        headers: { 'content-disposition': 'attachment; filename="a.pdf"' },
        body: 'x',
      }),
      400,
      'MissingFileTitleException',
    );
  });
  it('answers 404 for an unknown message and 400 for a bad id', async () => {
    await expectError(put(randomUUID(), 'a.pdf', 'x'), 404, 'MessageNotFoundException');
    await expectError(put('not-a-uuid', 'a.pdf', 'x'), 400, 'ConstraintViolationException');
  });
  it('refuses what would exceed the message size limit, keeping no partial file or entry', async () => {
    const id = await create(sbd());
    expect((await put(id, 'a.pdf', Buffer.alloc(15000))).status).toBe(200);
    await expectError(put(id, 'b.pdf', Buffer.alloc(10000)), 400, 'MaxFileSizeExceededException');
    // Without a Content-Length the cap applies while streaming.
    const chunked = new ReadableStream({
      start(c) {
        c.enqueue(new Uint8Array(8000));
        c.close();
      },
    });
    await expectError(
      h.fetch(`/api/messages/out/${id}`, {
        method: 'PUT',
        headers: { 'content-disposition': 'attachment; name="C"; filename="c.pdf"' },
        body: chunked,
        duplex: 'half',
      } as RequestInit),
      400,
      'MaxFileSizeExceededException',
    );
    expect(readdirSync(`${h.dataDir}/out/${id}`)).toHaveLength(1);
    expect((await put(id, 'b.pdf', Buffer.alloc(100))).status).toBe(200);
  });
  it('guesses the MIME type from the extension for octet-stream', async () => {
    const id = await create(sbd());
    expect((await put(id, 'notat.txt', 'hei', { 'content-type': 'application/octet-stream' })).status).toBe(
      200,
    );
    expect((await put(id, 'skann', 'x', { 'content-type': 'application/octet-stream' })).status).toBe(200);
    expect((await put(id, 'brev.pdf', 'x', { 'content-type': 'text/plain' })).status).toBe(200);
    const store = new Store(h.redis, `${h.prefix}:`, new Crypto(h.config.DATA_ENCRYPTION_KEY));
    const types = Object.fromEntries((await store.listFiles(id)).map((f) => [f.filename, f.mimeType]));
    // Guessed from the extension, PDF when there is none; a given type is kept.
    expect(types).toEqual({ 'notat.txt': 'text/plain', skann: 'application/pdf', 'brev.pdf': 'text/plain' });
  });
});

describe('send rules', () => {
  it('needs at least one file, then arkivmelding.xml, then every referenced file', async () => {
    const id = await create(sbd());
    await expectError(h.fetch(`/api/messages/out/${id}`, { method: 'POST' }), 400, 'MissingFileException');
    await put(id, 'a.pdf', 'x');
    await expectError(
      h.fetch(`/api/messages/out/${id}`, { method: 'POST' }),
      400,
      'MissingArkivmeldingException',
    );
    const xml = arkivmeldingXml({ files: ['a.pdf', 'b.pdf', 'c.pdf'] });
    expect((await put(id, 'arkivmelding.xml', xml, { 'content-type': 'text/xml' })).status).toBe(200);
    const body = await expectError(
      h.fetch(`/api/messages/out/${id}`, { method: 'POST' }),
      400,
      'MissingArkivmeldingFileException',
    );
    expect(body.message).toContain('b.pdf,c.pdf');
  });
  it('marks LEVETID_UTLOPT and answers 400 when the time to live ran out before send', async () => {
    const ttl = new Date(now.getTime() + 60_000).toISOString();
    const id = await create(sbd({ expectedResponseDateTime: ttl }));
    await put(id, 'arkivmelding.xml', arkivmeldingXml({ files: ['a.pdf'] }));
    await put(id, 'a.pdf', 'x');
    const saved = now;
    now = new Date(saved.getTime() + 120_000);
    try {
      const body = await expectError(
        h.fetch(`/api/messages/out/${id}`, { method: 'POST' }),
        400,
        'TimeToLiveException',
      );
      expect(body.message).toContain('has been exceeded');
    } finally {
      now = saved;
    }
    const st = await h.json<{ content: { status: string; description?: string }[] }>(
      'GET',
      `/api/statuses/${id}`,
    );
    expect(st.body.content.map((s) => s.status)).toEqual(['OPPRETTET', 'LEVETID_UTLOPT']);
    expect(st.body.content[1]!.description).toContain('Levetiden');
  });
  it('answers 404 for an unknown message', async () => {
    await expectError(
      h.fetch(`/api/messages/out/${randomUUID()}`, { method: 'POST' }),
      404,
      'MessageNotFoundException',
    );
  });
});

describe('auth', () => {
  it('asks for Basic credentials on /api and leaves health open', async () => {
    const res = await fetch(`${h.base}/api/statuses`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Basic');
    const wrong = await fetch(`${h.base}/api/statuses`, { headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(wrong.status).toBe(401);
    expect((await fetch(`${h.base}/health/ready`)).status).toBe(200);
  });
});
