import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/harness.js';
import { arkivmeldingXml, sbd } from '../helpers/messages.js';

function allFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}
const partFiles = (dir: string) => allFiles(dir).filter((f) => f.endsWith('.part'));

/** Open file descriptors of this process (the service runs in it) that point into `dir`. */
function fdsInto(dir: string): string[] {
  const root = `${realpathSync(dir)}/`;
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(root) ? [target] : [];
    } catch {
      return []; // closed between listing and reading
    }
  });
}

/** Polls until `check` holds; a bound, not a timing assertion. */
async function until(what: string, check: () => boolean | Promise<boolean>, bound = 15_000): Promise<void> {
  const deadline = Date.now() + bound;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('an upload the client aborts mid-body', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  async function newMessage(): Promise<string> {
    const messageId = randomUUID();
    expect(
      (await h.json('POST', '/api/messages/out', sbd({ messageId, hoveddokument: 'vedtak.pdf' }))).status,
    ).toBe(200);
    const xml = arkivmeldingXml({ files: ['vedtak.pdf'] });
    const res = await h.fetch(`/api/messages/out/${messageId}`, {
      method: 'PUT',
      headers: {
        'content-type': 'text/xml',
        'content-disposition': 'attachment; name="Arkivmelding"; filename="arkivmelding.xml"',
      },
      body: xml,
    });
    expect(res.status).toBe(200);
    return messageId;
  }

  /** A raw client: headers announcing 1 MiB, then 200 KiB of it; the socket is returned still open. */
  async function startUpload(messageId: string) {
    const port = Number(new URL(h.base).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => {});
    socket.write(
      [
        `PUT /api/messages/out/${messageId} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        `Authorization: ${h.auth}`,
        'Content-Type: application/pdf',
        'Content-Disposition: attachment; name="Vedtak"; filename="vedtak.pdf"',
        `Content-Length: ${1024 * 1024}`,
        '',
        '',
      ].join('\r\n'),
    );
    socket.write(Buffer.alloc(200 * 1024, 0x25));
    return socket;
  }

  it('in a multipart request too: the partial file goes and the next request works', async () => {
    const port = Number(new URL(h.base).port);
    const messageId = randomUUID();
    const boundary = 'grense1234';
    const head = Buffer.from(
      [
        `--${boundary}`,
        'Content-Disposition: form-data; name="sbd"',
        '',
        JSON.stringify(sbd({ messageId, hoveddokument: 'vedtak.pdf' })),
        `--${boundary}`,
        'Content-Disposition: form-data; name="Arkivmelding"; filename="arkivmelding.xml"',
        'Content-Type: text/xml',
        '',
        arkivmeldingXml({ files: ['vedtak.pdf'] }),
        `--${boundary}`,
        'Content-Disposition: form-data; name="Vedtak"; filename="vedtak.pdf"',
        'Content-Type: application/pdf',
        '',
        '',
      ].join('\r\n'),
    );
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => {});
    socket.write(
      [
        'POST /api/messages/out/multipart HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        `Authorization: ${h.auth}`,
        `Content-Type: multipart/form-data; boundary=${boundary}`,
        `Content-Length: ${head.length + 4 * 1024 * 1024}`,
        '',
        '',
      ].join('\r\n'),
    );
    socket.write(head);
    socket.write(Buffer.alloc(1024 * 1024, 0x25));
    await until('the document being written', () => partFiles(h.config.DATA_DIR).length === 1);
    socket.destroy();
    await until('no partial file left', () => partFiles(h.config.DATA_DIR).length === 0);
    await until('no file held open', () => fdsInto(h.config.DATA_DIR).length === 0);
    // The handler ended: its rollback removes the message the sbd part created.
    await until(
      'the message rolled back',
      async () => (await h.json('GET', `/api/messages/out/${messageId}`)).status === 404,
    );
  });

  it('ends the handler, closes the file and removes the partial file at once; the next requests work', async () => {
    const messageId = await newMessage();
    const sockets = await Promise.all(Array.from({ length: 5 }, () => startUpload(messageId)));
    // All five are being written: partial files exist and are held open.
    await until('five partial files', () => partFiles(h.config.DATA_DIR).length === 5);
    await until('five open partial files', () => fdsInto(h.config.DATA_DIR).length === 5);

    for (const s of sockets) s.destroy();

    await until('no partial file left', () => partFiles(h.config.DATA_DIR).length === 0);
    await until('no file held open', () => fdsInto(h.config.DATA_DIR).length === 0);
    expect(allFiles(join(h.config.DATA_DIR, 'out', messageId)).map((f) => f.endsWith('.bin'))).toEqual([
      true,
    ]);

    const doc = Buffer.from('%PDF-1.7 vedtak');
    const put = await h.fetch(`/api/messages/out/${messageId}`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/pdf',
        'content-disposition': 'attachment; name="Vedtak"; filename="vedtak.pdf"',
      },
      body: doc,
    });
    expect(put.status).toBe(200);
    expect((await h.json('POST', `/api/messages/out/${messageId}`)).status).toBe(200);
    expect(partFiles(h.config.DATA_DIR)).toEqual([]);
    expect(fdsInto(h.config.DATA_DIR)).toEqual([]);
  });
});

describe('an upload that stalls', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ HTTP_IDLE_TIMEOUT_MS: '700' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('is cut off after HTTP_IDLE_TIMEOUT_MS of silence: its partial file and file handle go', async () => {
    const messageId = randomUUID();
    expect((await h.json('POST', '/api/messages/out', sbd({ messageId }))).status).toBe(200);
    const port = Number(new URL(h.base).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    socket.write(
      [
        `PUT /api/messages/out/${messageId} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        `Authorization: ${h.auth}`,
        'Content-Type: application/pdf',
        'Content-Disposition: attachment; name="Vedtak"; filename="vedtak.pdf"',
        'Content-Length: 100000',
        '',
        '%PDF-',
      ].join('\r\n'),
    );
    await until('a partial file', () => partFiles(h.config.DATA_DIR).length === 1);
    // The client says nothing more and never closes: the server must.
    await closed;
    await until('no partial file left', () => partFiles(h.config.DATA_DIR).length === 0);
    await until('no file held open', () => fdsInto(h.config.DATA_DIR).length === 0);
    socket.destroy();
  });
});

describe('partial files a stopped process left behind', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'eip-sweep-'));
  const messageDir = join(dataDir, 'out', randomUUID());
  const hoursAgo = (n: number) => new Date(Date.now() - n * 3_600_000);
  const leftover = (name: string, age: Date | null) => {
    const p = join(messageDir, name);
    writeFileSync(p, 'ciphertext');
    if (age) utimesSync(p, age, age);
    return p;
  };
  let h: Harness;

  beforeAll(() => mkdirSync(messageDir, { recursive: true }));
  afterAll(async () => {
    await h?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('are removed at start and periodically once older than the bound; fresh ones and stored files stay', async () => {
    const old = leftover(`${randomUUID()}.bin.part`, hoursAgo(2));
    const fresh = leftover(`${randomUUID()}.bin.part`, null);
    const stored = leftover(`${randomUUID()}.bin`, hoursAgo(2));
    h = await startHarness({
      DATA_DIR: dataDir,
      PARTIAL_FILE_MAX_AGE_MS: String(3_600_000),
      PARTIAL_FILE_SWEEP_INTERVAL_MS: '20',
    });
    // The start-up sweep has run once the service listens.
    expect([existsSync(old), existsSync(fresh), existsSync(stored)]).toEqual([false, true, true]);

    const later = leftover(`${randomUUID()}.bin.part`, hoursAgo(1.5));
    await until('the periodic sweep removes the later leftover', () => !existsSync(later));
    expect([existsSync(fresh), existsSync(stored)]).toEqual([true, true]);
  });
});
