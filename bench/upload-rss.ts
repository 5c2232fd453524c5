import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { arkivmeldingXml, sbd } from '../test/helpers/messages.js';
import { MB, RssSampler } from './proc.js';
import { type ServerMode, startServer } from './server-process.js';

export interface UploadRssResult {
  server: ServerMode;
  uploadMb: number;
  status: number;
  seconds: number;
  baselineMb: number;
  peakMb: number;
  growthMb: number;
  source: string;
}

const CHUNK_BYTES = 64 * 1024;
const UPLOAD_TIMEOUT_MS = 90_000;
const WARMUP_MESSAGES = 20;
const BIG_NAME = 'stor.pdf';

async function ok(
  base: string,
  method: 'POST' | 'PUT',
  path: string,
  headers: Record<string, string>,
  body?: string,
) {
  const res = await request(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.body.text();
  if (res.statusCode !== 200)
    throw new Error(`${method} ${path} answered ${res.statusCode}: ${text.slice(0, 300)}`);
}

/** Creates a message with arkivmelding.xml referencing `filename`; the big file goes in next. */
async function prepareMessage(base: string, filename: string): Promise<string> {
  const id = randomUUID();
  await ok(
    base,
    'POST',
    '/api/messages/out',
    { 'content-type': 'application/json' },
    JSON.stringify(sbd({ messageId: id })),
  );
  await ok(
    base,
    'PUT',
    `/api/messages/out/${id}`,
    {
      'content-type': 'application/xml',
      'content-disposition': 'attachment; name="Arkivmelding"; filename="arkivmelding.xml"',
    },
    arkivmeldingXml({ files: [filename] }),
  );
  return id;
}

/** PUTs `bytes` generated on the fly from one reused chunk, honouring backpressure; resolves with the status. */
async function streamUpload(base: string, path: string, bytes: number): Promise<number> {
  const url = new URL(path, base);
  const chunk = randomBytes(CHUNK_BYTES);
  const req = http.request({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'PUT',
    agent: false,
    headers: {
      'content-type': 'application/pdf',
      'content-length': String(bytes),
      'content-disposition': `attachment; name="Stor fil"; filename="${BIG_NAME}"`,
    },
  });
  const timer = setTimeout(() => req.destroy(new Error('upload timed out')), UPLOAD_TIMEOUT_MS);
  let answered = false;
  const response = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      answered = true;
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  try {
    let sent = 0;
    // An early answer (a refusal) ends the writing; the loop is bounded by `bytes`.
    while (sent < bytes && !answered && !req.destroyed) {
      const n = Math.min(CHUNK_BYTES, bytes - sent);
      sent += n;
      if (!req.write(n === CHUNK_BYTES ? chunk : chunk.subarray(0, n))) {
        await Promise.race([once(req, 'drain'), response]);
      }
    }
    req.end();
    return await response;
  } finally {
    clearTimeout(timer);
  }
}

/** RSS growth of a server process while one large file is streamed to it with PUT (bare: for reference). */
export async function runUploadRss(
  env: Record<string, string>,
  uploadMb: number,
  mode: ServerMode = 'ours',
): Promise<UploadRssResult> {
  const bytes = uploadMb * MB;
  const server = await startServer(mode, { ...env, MAX_MESSAGE_SIZE: String(bytes + 100 * MB) });
  try {
    // A few whole small messages first, so lazy initialisation is not billed to the upload.
    for (let i = 0; i < WARMUP_MESSAGES; i++) {
      const id = await prepareMessage(server.base, 'dokument.pdf');
      await ok(
        server.base,
        'PUT',
        `/api/messages/out/${id}`,
        {
          'content-type': 'application/pdf',
          'content-disposition': 'attachment; name="Vedtak"; filename="dokument.pdf"',
        },
        'x'.repeat(100 * 1024),
      );
      await ok(server.base, 'POST', `/api/messages/out/${id}`, {});
    }
    const id = await prepareMessage(server.base, BIG_NAME);
    await sleep(300);
    const sampler = new RssSampler(server.pid);
    const t0 = performance.now();
    const status = await streamUpload(server.base, `/api/messages/out/${id}`, bytes);
    const seconds = (performance.now() - t0) / 1000;
    const mem = sampler.stop();
    const r1 = (n: number) => Math.round(n * 10) / 10;
    return {
      server: mode,
      uploadMb,
      status,
      seconds: Math.round(seconds * 100) / 100,
      baselineMb: r1(mem.baseline / MB),
      peakMb: r1(mem.peak / MB),
      growthMb: r1((mem.peak - mem.baseline) / MB),
      source:
        mem.hwm !== null
          ? 'child VmRSS right before; peak = VmHWM (reset right before) / VmRSS every 50 ms'
          : 'child VmRSS right before; peak = VmRSS every 50 ms',
    };
  } finally {
    await server.stop();
  }
}
