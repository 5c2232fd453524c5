import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNREAD_BODY_DRAIN_LIMIT } from '../../src/app.js';
import { ORG_DPV_ORDINARY_ONLY } from '../../src/sandbox/address-service-seed.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { sbd } from '../helpers/messages.js';
import { filePart, multipartBody } from '../helpers/multipart.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads HTTP/1.1 responses (Content-Length framed) off a raw socket as they arrive. */
class ResponseReader {
  private buf = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  closed = false;
  constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => {});
  }
  async next(): Promise<Parsed> {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
        }
        const len = Number(headers['content-length'] ?? 0);
        if (this.buf.length >= end + 4 + len) {
          const body = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
          this.buf = this.buf.subarray(end + 4 + len);
          return { status: Number(lines[0]!.split(' ')[1]), headers, body };
        }
      }
      if (this.closed) throw new Error('connection closed before a whole response');
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
      this.waiting = undefined;
    }
  }
  /** Resolves once the server has closed the connection. */
  async untilClosed(): Promise<void> {
    while (!this.closed) {
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
      this.waiting = undefined;
    }
  }
}

function open(): Promise<{ socket: Socket; reader: ResponseReader }> {
  const { port } = new URL(h.base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () =>
      resolve({ socket, reader: new ResponseReader(socket) }),
    );
    socket.once('error', reject);
  });
}

/** A multipart create-and-send for a receiver that does not take taushetsbelagt post, with a big PDF after the SBD. */
function refusedUpload(pdfBytes: number): { head: string; body: Buffer } {
  const b = 'keepalive-boundary';
  const json = JSON.stringify(sbd({ receiver: ORG_DPV_ORDINARY_ONLY, hoveddokument: 'stor.pdf' }));
  const body = multipartBody(b, [
    { headers: ['Content-Disposition: form-data; name="sbd"', 'Content-Type: application/json'], body: json },
    filePart('Stor', 'stor.pdf', 'application/pdf', Buffer.alloc(pdfBytes, 0x25)),
  ]);
  const head =
    'POST /api/messages/out/multipart HTTP/1.1\r\nHost: t\r\n' +
    `Authorization: ${h.auth}\r\nContent-Type: multipart/form-data; boundary=${b}\r\n` +
    `Content-Length: ${body.length}\r\n\r\n`;
  return { head, body };
}

const NEXT = 'GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n';

describe('keep-alive after a refused request with an unread body', () => {
  it('answers the next request on the same socket after a refused 1 MiB multipart upload', async () => {
    const { socket, reader } = await open();
    const { head, body } = refusedUpload(1024 * 1024);
    socket.write(head);
    socket.write(body);
    socket.write(NEXT);
    const first = await reader.next();
    expect(first.status).toBe(400);
    expect(JSON.parse(first.body).exception).toBe('ReceiverDoesNotAcceptProcessException');
    expect(first.headers.connection).not.toBe('close');
    const second = await reader.next();
    expect(second.status).toBe(200);
    expect(JSON.parse(second.body)).toEqual({ status: 'UP' });
    // Ordinary requests keep the connection open.
    expect(second.headers.connection).not.toBe('close');
    socket.write(`GET /api/statuses HTTP/1.1\r\nHost: t\r\nAuthorization: ${h.auth}\r\n\r\n`);
    const third = await reader.next();
    expect(third.status).toBe(200);
    expect(third.headers.connection).not.toBe('close');
    socket.destroy();
  });

  it('answers the next request after a 401 on a large unread PUT', async () => {
    const { socket, reader } = await open();
    const size = 3 * 1024 * 1024;
    socket.write(
      `PUT /api/messages/out/00000000-0000-4000-8000-000000000000 HTTP/1.1\r\nHost: t\r\nContent-Type: application/pdf\r\nContent-Length: ${size}\r\n\r\n`,
    );
    socket.write(Buffer.alloc(size, 1));
    socket.write(NEXT);
    expect((await reader.next()).status).toBe(401);
    expect((await reader.next()).status).toBe(200);
    socket.destroy();
  });

  it('closes the connection, after answering, when the unread body is larger than it drains', async () => {
    const { socket, reader } = await open();
    const { head, body } = refusedUpload(UNREAD_BODY_DRAIN_LIMIT + 1024);
    socket.write(head);
    socket.write(body.subarray(0, 256 * 1024));
    const first = await reader.next();
    expect(first.status).toBe(400);
    expect(first.headers.connection).toBe('close');
    socket.write(body.subarray(256 * 1024));
    await reader.untilClosed();
  });
});
