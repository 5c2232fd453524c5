import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import type { AddressServiceSandboxOptions } from '../../src/sandbox/address-service.js';
import {
  type AltinnSandbox,
  type AltinnSandboxOptions,
  startAltinnSandbox,
} from '../../src/sandbox/altinn.js';
import { Crypto } from '../../src/store/crypto.js';
import { DeliveryStore } from '../../src/store/delivery.js';
import { IncomingStore } from '../../src/store/incoming.js';
import { Store } from '../../src/store/store.js';
import { type Background, type BackgroundDeps, startBackground } from '../../src/workers/index.js';
import { type Harness, startHarness } from './harness.js';
import { arkivmeldingXml, sbd } from './messages.js';

export const STATIC_TOKEN = 'sandbox-static-token';

export interface DpvHarness extends Harness {
  altinn: AltinnSandbox;
  background: Background;
  store: Store;
  delivery: DeliveryStore;
  incoming: IncomingStore;
  /** Restarts the background work (a new worker process, in effect). */
  restartBackground(deps?: Partial<BackgroundDeps>): Promise<void>;
  stopBackground(): Promise<void>;
}

export interface DpvHarnessOptions {
  /** Settings; a function gets the sandbox Altinn's URLs. */
  env?: Record<string, string> | ((altinn: AltinnSandbox) => Record<string, string>);
  altinn?: AltinnSandboxOptions;
  addressService?: AddressServiceSandboxOptions;
  background?: Partial<BackgroundDeps>;
  /** Static token (default) or Maskinporten settings in env. */
  staticToken?: boolean;
}

/** The service, the sandbox address service and the sandbox Altinn over real HTTP, with the background work running. */
export async function startDpvHarness(o: DpvHarnessOptions = {}): Promise<DpvHarness> {
  const altinn = await startAltinnSandbox({
    publishDelayMs: 50,
    ...(o.staticToken === false ? {} : { staticTokens: [STATIC_TOKEN] }),
    ...o.altinn,
  });
  const h = await startHarness(
    {
      ALTINN_CORRESPONDENCE_URL: altinn.correspondenceUrl,
      ...(o.staticToken === false ? {} : { ALTINN_TOKEN: STATIC_TOKEN }),
      SEND_RETRY_BASE_MS: '30',
      SEND_RETRY_MAX_MS: '200',
      STATUS_POLL_INTERVAL_MS: '50',
      STATUS_POLL_MAX_INTERVAL_MS: '200',
      ALTINN_TIMEOUT_MS: '2000',
      ...(typeof o.env === 'function' ? o.env(altinn) : o.env),
    },
    o.addressService,
  );
  const redis = new Redis(inject('redisUrl'));
  const sealing = new Crypto(h.config.DATA_ENCRYPTION_KEY);
  const prefix = `${h.config.REDIS_PREFIX}:`;
  const store = new Store(redis, prefix, sealing);
  const delivery = new DeliveryStore(store);
  const incoming = new IncomingStore(redis, prefix, sealing);
  const log = h.app.log;
  let background = await startBackground(h.config, { log, ...o.background });
  const dh: DpvHarness = {
    ...h,
    altinn,
    background,
    store,
    delivery,
    incoming,
    async restartBackground(deps = {}) {
      await background.close();
      background = await startBackground(h.config, { log, ...o.background, ...deps });
      dh.background = background;
    },
    async stopBackground() {
      await background.close();
    },
    async close() {
      await background.close();
      await altinn.close();
      redis.disconnect();
      await h.close();
    },
  };
  return dh;
}

/** Polls `fn` until it returns a value that is not undefined/false; fails after `tries`. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false>,
  what: string,
  tries = 400,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** What the status and send helpers need: requests to a running service, in-process or not. */
export type ApiClient = Pick<Harness, 'json' | 'fetch'>;

export async function statusesOf(
  h: ApiClient,
  messageId: string,
): Promise<{ status: string; description?: string }[]> {
  const r = await h.json<{ content: { status: string; description?: string }[] }>(
    'GET',
    `/api/statuses/${messageId}?sort=id,asc`,
  );
  return r.body.content;
}

export async function waitForStatus(
  h: ApiClient,
  messageId: string,
  status: string,
): Promise<{ status: string; description?: string }[]> {
  return waitFor(async () => {
    const s = await statusesOf(h, messageId);
    return s.some((x) => x.status === status) ? s : undefined;
  }, `${status} on ${messageId}`);
}

export interface SendOptions {
  receiver?: string;
  process?: string;
  files?: Record<string, Buffer>;
  /** Which of `files` arkivmelding.xml references (default: all). */
  referenced?: string[];
  dpv?: Record<string, unknown>;
  offentligTittel?: string;
  tittel?: string;
  expectedResponseDateTime?: string;
}

/** Creates, uploads and sends a message through the API; returns its messageId. */
export async function sendMessage(h: ApiClient, o: SendOptions = {}): Promise<string> {
  const files = o.files ?? { 'vedtak.pdf': Buffer.from('%PDF-1.7 vedtak') };
  const referenced = o.referenced ?? Object.keys(files);
  const doc = sbd({
    ...(o.receiver ? { receiver: o.receiver } : {}),
    ...(o.process ? { process: o.process } : {}),
    ...(o.expectedResponseDateTime ? { expectedResponseDateTime: o.expectedResponseDateTime } : {}),
  }) as { arkivmelding: Record<string, unknown> };
  if (o.dpv) doc.arkivmelding.dpv = o.dpv;
  const created = await h.json('POST', '/api/messages/out', doc);
  if (created.status !== 200) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  const header = created.body.standardBusinessDocumentHeader as {
    documentIdentification: { instanceIdentifier: string };
  };
  const messageId = header.documentIdentification.instanceIdentifier;
  const put = async (filename: string, body: Buffer | string, title: string, type: string) => {
    const r = await h.fetch(`/api/messages/out/${messageId}?title=${encodeURIComponent(title)}`, {
      method: 'PUT',
      headers: { 'content-type': type, 'content-disposition': `attachment; filename="${filename}"` },
      body,
    });
    if (r.status !== 200) throw new Error(`upload ${filename}: ${r.status} ${await r.text()}`);
  };
  await put(
    'arkivmelding.xml',
    arkivmeldingXml({
      files: referenced,
      ...(o.offentligTittel ? { offentligTittel: o.offentligTittel } : {}),
      ...(o.tittel ? { tittel: o.tittel } : {}),
    }),
    'Arkivmelding',
    'text/xml',
  );
  for (const [name, body] of Object.entries(files))
    await put(name, body, `Tittel ${name}`, 'application/pdf');
  const sent = await h.fetch(`/api/messages/out/${messageId}`, { method: 'POST' });
  if (sent.status !== 200) throw new Error(`send: ${sent.status} ${await sent.text()}`);
  return messageId;
}

/** Every path under DATA_DIR that belongs to the message (its directory or files). */
export async function filesOf(h: Harness, messageId: string): Promise<string[]> {
  const all = await readdir(h.dataDir, { recursive: true });
  return all.filter((p) => p.includes(messageId));
}
