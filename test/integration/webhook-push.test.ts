import { createHmac } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { pushEvent, SIGNATURE_HEADER } from '../../src/adapters/webhook-push.js';
import { writeEndlessly } from '../helpers/raw-http.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/** pushEvent over real HTTP: the receiver the webhook tests use, and bare servers for answers it does not give. */

const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function serve(handler: RequestListener): Promise<{ url: string; connections: () => number }> {
  const s = createServer(handler);
  let connections = 0;
  s.on('connection', () => connections++);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`,
    connections: () => connections,
  };
}

describe('pushEvent', () => {
  it('POSTs the signed body; a 2xx is delivered, anything else is not', async () => {
    const r = await new WebhookReceiver().start();
    try {
      const body = JSON.stringify({ event: 'status', status: 'LEVERT' });
      expect(await pushEvent(r.url, body, 'hemmelig', 2000)).toEqual({ ok: true, httpStatus: 200 });
      r.answer = () => 503;
      expect(await pushEvent(r.url, body, null, 2000)).toEqual({
        ok: false,
        httpStatus: 503,
        error: 'HTTP 503',
      });
      expect(r.requests.map((q) => q.raw)).toEqual([body, body]);
      expect(r.requests[0]!.headers[SIGNATURE_HEADER.toLowerCase()]).toBe(
        `sha256=${createHmac('sha256', 'hemmelig').update(body).digest('hex')}`,
      );
      expect(r.requests[1]!.headers[SIGNATURE_HEADER.toLowerCase()]).toBeUndefined();
      expect(r.requests[0]!.headers['content-type']).toBe('application/json');
    } finally {
      await r.close();
    }
  });

  it('keeps connections alive: twenty pushes one after another over at most two', async () => {
    const s = await serve((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    for (let i = 0; i < 20; i++) expect((await pushEvent(s.url, '{}', null, 2000)).ok).toBe(true);
    // The second push may start before the first one's connection is free again; after that it is reused.
    expect(s.connections()).toBeLessThanOrEqual(2);
  });

  it('an endless answer body is not read to its end: the status decides, at once', async () => {
    let written = () => 0;
    const s = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      written = writeEndlessly(res, Buffer.alloc(16 * 1024, 0x61));
    });
    const t0 = Date.now();
    expect(await pushEvent(s.url, '{}', null, 3000)).toEqual({ ok: true, httpStatus: 200 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(written()).toBeGreaterThan(64 * 1024);
  });

  it('an answer cut short, one that stalls, and nobody listening', async () => {
    const cut = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '100' });
      res.write('ok');
      setTimeout(() => res.destroy(), 20);
    });
    expect(await pushEvent(cut.url, '{}', null, 2000)).toEqual({
      ok: false,
      httpStatus: 200,
      error: 'connection failed while reading the answer',
    });

    const stall = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '100' });
      res.write('ok');
    });
    const t0 = Date.now();
    expect(await pushEvent(stall.url, '{}', null, 300)).toEqual({
      ok: false,
      error: 'no answer within 300 ms',
    });
    expect(Date.now() - t0).toBeLessThan(2000);

    const gone = await serve(() => undefined);
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(await pushEvent(gone.url, '{}', null, 2000)).toEqual({
      ok: false,
      error: 'connection failed (ECONNREFUSED)',
    });
  });
});
