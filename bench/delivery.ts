import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { type AltinnSandbox, startAltinnSandbox } from '../src/sandbox/altinn.js';
import { arkivmeldingXml, sbd } from '../test/helpers/messages.js';
import { type LoadOptions, runInterleaved } from './messages.js';
import { startOwnRedis } from './own-redis.js';
import { MB, RssSampler } from './proc.js';
import { startBuiltServer, startServer } from './server-process.js';

/**
 * Send to SENDT: the built server with its send worker against the sandbox Altinn, 100 KB attachments.
 * 1. The bare ceiling of the whole-message bench (bench/bare-ceiling.ts), measured in this run.
 * 2. Sustained: the whole-message load on ours; what counts is the rate of Altinn uploads (SENDT) in the window.
 * 3. Latency at half that rate, open loop: from the send request to the Altinn upload call (the sandbox records it).
 */

export interface DeliveryFigures {
  ceilingMessagesPerSecond: number;
  acceptedPerSecond: number;
  /** Uploads from the window's start until the backlog is gone, per second of that time. */
  sentPerSecond: number;
  /** Uploads while the load ran (the API and the worker share the process). */
  sentDuringLoadPerSecond: number;
  ratio: number;
  halfRate: { perSecond: number; messages: number; delivered: number; p50Ms: number; p99Ms: number };
  peakRssMb: number;
  idleRssMb: number;
}

const DOCUMENT_BYTES = 100 * 1024;
const HALF_RATE_SECONDS = 10;
const DRAIN_TIMEOUT_MS = 60_000;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const percentile = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : Number.NaN;

/** Successful uploads, by the messageId the send worker puts in sendersReference, with the wall time of the call. */
function uploadsByMessage(altinn: AltinnSandbox): Map<string, number> {
  const out = new Map<string, number>();
  for (const u of altinn.uploads) {
    if (u.status < 200 || u.status >= 300) continue;
    const id = u.fields['correspondence.sendersReference']?.[0];
    if (id && !out.has(id)) out.set(id, Date.parse(u.at));
  }
  return out;
}

async function uploadsSettled(altinn: AltinnSandbox, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  let last = -1;
  while (Date.now() - t0 < timeoutMs) {
    await sleep(1000);
    if (altinn.uploads.length === last) return;
    last = altinn.uploads.length;
  }
}

export async function runDelivery(env: Record<string, string>, load: LoadOptions): Promise<DeliveryFigures> {
  const redis = await startOwnRedis();
  const token = randomBytes(12).toString('hex');
  const altinn = await startAltinnSandbox({ staticTokens: [token] });
  const common = { ...env, REDIS_URL: redis.url };
  const stops: (() => Promise<void>)[] = [() => redis.stop(), () => altinn.close()];
  try {
    const bare = await startServer('bare', { ...common, REDIS_PREFIX: `${env.REDIS_PREFIX}-bare` });
    stops.unshift(() => bare.stop());
    const [ceiling] = await runInterleaved([bare], { ...load, rounds: 1 });
    await bare.stop();

    const ours = await startBuiltServer({
      ...common,
      LOG_LEVEL: 'info',
      ALTINN_CORRESPONDENCE_URL: altinn.correspondenceUrl,
      ALTINN_TOKEN: token,
    });
    stops.unshift(() => ours.stop());
    const sampler = new RssSampler(ours.pid);
    const before = altinn.uploads.length;
    const windowFrom = Date.now() + (load.warmupSeconds + 0.5) * 1000;
    const [accepted] = await runInterleaved([ours], { ...load, rounds: 1 });
    const windowTo = Date.now();
    const sentInWindow = altinn.uploads
      .slice(before)
      .filter((u) => u.status >= 200 && u.status < 300 && Date.parse(u.at) >= windowFrom).length;
    const duringLoadPerSecond = sentInWindow / ((windowTo - windowFrom) / 1000);
    // The worker gets the CPU once the load stops: everything accepted in the window and after it goes out by the
    // end of the drain, so uploads from the window's start to the last one are the pipeline's sustained rate.
    await uploadsSettled(altinn, DRAIN_TIMEOUT_MS);
    const sentFromWindow = altinn.uploads
      .slice(before)
      .filter((u) => u.status >= 200 && u.status < 300 && Date.parse(u.at) >= windowFrom)
      .map((u) => Date.parse(u.at));
    const lastUpload = Math.max(windowTo, ...sentFromWindow);
    const sentPerSecond = sentFromWindow.length / ((lastUpload - windowFrom) / 1000);

    // Open loop at half the sustained rate: each message starts on its tick, whatever the others do.
    const perSecond = Math.max(1, sentPerSecond / 2);
    const pool = new Pool(ours.base, { connections: 64, pipelining: 1 });
    const xml = Buffer.from(arkivmeldingXml({ files: ['dokument.pdf'] }), 'utf8');
    const document = randomBytes(DOCUMENT_BYTES);
    const sendAt = new Map<string, number>();
    let failures = 0;
    const one = async (id: string) => {
      const path = `/api/messages/out/${id}`;
      const steps: Parameters<Pool['request']>[0][] = [
        {
          method: 'POST',
          path: '/api/messages/out',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(sbd({ messageId: id })),
        },
        {
          method: 'PUT',
          path,
          headers: {
            'content-type': 'application/xml',
            'content-disposition': 'attachment; name="Arkivmelding"; filename="arkivmelding.xml"',
          },
          body: xml,
        },
        {
          method: 'PUT',
          path,
          headers: {
            'content-type': 'application/pdf',
            'content-disposition': 'attachment; name="Vedtak"; filename="dokument.pdf"',
          },
          body: document,
        },
      ];
      for (const s of steps) {
        const res = await pool.request(s);
        await res.body.text();
        if (res.statusCode !== 200) throw new Error(`${s.method} ${res.statusCode}`);
      }
      sendAt.set(id, Date.now());
      const res = await pool.request({ method: 'POST', path });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`send ${res.statusCode}`);
    };
    const pending: Promise<void>[] = [];
    const total = Math.round(perSecond * HALF_RATE_SECONDS);
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      pending.push(
        one(randomUUID()).catch(() => {
          failures++;
        }),
      );
    }
    await Promise.all(pending);
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    let delivered = uploadsByMessage(altinn);
    while ([...sendAt.keys()].some((id) => !delivered.has(id)) && Date.now() < deadline) {
      await sleep(200);
      delivered = uploadsByMessage(altinn);
    }
    await pool.close();
    const latencies = [...sendAt]
      .filter(([id]) => delivered.has(id))
      .map(([id, at]) => delivered.get(id)! - at)
      .sort((a, b) => a - b);
    const mem = sampler.stop();
    return {
      ceilingMessagesPerSecond: ceiling!.messagesPerSecond,
      acceptedPerSecond: accepted!.messagesPerSecond,
      sentPerSecond: round(sentPerSecond),
      sentDuringLoadPerSecond: round(duringLoadPerSecond),
      ratio: round(sentPerSecond / ceiling!.messagesPerSecond, 2),
      halfRate: {
        perSecond: round(perSecond),
        messages: total - failures,
        delivered: latencies.length,
        p50Ms: round(percentile(latencies, 0.5)),
        p99Ms: round(percentile(latencies, 0.99)),
      },
      peakRssMb: round(mem.peak / MB),
      idleRssMb: round(mem.baseline / MB),
    };
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}
