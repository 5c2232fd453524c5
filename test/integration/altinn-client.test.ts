import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AltinnClient, AltinnError, type UploadFile } from '../../src/adapters/altinn.js';
import { staticToken, type TokenSource } from '../../src/adapters/maskinporten.js';
import { ORG_DPV_TAUSHETSBELAGT } from '../../src/sandbox/address-service-seed.js';
import { type AltinnSandbox, startAltinnSandbox } from '../../src/sandbox/altinn.js';
import { waitFor } from '../helpers/dpv.js';
import { writeEndlessly } from '../helpers/raw-http.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/** The Altinn client on its default transport (undici, no injection) against the sandbox Altinn over real HTTP. */

const TOKEN = `static-${randomUUID()}`;
const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let sandbox: AltinnSandbox;
const clients: AltinnClient[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  sandbox = await startAltinnSandbox({ staticTokens: [TOKEN] });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await sandbox.close();
});

function client(o: { baseUrl?: string; tokens?: TokenSource; timeoutMs?: number } = {}): AltinnClient {
  const c = new AltinnClient({
    baseUrl: o.baseUrl ?? sandbox.correspondenceUrl,
    tokens: o.tokens ?? staticToken(TOKEN),
    timeoutMs: o.timeoutMs ?? 2000,
    uploadTimeoutMs: o.timeoutMs ?? 10_000,
  });
  clients.push(c);
  return c;
}

/** The form fields of one valid upload with one attachment. */
function fields(idempotentKey = randomUUID()): [string, string][] {
  return [
    ['correspondence.resourceId', 'eformidling-dpv-taushetsbelagt'],
    ['correspondence.sender', '0192:910077473'],
    ['correspondence.sendersReference', idempotentKey],
    ['correspondence.messageSender', 'SANDKASSE AVSENDERETAT'],
    ['correspondence.requestedPublishTime', new Date().toISOString()],
    ['correspondence.isConfirmationNeeded', 'false'],
    ['correspondence.isConfidential', 'true'],
    ['correspondence.content.language', 'nb'],
    ['correspondence.content.messageTitle', 'Vedtak'],
    ['correspondence.content.messageSummary', 'Vedtak'],
    ['correspondence.content.messageBody', 'Vedtak'],
    ['correspondence.notification.notificationTemplate', 'CustomMessage'],
    ['correspondence.notification.notificationChannel', 'Email'],
    ['correspondence.notification.emailSubject', 'Melding mottatt i Altinn'],
    ['correspondence.notification.emailBody', 'Du har mottatt en melding.'],
    ['recipients[0]', `urn:altinn:organization:identifier-no:${ORG_DPV_TAUSHETSBELAGT}`],
    ['idempotentKey', idempotentKey],
    ['correspondence.content.attachments[0].fileName', 'vedtak.pdf'],
    ['correspondence.content.attachments[0].displayName', 'Vedtak'],
    ['correspondence.content.attachments[0].isEncrypted', 'false'],
    ['correspondence.content.attachments[0].sendersReference', 'ref-1'],
  ];
}

/** A file that hands out `data` in 64 KiB chunks, remembering every stream it opened. */
function fileOf(data: Buffer): UploadFile & { opened: Readable[] } {
  const opened: Readable[] = [];
  return {
    filename: 'vedtak.pdf',
    contentType: 'application/pdf',
    opened,
    async open() {
      const chunks: Buffer[] = [];
      for (let i = 0; i < data.length; i += 64 * 1024) chunks.push(data.subarray(i, i + 64 * 1024));
      const s = Readable.from(chunks, { objectMode: false });
      opened.push(s);
      return s;
    },
  };
}

const uploadOf = (key: string) => sandbox.uploads.filter((u) => u.fields.idempotentKey?.[0] === key);

async function failureOf(p: Promise<unknown>): Promise<AltinnError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AltinnError);
  return e as AltinnError;
}

/** A bare HTTP server for answers the sandbox does not give. */
async function rawServer(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/correspondence/api/v1`;
}

describe('upload over the default transport', () => {
  let proxy: TcpProxy;
  afterAll(async () => {
    await proxy?.close();
  });

  it('streams the file: Altinn has its first megabytes before the rest of it exists', async () => {
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(sandbox.url).port) });
    const base = new URL(sandbox.correspondenceUrl);
    base.port = String(proxy.port);
    const head = Buffer.alloc(3 * MiB, 7);
    const tail = Buffer.alloc(MiB, 9);
    const source = new PassThrough();
    const file: UploadFile = {
      filename: 'vedtak.pdf',
      contentType: 'application/pdf',
      open: async () => source,
    };
    const key = randomUUID();
    const done = client({ baseUrl: base.toString() }).upload(fields(key), [file]);
    source.write(head);
    // Buffering the body first would wait for the end of the file, which only comes once these bytes got through.
    await waitFor(async () => proxy.bytesToServer() > head.length, 'the head of the file to reach Altinn');
    source.end(tail);
    const { correspondenceId } = await done;
    const [up] = uploadOf(key);
    expect(up!.correspondenceIds).toEqual([correspondenceId]);
    const whole = Buffer.concat([head, tail]);
    expect(up!.attachments).toEqual([
      expect.objectContaining({ filename: 'vedtak.pdf', size: whole.length, sha256: sha256(whole) }),
    ]);
  });

  it('401: the token is dropped, a fresh one sent, the file streamed again; no stream left open', async () => {
    const invalidated: string[] = [];
    let stale = true;
    const tokens: TokenSource = {
      get: async () => (stale ? 'stale-token-for-this-test' : TOKEN),
      invalidate: (t) => {
        invalidated.push(t);
        stale = false;
      },
    };
    const data = Buffer.alloc(4 * MiB, 3);
    const file = fileOf(data);
    const key = randomUUID();
    const before = sandbox.uploads.length;
    await client({ tokens }).upload(fields(key), [file]);
    expect(invalidated).toEqual(['stale-token-for-this-test']);
    // The refused request is recorded before its body is read, so it is found by position.
    const ups = sandbox.uploads.slice(before);
    expect(ups.map((u) => u.status)).toEqual([401, 200]);
    expect(ups[0]!.authorization).toBe('Bearer stale-token-for-this-test');
    expect(ups[1]!.fields.idempotentKey).toEqual([key]);
    expect(ups[1]!.attachments[0]).toMatchObject({ size: data.length, sha256: sha256(data) });
    expect(file.opened).toHaveLength(2);
    await waitFor(async () => file.opened.every((s) => s.destroyed), 'both streams to be closed');
  });

  it('a 401 after the fresh token too is the answer: permanent, not a third request', async () => {
    const tokens: TokenSource = { get: async () => 'never-valid-token', invalidate: () => {} };
    const before = sandbox.uploads.length;
    const e = await failureOf(client({ tokens }).upload(fields(), [fileOf(Buffer.from('%PDF'))]));
    expect(e.kind).toBe('permanent');
    expect(e.message).toBe('Altinn upload answered HTTP 401');
    expect(sandbox.uploads.slice(before).map((u) => u.status)).toEqual([401, 401]);
  });

  it('5xx: transient, with the status and the Retry-After Altinn gave', async () => {
    sandbox.fault('upload', { status: 503, headers: { 'retry-after': '3' }, body: 'Service Unavailable' });
    const e = await failureOf(client().upload(fields(), [fileOf(Buffer.from('%PDF-1.7'))]));
    expect(e.kind).toBe('transient');
    expect(e.message).toBe('Altinn upload answered HTTP 503');
    expect(e.details).toEqual({ status: 503, retryAfterMs: 3000 });
  });

  it('409: the idempotent key is known, a conflict; the search finds the first correspondence', async () => {
    const key = randomUUID();
    const c = client();
    const { correspondenceId } = await c.upload(fields(key), [fileOf(Buffer.from('%PDF-1.7 a'))]);
    const e = await failureOf(c.upload(fields(key), [fileOf(Buffer.from('%PDF-1.7 a'))]));
    expect(e.kind).toBe('conflict');
    expect(e.details.status).toBe(409);
    expect(e.message).toMatch(/^Altinn upload answered HTTP 409 CORR-\d+: /);
    expect(await c.findByIdempotentKey('eformidling-dpv-taushetsbelagt', key)).toBe(correspondenceId);
  });
});

describe('answers the client will not wait for or hold', () => {
  it('no answer: transient after the timeout, not after the server gives up', async () => {
    sandbox.fault('overview', { kind: 'timeout', ms: 3000 });
    const t0 = Date.now();
    const e = await failureOf(client({ timeoutMs: 300 }).overview(randomUUID()));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(e.kind).toBe('transient');
    expect(e.message).toBe('Altinn overview failed: no answer within the timeout');
  });

  it('headers, then a body that stalls: the deadline covers the body too', async () => {
    const base = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"correspondenceId":');
    });
    const t0 = Date.now();
    const e = await failureOf(client({ baseUrl: base, timeoutMs: 300 }).overview(randomUUID()));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(e.message).toBe('Altinn overview failed: no answer within the timeout');
  });

  it('a body over 1 MiB, declared or chunked, is refused unread: transient', async () => {
    sandbox.fault('overview', {
      status: 200,
      contentType: 'application/json',
      body: `"${'x'.repeat(2 * MiB)}"`,
    });
    const declared = await failureOf(client().overview(randomUUID()));
    expect(declared.kind).toBe('transient');
    expect(declared.message).toBe('Altinn overview answered HTTP 200 with a body over 1048576 bytes');

    let written = () => 0;
    const base = await rawServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      written = writeEndlessly(res, Buffer.alloc(64 * 1024, 0x20));
    });
    const chunked = await failureOf(client({ baseUrl: base }).details(randomUUID()));
    expect(chunked.kind).toBe('transient');
    expect(chunked.message).toBe('Altinn details answered HTTP 500 with a body over 1048576 bytes');
    expect(written()).toBeGreaterThan(MiB);

    // The same client goes on.
    sandbox.fault('overview', { status: 404 });
    expect(await client().overview(randomUUID())).toBeNull();
  });

  it('nobody listening: transient, named by the error code', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    const e = await failureOf(
      client({ baseUrl: `http://127.0.0.1:${port}/correspondence/api/v1` }).overview(randomUUID()),
    );
    expect(e.kind).toBe('transient');
    expect(e.message).toBe('Altinn overview failed: ECONNREFUSED');
  });
});
