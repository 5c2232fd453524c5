import type { Redis } from 'ioredis';
import pino from 'pino';
import { AddressServiceClient } from '../adapters/address-service.js';
import { AltinnClient } from '../adapters/altinn.js';
import { addressServiceTokens, altinnTokens, maskinportenOf } from '../adapters/tokens.js';
import type { Config } from '../config.js';
import { Crypto } from '../store/crypto.js';
import { DeliveryStore } from '../store/delivery.js';
import { FileStore } from '../store/files.js';
import { IncomingStore } from '../store/incoming.js';
import { createRedis } from '../store/redis.js';
import { Store } from '../store/store.js';
import { SendWorker } from './send-worker.js';
import { StatusPoller } from './status-poller.js';
import { TtlWorker } from './ttl.js';
import type { AddressBook, IncomingSink, Log } from './types.js';

export interface BackgroundDeps {
  /** Defaults to a pino logger at LOG_LEVEL. */
  log?: Log;
  clock?: () => Date;
  /** Defaults to a client built from config (with a Maskinporten token when configured). */
  addressBook?: AddressBook;
  /** Where generated kvitteringer go; defaults to the incoming-message store. */
  incoming?: IncomingSink | null;
  /** Which parts to run; tests start the ones they need. */
  parts?: { send?: boolean; statusPoll?: boolean; ttl?: boolean };
  fetch?: typeof fetch;
}

export interface Background {
  close(): Promise<void>;
  sendWorker?: SendWorker;
  statusPoller?: StatusPoller;
  ttl?: TtlWorker;
}

/**
 * Starts the background work of this process: the TTL worker, the send worker and the status poller, each with
 * its own Redis connections. Returns one close() for all of it (in reverse order).
 */
export async function startBackground(config: Config, deps: BackgroundDeps = {}): Promise<Background> {
  const log: Log = deps.log ?? (pino({ level: config.LOG_LEVEL }) as unknown as Log);
  const prefix = `${config.REDIS_PREFIX}:`;
  const connections: Redis[] = [];
  const conn = () => {
    const r = createRedis(config.REDIS_URL, 'worker');
    connections.push(r);
    return r;
  };
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of closers.reverse())
      await c().catch((err) => log.error({ err }, 'closing a background part failed'));
    await Promise.all(connections.map((r) => r.quit().catch(() => r.disconnect())));
  };
  const result: Background = { close: closeAll };
  try {
    const sealing = new Crypto(config.DATA_ENCRYPTION_KEY);
    const storeRedis = conn();
    const store = new Store(storeRedis, prefix, sealing);
    const delivery = new DeliveryStore(storeRedis, prefix);
    const files = new FileStore(config.DATA_DIR, sealing.fileKey);
    const mp = maskinportenOf(config, deps.fetch);
    const tokens = altinnTokens(config, mp, deps.fetch);
    const srTokens = addressServiceTokens(config, mp);
    const addressBook =
      deps.addressBook ??
      new AddressServiceClient({
        baseUrl: config.SERVICE_REGISTRY_URL,
        verify: config.SERVICE_REGISTRY_VERIFY,
        timeoutMs: config.SERVICE_REGISTRY_TIMEOUT_MS,
        cacheSeconds: config.SERVICE_REGISTRY_CACHE_SECONDS,
        ...(srTokens ? { tokenSource: srTokens } : {}),
        log,
      });
    const parts = deps.parts ?? { send: true, statusPoll: true, ttl: true };
    if (parts.ttl) {
      const ttl = new TtlWorker(config, {
        ...(deps.clock ? { clock: deps.clock } : {}),
        log: log.child({ worker: 'ttl' }),
      });
      closers.push(() => ttl.close());
      await ttl.start();
      result.ttl = ttl;
    }
    if (!tokens) {
      log.warn(
        {},
        'no Altinn credentials (ALTINN_TOKEN or MASKINPORTEN_CLIENT_ID + MASKINPORTEN_KEY): messages stay queued and are not sent',
      );
      return result;
    }
    const altinn = new AltinnClient({
      baseUrl: config.ALTINN_CORRESPONDENCE_URL,
      tokens,
      timeoutMs: config.ALTINN_TIMEOUT_MS,
      uploadTimeoutMs: config.ALTINN_UPLOAD_TIMEOUT_MS,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
    const clock = deps.clock ? { clock: deps.clock } : {};
    if (parts.send) {
      const w = new SendWorker({
        config,
        store,
        delivery,
        files,
        addressBook,
        altinn,
        log: log.child({ component: 'send-worker' }),
        connection: conn(),
        ...clock,
      });
      closers.push(() => w.close());
      await w.start();
      result.sendWorker = w;
    }
    if (parts.statusPoll) {
      const p = new StatusPoller({
        config,
        store,
        delivery,
        altinn,
        incoming:
          deps.incoming === undefined ? new IncomingStore(storeRedis, prefix, sealing) : deps.incoming,
        log: log.child({ component: 'status-poller' }),
        queueConnection: conn(),
        workerConnection: conn(),
        ...clock,
      });
      closers.push(() => p.close());
      await p.start();
      result.statusPoller = p;
    }
    return result;
  } catch (e) {
    await closeAll();
    throw e;
  }
}
