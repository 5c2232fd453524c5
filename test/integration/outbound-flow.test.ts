import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORG_DPV_TAUSHETSBELAGT } from '../../src/sandbox/address-service-seed.js';
import { DELETED_BEFORE_SENDING_DESCRIPTION } from '../../src/services/outgoing.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { arkivmeldingXml, sbd } from '../helpers/messages.js';

let h: Harness;
let queue: Queue;

beforeAll(async () => {
  h = await startHarness();
  queue = new Queue('send', { connection: h.redis, prefix: `${h.prefix}:bull` });
});
afterAll(async () => {
  await queue.close();
  await h.close();
});

async function upload(
  messageId: string,
  filename: string,
  body: string | Buffer,
  title = 'Vedtak',
  type = 'application/pdf',
) {
  return h.fetch(`/api/messages/out/${messageId}?title=${encodeURIComponent(title)}`, {
    method: 'PUT',
    headers: {
      'content-type': type,
      'content-disposition': `attachment; name="${title}"; filename="${filename}"`,
    },
    body,
  });
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

describe('request logging', () => {
  it('writes one line per request, at its answer, with method, path and status but not the query', async () => {
    const before = h.logs.length;
    const res = await h.fetch('/api/messages/out?size=1&messageId=hemmelig-tittel', {});
    expect(res.status).toBe(200);
    type Line = { msg?: string; req?: { method?: string; path?: string }; res?: { statusCode?: number } };
    const lines = () => h.logs.slice(before).map((l) => JSON.parse(l) as Line);
    // The line is written once the answer has gone out, so it may land just after the client has it.
    for (let i = 0; i < 100 && !lines().some((l) => l.req?.path === '/api/messages/out'); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const mine = lines().filter((l) => l.req?.path === '/api/messages/out');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      msg: 'request completed',
      req: { method: 'GET', path: '/api/messages/out' },
      res: { statusCode: 200 },
    });
    expect(lines().filter((l) => l.msg === 'incoming request')).toEqual([]);
    expect(h.logs.slice(before).join('')).not.toContain('hemmelig-tittel');
  });
});

describe('taushetsbelagt arkivmelding: create, upload, send', () => {
  it('queues the job with the messageId only once every part is in, and tracks OPPRETTET', async () => {
    const created = await h.json('POST', '/api/messages/out', sbd({ hoveddokument: 'vedtak.pdf' }));
    expect(created.status).toBe(200);
    const header = created.body.standardBusinessDocumentHeader as Record<string, Record<string, string>>;
    const messageId = header.documentIdentification!.instanceIdentifier!;

    const xml = arkivmeldingXml({
      files: ['vedtak.pdf'],
      offentligTittel: 'Melding om tiltak, sak 2026/4711',
    });
    expect((await upload(messageId, 'arkivmelding.xml', xml, 'Arkivmelding', 'text/xml')).status).toBe(200);
    const doc = Buffer.from('%PDF-1.7 hemmelig innhold om et barn');
    expect((await upload(messageId, 'vedtak.pdf', doc)).status).toBe(200);

    expect(await queue.getJob(`send-${messageId}`)).toBeUndefined();
    const sent = await h.fetch(`/api/messages/out/${messageId}`, { method: 'POST' });
    expect(sent.status).toBe(200);
    expect(await sent.text()).toBe('');

    const job = await queue.getJob(`send-${messageId}`);
    expect(job?.data).toEqual({ messageId });
    expect(await job?.getState()).toBe('waiting');

    const statuses = await h.json<{ content: { status: string }[] }>('GET', `/api/statuses/${messageId}`);
    expect(statuses.body.content.map((s) => s.status)).toEqual(['OPPRETTET']);
    const conv = await h.json<Record<string, unknown>>('GET', `/api/conversations/messageId/${messageId}`);
    expect(conv.body).toMatchObject({
      messageId,
      messageTitle: 'Melding om tiltak, sak 2026/4711',
      serviceIdentifier: 'DPV',
      direction: 'OUTGOING',
      receiverIdentifier: ORG_DPV_TAUSHETSBELAGT,
      sender: '0192:910077473',
    });

    // Attachments and the confidential title are never on disk or in Redis in clear.
    const onDisk = allFiles(h.dataDir).map((f) => readFileSync(f));
    expect(onDisk.length).toBe(2);
    for (const b of onDisk) {
      expect(b.includes(doc)).toBe(false);
      expect(b.includes(Buffer.from('Konfidensiell tittel'))).toBe(false);
    }
    const keys = await h.redis.keys(`${h.prefix}:*`);
    for (const k of keys) {
      const type = await h.redis.type(k);
      const dump =
        type === 'hash'
          ? JSON.stringify(await h.redis.hgetall(k))
          : type === 'string'
            ? await h.redis.get(k)
            : '';
      expect(dump).not.toContain('Konfidensiell tittel');
      expect(dump).not.toContain('Vedtak');
    }
    expect(h.logs.join('')).not.toContain('Konfidensiell tittel');
    expect(h.logs.join('')).not.toContain('title=Vedtak');
  });

  it('does the same in one multipart request', async () => {
    const messageId = randomUUID();
    const form = new FormData();
    form.append('sbd', new Blob([JSON.stringify(sbd({ messageId }))], { type: 'application/json' }));
    form.append(
      'Arkivmelding',
      new Blob([arkivmeldingXml({ files: ['brev.pdf'] })], { type: 'text/xml' }),
      'arkivmelding.xml',
    );
    form.append('Brev til kommunen', new Blob(['%PDF brev'], { type: 'application/pdf' }), 'brev.pdf');
    const res = await h.fetch('/api/messages/out/multipart', { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      standardBusinessDocumentHeader: { documentIdentification: { instanceIdentifier: string } };
    };
    expect(body.standardBusinessDocumentHeader.documentIdentification.instanceIdentifier).toBe(messageId);
    expect((await queue.getJob(`send-${messageId}`))?.data).toEqual({ messageId });
  });

  it('refuses a multipart file over the per-file limit and keeps nothing of the request', async () => {
    const messageId = randomUUID();
    const form = new FormData();
    form.append('sbd', JSON.stringify(sbd({ messageId })));
    form.append('Arkivmelding', new Blob([arkivmeldingXml({ files: ['stor.pdf'] })]), 'arkivmelding.xml');
    form.append('Stor', new Blob([Buffer.alloc(h.config.MULTIPART_MAX_FILE_SIZE + 10, 1)]), 'stor.pdf');
    const res = await h.fetch('/api/messages/out/multipart', { method: 'POST', body: form });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { exception: string }).exception).toBe('MultipartFileToLargeException');
    expect((await h.json('GET', `/api/messages/out/${messageId}`)).status).toBe(404);
    expect((await h.json('GET', `/api/conversations/messageId/${messageId}`)).status).toBe(404);
    expect(existsSync(join(h.dataDir, 'out', messageId))).toBe(false);
    expect(allFiles(h.dataDir).some((f) => f.includes(messageId))).toBe(false);
  });

  it('treats a second send as a no-op and refuses uploads after send', async () => {
    const { body } = await h.json('POST', '/api/messages/out', sbd());
    const id = (
      body.standardBusinessDocumentHeader as { documentIdentification: { instanceIdentifier: string } }
    ).documentIdentification.instanceIdentifier;
    await upload(id, 'arkivmelding.xml', arkivmeldingXml({ files: ['a.pdf'] }), 'Arkivmelding', 'text/xml');
    await upload(id, 'a.pdf', 'pdf');
    expect((await h.fetch(`/api/messages/out/${id}`, { method: 'POST' })).status).toBe(200);
    expect((await h.fetch(`/api/messages/out/${id}`, { method: 'POST' })).status).toBe(200);
    const late = await upload(id, 'b.pdf', 'pdf');
    expect(late.status).toBe(400);
    expect(((await late.json()) as { exception: string }).exception).toBe('MessageAlreadySentException');
    // Deleting a queued message takes its waiting job out of the queue and its files off the disk.
    expect(await queue.getJob(`send-${id}`)).toBeDefined();
    expect((await h.fetch(`/api/messages/out/${id}`, { method: 'DELETE' })).status).toBe(200);
    expect(await queue.getJob(`send-${id}`)).toBeUndefined();
    expect(allFiles(h.dataDir).some((f) => f.includes(id))).toBe(false);
    // The conversation says the send ended here, and nothing waits for its time to live.
    const statuses = (
      await h.json<{ content: { status: string; description?: string }[] }>('GET', `/api/statuses/${id}`)
    ).body.content;
    expect(statuses.map((s) => [s.status, s.description ?? null])).toEqual([
      ['OPPRETTET', null],
      ['ANNET', DELETED_BEFORE_SENDING_DESCRIPTION],
    ]);
  });

  it('refuses to delete a message a worker is handing to Altinn right now', async () => {
    const { body } = await h.json('POST', '/api/messages/out', sbd());
    const id = (
      body.standardBusinessDocumentHeader as { documentIdentification: { instanceIdentifier: string } }
    ).documentIdentification.instanceIdentifier;
    await upload(id, 'arkivmelding.xml', arkivmeldingXml({ files: ['a.pdf'] }), 'Arkivmelding', 'text/xml');
    await upload(id, 'a.pdf', 'pdf');
    expect((await h.fetch(`/api/messages/out/${id}`, { method: 'POST' })).status).toBe(200);
    // A stand-in worker that takes the job and holds it.
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let taken!: () => void;
    const active = new Promise<void>((r) => {
      taken = r;
    });
    const worker = new Worker(
      'send',
      async (job) => {
        // Earlier tests' jobs wait in the same queue: only this message's is held.
        if (job.data.messageId !== id) return;
        taken();
        await held;
      },
      { connection: h.redis.duplicate({ maxRetriesPerRequest: null }), prefix: `${h.prefix}:bull` },
    );
    try {
      await active;
      const refused = await h.fetch(`/api/messages/out/${id}`, { method: 'DELETE' });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { exception: string }).exception).toBe(
        'MessageSendInProgressException',
      );
      expect((await h.json('GET', `/api/messages/out/${id}`)).status).toBe(200);
    } finally {
      release();
      await worker.close();
    }
  });
});
