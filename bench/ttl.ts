import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { formatOslo } from '../src/domain/time.js';
import { Crypto } from '../src/store/crypto.js';
import { TTL_DUE_KEY } from '../src/store/incoming.js';
import { Store } from '../src/store/store.js';
import { TtlWorker } from '../src/workers/ttl.js';

/**
 * The TTL sweep over a large store: `conversations` outgoing conversations written straight through the
 * store (not over HTTP), some of them LEVERT; one sweep with `due` past their expiry (injected clock), one with
 * nothing due, and one with `allDue` due at once (as after a long outage). Runnable alone: npx tsx bench/ttl.ts
 * (or `npm run bench -- ttl`). Uses its own Redis prefix and deletes it afterwards.
 */
export const TARGET_SWEEP_MS = 2000;
const HOUR = 3_600_000;

export interface TtlFigures {
  conversations: number;
  due: number;
  delivered: number;
  writeSeconds: number;
  sweepMs: number;
  expired: number;
  idleSweepMs: number;
  allDue: { conversations: number; sweepMs: number; perSecond: number };
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Writes conversations through Store.createOutgoing in concurrent batches; returns their messageIds. */
async function fill(store: Store, n: number, expiryOf: (i: number) => number, t0: Date): Promise<string[]> {
  const ids: string[] = [];
  const BATCH = 1000;
  for (let start = 0; start < n; start += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, n - start) }, (_, j) => start + j);
    await Promise.all(
      batch.map(async (i) => {
        const messageId = randomUUID();
        const conversationId = randomUUID();
        const expiryMs = expiryOf(i);
        const expiry = formatOslo(new Date(expiryMs));
        ids[i] = messageId;
        await store.createOutgoing(
          {
            conversationId,
            messageId,
            sender: '0192:910077473',
            senderIdentifier: '910077473',
            receiver: '0192:910075946',
            receiverIdentifier: '910075946',
            processIdentifier: 'urn:no:difi:profile:arkivmelding:taushetsbelagt:ver1.0',
            documentIdentifier: 'urn:no:difi:arkivmelding:xsd::arkivmelding',
            messageReference: conversationId,
            messageTitle: '',
            lastUpdate: formatOslo(t0),
            expiry,
            direction: 'OUTGOING',
            serviceIdentifier: 'DPV',
          },
          {
            messageId,
            conversationId,
            processIdentifier: 'urn:no:difi:profile:arkivmelding:taushetsbelagt:ver1.0',
            receiverIdentifier: '910075946',
            senderIdentifier: '910077473',
            serviceIdentifier: 'DPV',
            documentType: 'urn:no:difi:arkivmelding:xsd::arkivmelding',
            type: 'arkivmelding',
            resource: 'eformidling-dpv-taushetsbelagt',
            confidential: true,
            expiry,
            expiryMs,
            lastUpdated: formatOslo(t0),
            lastUpdatedMs: t0.getTime(),
            inputHash: '',
          },
          '{"standardBusinessDocumentHeader":{},"arkivmelding":{}}',
          t0,
        );
      }),
    );
  }
  return ids;
}

export async function runTtlBench(
  redisUrl: string,
  prefix: string,
  opts: { conversations?: number; due?: number; allDue?: number; log?: (line: string) => void } = {},
): Promise<TtlFigures> {
  const n = opts.conversations ?? 100_000;
  const due = opts.due ?? 1000;
  const allDue = opts.allDue ?? 10_000;
  const log = opts.log ?? (() => {});
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const config = loadConfig({
    ORG_NUMBER: '910077473',
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    API_AUTH: 'none',
    LOG_LEVEL: 'silent',
  });
  const p = `${prefix}:`;
  const store = new Store(redis, p, new Crypto(config.DATA_ENCRYPTION_KEY));
  const t0 = new Date();
  let now = t0;
  const ttl = new TtlWorker(config, { clock: () => now, log: pino({ level: 'silent' }) });
  try {
    log(`ttl: writing ${n} conversations through the store ...`);
    const w0 = performance.now();
    // The first `due` expire in an hour, the next `allDue` in 12 hours, the rest in a day.
    const ids = await fill(
      store,
      n,
      (i) => t0.getTime() + (i < due ? HOUR : i < due + allDue ? 12 * HOUR : 24 * HOUR),
      t0,
    );
    // Every tenth of the day-long ones is delivered: LEVERT takes it out of the expiry index.
    const deliver = ids.filter((_, i) => i >= due + allDue && i % 10 === 0);
    for (let i = 0; i < deliver.length; i += 500) {
      await Promise.all(
        deliver.slice(i, i + 500).map(async (id) => {
          await store.addStatus(id, 'SENDT', { now: t0 });
          await store.addStatus(id, 'LEVERT', { now: t0 });
        }),
      );
    }
    const writeSeconds = Math.round((performance.now() - w0) / 100) / 10;

    now = new Date(t0.getTime() + 2 * HOUR);
    log(`ttl: sweep with ${due} due among ${n} ...`);
    const s0 = performance.now();
    const expired = await ttl.sweep();
    const sweepMs = Math.round(performance.now() - s0);
    const i0 = performance.now();
    await ttl.sweep();
    const idleSweepMs = Math.round((performance.now() - i0) * 10) / 10;

    // After a long outage: many due at once.
    now = new Date(t0.getTime() + 13 * HOUR);
    log(`ttl: sweep with ${allDue} due at once ...`);
    const a0 = performance.now();
    const allExpired = await ttl.sweep();
    const allMs = Math.round(performance.now() - a0);
    const left = await redis.zcard(`${p}${TTL_DUE_KEY}`);
    if (expired !== due || allExpired !== allDue || left !== n - due - allDue - deliver.length) {
      throw new Error(`ttl bench: expected ${due} + ${allDue} expired, got ${expired} + ${allExpired}`);
    }
    return {
      conversations: n,
      due,
      delivered: deliver.length,
      writeSeconds,
      sweepMs,
      expired,
      idleSweepMs,
      allDue: {
        conversations: allExpired,
        sweepMs: allMs,
        perSecond: allMs > 0 ? Math.round((allExpired / allMs) * 1000) : 0,
      },
    };
  } finally {
    await ttl.close();
    await deleteKeys(redis, p);
    redis.disconnect();
  }
}

export function formatTtlFigures(f: TtlFigures): string[] {
  const verdict = f.sweepMs <= TARGET_SWEEP_MS ? 'PASS' : 'MISS';
  return [
    `TTL sweep (bench/ttl.ts): ${f.conversations} conversations written through the store in ${f.writeSeconds} s, ${f.delivered} of them LEVERT`,
    `  one sweep, ${f.due} due: ${f.sweepMs} ms, ${f.expired} expired (target <= ${TARGET_SWEEP_MS} ms)  ${verdict}`,
    `  a sweep with nothing due: ${f.idleSweepMs} ms`,
    `  ${f.allDue.conversations} due at once (after an outage): ${f.allDue.sweepMs} ms, ${f.allDue.perSecond} expiries/s`,
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const prefix = `bench${randomBytes(6).toString('hex')}-ttl`;
  const figures = await runTtlBench(redisUrl, prefix, { log: (l) => console.log(l) });
  console.log(formatTtlFigures(figures).join('\n'));
  console.log(`BENCH_JSON ${JSON.stringify({ ttl: figures })}`);
}
