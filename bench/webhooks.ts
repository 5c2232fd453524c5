import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { Pool } from 'undici';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { formatOslo } from '../src/domain/time.js';
import { startAddressServiceSandbox } from '../src/sandbox/address-service.js';
import { ORG_DPV_TAUSHETSBELAGT, ORG_SENDER } from '../src/sandbox/address-service-seed.js';
import { startAltinnSandbox } from '../src/sandbox/altinn.js';
import { Crypto } from '../src/store/crypto.js';
import { DeliveryStore } from '../src/store/delivery.js';
import { Store } from '../src/store/store.js';
import { startBackground } from '../src/workers/index.js';
import { arkivmeldingXml, sbd, TAUSHETSBELAGT } from '../test/helpers/messages.js';

/**
 * Webhook events delivered per second to a local receiver, against the ceiling of a bare client POSTing the
 * same bodies to the same receiver with the same concurrency; and Redis memory per finished conversation.
 */

export interface WebhookFigures {
  events: number;
  ours: { seconds: number; eventsPerSecond: number };
  ceiling: { seconds: number; eventsPerSecond: number };
  ratio: number;
  memory: { conversations: number; bytesPerConversation: number; byKind: Record<string, number> };
}

const CONCURRENCY = 16;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

async function receiver(): Promise<{ app: FastifyInstance; url: string; count: () => number }> {
  let n = 0;
  const app = Fastify({ logger: false });
  app.post('/hook', async () => {
    n++;
    return 'ok';
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`;
  return { app, url, count: () => n };
}

async function waitUntil(pred: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for webhook deliveries');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The ceiling: the same number of POSTs of a status-event-sized body, CONCURRENCY at a time, keep-alive. */
async function bareCeiling(url: string, events: number): Promise<number> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: CONCURRENCY });
  const body = JSON.stringify({
    createdTs: formatOslo(new Date()),
    resource: 'messages',
    event: 'status',
    messageId: randomUUID(),
    conversationId: randomUUID(),
    direction: 'OUTGOING',
    serviceIdentifier: 'DPV',
    status: 'LEVERT',
  });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < events) {
        next++;
        const res = await pool.request({
          path: u.pathname,
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        });
        await res.body.dump();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return seconds;
}

/**
 * Redis bytes of finished conversations (created, uploaded and sent through the API, sent to the sandbox Altinn by
 * the send worker, then LEVERT and LEST from the status poller):
 * MEMORY USAGE of their own keys, plus their share of the keys they share with others (lookup buckets, sorted-set
 * indexes, the events stream: the key's bytes over its number of entries, per entry of theirs).
 */
async function memoryPerConversation(redis: Redis, prefix: string, store: Store, mids: string[]) {
  const byKind: Record<string, number> = {};
  let total = 0;
  const usage = async (key: string) =>
    Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
  const share = async (key: string, entries: number) => (entries > 0 ? (await usage(key)) / entries : 0);
  const add = (kind: string, bytes: number) => {
    byKind[kind] = (byKind[kind] ?? 0) + bytes;
    total += bytes;
  };
  const streamKey = `${prefix}status:events`;
  const streamShare = await share(streamKey, await redis.xlen(streamKey));
  for (const mid of mids) {
    const convId = (await store.conversationIdOfMessage(mid))!;
    const { conversation: conv, statuses } = (await store.getConversationWithStatuses(convId))!;
    const facet = `${conv.direction === 'INCOMING' ? 'I' : 'O'}${conv.finished ? 1 : 0}${conv.pollable ? 1 : 0}`;
    for (const [kind, key] of [
      ['conversation (with statuses)', `conv:${convId}`],
      ['message (routing facts)', `out:${mid}`],
      ['message (sealed SBD)', `out:${mid}:sbd`],
      ['message files', `out:${mid}:files`],
      ['message files', `out:${mid}:ark`],
      ['unread watch', `unread:m:${mid}`],
      ['delivery (dpv)', `dpv:${mid}`],
    ] as const) {
      add(kind, await usage(`${prefix}${key}`));
    }
    for (const key of [`conv:m:${mid.slice(-3)}`, `conv:c:${conv.conversationId.slice(-3)}`]) {
      add('lookups', await share(`${prefix}${key}`, await redis.hlen(`${prefix}${key}`)));
    }
    const zshare = async (kind: string, key: string) =>
      add(kind, await share(`${prefix}${key}`, await redis.zcard(`${prefix}${key}`)));
    await zshare('list indexes', `conv:st:${facet}`);
    await zshare('list indexes', `conv:rcv:${conv.receiverIdentifier}:${facet}`);
    for (const s of statuses) await zshare('list indexes', `status:by:${s.status}`);
    // A sent message has left its indexes with the rest of it.
    for (const key of ['out:index', `out:rcv:${conv.receiverIdentifier}`]) {
      if ((await redis.zscore(`${prefix}${key}`, mid)) !== null) await zshare('message indexes', key);
    }
    if ((await store.expiryIndexed(mid)) !== null) await zshare('expiry index', 'ttl:due');
    if ((await new DeliveryStore(store).nextPollAt(mid)) !== null) await zshare('delivery (dpv)', 'dpv:poll');
    add('status events stream', streamShare * statuses.length);
  }
  for (const k of Object.keys(byKind)) byKind[k] = Math.round(byKind[k]! / mids.length);
  return { conversations: mids.length, bytesPerConversation: Math.round(total / mids.length), byKind };
}

export async function runWebhookBench(
  redisUrl: string,
  prefix: string,
  opts: { conversations: number } = { conversations: 1000 },
): Promise<WebhookFigures> {
  const sandbox = await startAddressServiceSandbox();
  const altinnToken = randomBytes(12).toString('hex');
  const altinn = await startAltinnSandbox({ staticTokens: [altinnToken], publishDelayMs: 20 });
  const dataDir = mkdtempSync(join(tmpdir(), 'eip-bench-wh-'));
  const config = loadConfig({
    ORG_NUMBER: ORG_SENDER,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    SERVICE_REGISTRY_URL: sandbox.url,
    DATA_DIR: dataDir,
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    API_AUTH: 'none',
    LOG_LEVEL: 'error',
    WEBHOOK_RETRY_BASE_MS: '100',
    ALTINN_CORRESPONDENCE_URL: altinn.correspondenceUrl,
    ALTINN_TOKEN: altinnToken,
    STATUS_POLL_INTERVAL_MS: '20',
    STATUS_POLL_MAX_INTERVAL_MS: '50',
    // A kvittering is a conversation of its own (incoming); left out so the event count stays 4 per conversation.
    GENERATE_RECEIPTS: 'false',
  });
  const app = await buildApp(config, {
    logStream: { write: () => true } as unknown as NodeJS.WritableStream,
  });
  const rec = await receiver();
  const store = new Store(new Redis(redisUrl), `${prefix}:`, new Crypto(config.DATA_ENCRYPTION_KEY));
  let background: { close(): Promise<void> } | undefined;
  try {
    const sub = await app.inject({
      method: 'POST',
      url: '/api/subscriptions',
      payload: { name: 'bench', pushEndpoint: rec.url, resource: 'all', event: 'status' },
    });
    if (sub.statusCode !== 200) throw new Error(`subscription: ${sub.statusCode} ${sub.body}`);

    // Finished conversations through the real API and the Digital Post worker, for the memory figure. Only the
    // send worker and the status poller run: the status events wait in the stream for the timed part.
    const dpv = await startBackground(config, {
      log: pino({ level: 'silent' }),
      parts: { send: true, statusPoll: true },
    });
    const delivery = new DeliveryStore(store);
    const finished: string[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await app.inject({
        method: 'POST',
        url: '/api/messages/out',
        payload: sbd({ hoveddokument: 'vedtak.pdf' }),
      });
      const mid = (
        JSON.parse(c.body) as {
          standardBusinessDocumentHeader: { documentIdentification: { instanceIdentifier: string } };
        }
      ).standardBusinessDocumentHeader.documentIdentification.instanceIdentifier;
      for (const [name, body, type] of [
        ['arkivmelding.xml', arkivmeldingXml({ files: ['vedtak.pdf'] }), 'text/xml'],
        ['vedtak.pdf', '%PDF-1.7 bench', 'application/pdf'],
      ] as const) {
        const put = await app.inject({
          method: 'PUT',
          url: `/api/messages/out/${mid}?title=Vedtak`,
          headers: { 'content-type': type, 'content-disposition': `attachment; filename="${name}"` },
          payload: body,
        });
        if (put.statusCode !== 200) throw new Error(`upload: ${put.statusCode} ${put.body}`);
      }
      if ((await app.inject({ method: 'POST', url: `/api/messages/out/${mid}` })).statusCode !== 200)
        throw new Error('send');
      finished.push(mid);
    }
    const has = async (mid: string, status: 'LEVERT' | 'LEST') =>
      (await store.hasStatus(mid, status)) === true;
    const waitAll = async (what: string, pred: (mid: string) => Promise<boolean>) => {
      const deadline = Date.now() + 120_000;
      for (const mid of finished) {
        while (!(await pred(mid))) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} of ${mid}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    await waitAll('LEVERT', (mid) => has(mid, 'LEVERT'));
    for (const mid of finished) {
      const c = altinn.correspondences().find((x) => x.idempotentKey?.toLowerCase() === mid);
      if (!c) throw new Error(`no correspondence for ${mid}`);
      await altinn.read(c.correspondenceId);
    }
    await waitAll('LEST', (mid) => has(mid, 'LEST'));
    await waitAll('the end of polling', async (mid) => (await delivery.nextPollAt(mid)) === null);
    await dpv.close();

    // Conversations written straight to the store: OPPRETTET, SENDT, LEVERT, LEST = four events each.
    const now = new Date();
    for (let i = 0; i < opts.conversations; i++) {
      const mid = randomUUID();
      const cid = randomUUID();
      await store.createOutgoing(
        {
          conversationId: cid,
          messageId: mid,
          sender: `0192:${ORG_SENDER}`,
          senderIdentifier: ORG_SENDER,
          receiver: `0192:${ORG_DPV_TAUSHETSBELAGT}`,
          receiverIdentifier: ORG_DPV_TAUSHETSBELAGT,
          processIdentifier: TAUSHETSBELAGT,
          documentIdentifier: 'urn:no:difi:arkivmelding:xsd::arkivmelding',
          messageReference: cid,
          messageTitle: '',
          lastUpdate: formatOslo(now),
          expiry: formatOslo(new Date(now.getTime() + 86_400_000)),
          direction: 'OUTGOING',
          serviceIdentifier: 'DPV',
        },
        {
          messageId: mid,
          conversationId: cid,
          processIdentifier: TAUSHETSBELAGT,
          receiverIdentifier: ORG_DPV_TAUSHETSBELAGT,
          senderIdentifier: ORG_SENDER,
          serviceIdentifier: 'DPV',
          documentType: 'arkivmelding',
          type: 'arkivmelding',
          resource: 'eformidling-dpv-taushetsbelagt',
          confidential: true,
          expiry: formatOslo(new Date(now.getTime() + 86_400_000)),
          expiryMs: now.getTime() + 86_400_000,
          lastUpdated: formatOslo(now),
          lastUpdatedMs: now.getTime(),
          inputHash: '',
        },
        '{}',
        now,
      );
      for (const s of ['SENDT', 'LEVERT', 'LEST'] as const) await store.addStatus(mid, s);
    }
    const events = opts.conversations * 4 + finished.length * 4;

    // The ceiling is measured before and after ours (the machine is noisy) and averaged.
    const ceilingBefore = await bareCeiling(rec.url, events);
    const base = rec.count();
    // Nothing runs until now: the stream holds every event; time from start to the last delivery.
    const started = performance.now();
    background = await startBackground(config, { log: pino({ level: 'silent' }) });
    await waitUntil(() => rec.count() - base >= events, 300_000);
    const oursSeconds = (performance.now() - started) / 1000;
    const ceilingSeconds = (ceilingBefore + (await bareCeiling(rec.url, events))) / 2;
    const memory = await memoryPerConversation(store.redis, `${prefix}:`, store, finished);
    return {
      events,
      ours: { seconds: round(oursSeconds), eventsPerSecond: Math.round(events / oursSeconds) },
      ceiling: { seconds: round(ceilingSeconds), eventsPerSecond: Math.round(events / ceilingSeconds) },
      ratio: round(ceilingSeconds / oursSeconds),
      memory,
    };
  } finally {
    await background?.close();
    await app.close();
    await rec.app.close();
    await sandbox.close();
    await altinn.close();
    store.redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
