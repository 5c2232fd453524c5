import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Redis, RedisOptions } from 'ioredis';
import pino from 'pino';
import { AddressServiceClient } from '../adapters/address-service.js';
import { AltinnClient } from '../adapters/altinn.js';
import type { HttpTransport } from '../adapters/http-transport.js';
import { addressServiceTokens, altinnTokens, maskinportenOf } from '../adapters/tokens.js';
import type { Config } from '../config.js';
import { Crypto } from '../store/crypto.js';
import { DeliveryStore } from '../store/delivery.js';
import { FileStore } from '../store/files.js';
import { IncomingStore } from '../store/incoming.js';
import { createRedis } from '../store/redis.js';
import { Store } from '../store/store.js';
import { DigestWorker } from './digest.js';
import { SendWorker } from './send-worker.js';
import { StatusEventFanout } from './status-events.js';
import { StatusPoller } from './status-poller.js';
import { TtlWorker } from './ttl.js';
import type { AddressBook, IncomingSink, Log } from './types.js';
import { UnreadWatchdog } from './unread-watchdog.js';
import { WebhookDeliveryWorker } from './webhook-delivery.js';

/** The background components; `parts` picks some of them (all by default). */
export interface BackgroundParts {
  ttl?: boolean;
  send?: boolean;
  statusPoll?: boolean;
  webhooks?: boolean;
  statusEvents?: boolean;
  watchdog?: boolean;
  digest?: boolean;
}

const ALL_PARTS: Required<BackgroundParts> = {
  ttl: true,
  send: true,
  statusPoll: true,
  webhooks: true,
  statusEvents: true,
  watchdog: true,
  digest: true,
};

export interface BackgroundDeps {
  /** Defaults to a pino logger at LOG_LEVEL. */
  log?: Logger;
  clock?: () => Date;
  /** How long a status event may sit unacknowledged with another consumer before it is taken over. */
  claimIdleMs?: number;
  /** Defaults to a client built from config (with a Maskinporten token when configured). */
  addressBook?: AddressBook;
  /** Where generated kvitteringer go; defaults to the incoming-message store. */
  incoming?: IncomingSink | null;
  /** Which parts to run (all when left out); tests start the ones they need. */
  parts?: BackgroundParts;
  /** For the Maskinporten and token-exchange requests (default: the global fetch). */
  fetch?: typeof fetch;
  /** For the Altinn Correspondence requests (default: undici over a keep-alive agent of the Altinn client's own). */
  altinnTransport?: HttpTransport;
}

export interface Background {
  close(): Promise<void>;
  sendWorker?: SendWorker;
  statusPoller?: StatusPoller;
  ttl?: TtlWorker;
}

interface Component {
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the background work of this process, each component with its own Redis connections: TTL, the Digital
 * Post send worker and status poller (when Altinn credentials are set), webhook delivery, the status-event fan-out,
 * the unread watchdog and the e-mail digest. Returns one close() for all of it (in reverse order).
 */
export async function startBackground(config: Config, deps: BackgroundDeps = {}): Promise<Background> {
  const log: Logger = deps.log ?? pino({ level: config.LOG_LEVEL });
  const workerLog = log as unknown as Log;
  const parts = deps.parts ? { ...deps.parts } : ALL_PARTS;
  const clock = deps.clock ? { clock: deps.clock } : {};
  const connections: Redis[] = [];
  const conn = (extra: RedisOptions = {}) => {
    const r = createRedis(config.REDIS_URL, 'worker', extra);
    connections.push(r);
    return r;
  };
  const started: Component[] = [];
  const close = async () => {
    for (const c of started.reverse())
      await c.close().catch((err) => log.error({ err }, 'closing a background part failed'));
    started.length = 0;
    await Promise.all(connections.map((r) => r.quit().catch(() => r.disconnect())));
  };
  const result: Background = { close };
  const start = async <T extends Component>(c: T): Promise<T> => {
    // Registered first, so a half-started component is closed too.
    started.push(c);
    await c.start();
    return c;
  };
  try {
    if (parts.ttl)
      result.ttl = await start(new TtlWorker(config, { ...clock, log: log.child({ worker: 'ttl' }) }));
    if (parts.send || parts.statusPoll)
      await startDigitalPost(config, deps, parts, workerLog, conn, start, result);
    const noticeDeps = {
      log,
      ...clock,
      ...(deps.claimIdleMs !== undefined ? { claimIdleMs: deps.claimIdleMs } : {}),
    };
    if (parts.webhooks) await start(new WebhookDeliveryWorker(config, noticeDeps));
    if (parts.statusEvents) await start(new StatusEventFanout(config, noticeDeps));
    if (parts.watchdog) await start(new UnreadWatchdog(config, noticeDeps));
    if (parts.digest) await start(new DigestWorker(config, noticeDeps));
    return result;
  } catch (e) {
    await close();
    throw e;
  }
}

/** The send worker and the status poller, sharing one store connection; nothing without Altinn credentials. */
async function startDigitalPost(
  config: Config,
  deps: BackgroundDeps,
  parts: BackgroundParts,
  log: Log,
  conn: (extra?: RedisOptions) => Redis,
  start: <T extends Component>(c: T) => Promise<T>,
  result: Background,
): Promise<void> {
  const mp = maskinportenOf(config, deps.fetch);
  const tokens = altinnTokens(config, mp, deps.fetch);
  if (!tokens) {
    // Loud: a service that accepts confidential post and never sends it must not go unnoticed (readiness says so too).
    log.error(
      {},
      'no Altinn credentials (ALTINN_TOKEN or MASKINPORTEN_CLIENT_ID + MASKINPORTEN_KEY): messages are accepted but stay queued and are not sent',
    );
    return;
  }
  const prefix = `${config.REDIS_PREFIX}:`;
  const sealing = new Crypto(config.DATA_ENCRYPTION_KEY);
  // The store's reads and writes (not BullMQ's blocking commands): what concurrent jobs issue in the same tick goes
  // to Redis as one write.
  const storeRedis = conn({ enableAutoPipelining: true });
  const store = new Store(storeRedis, prefix, sealing);
  const delivery = new DeliveryStore(store);
  const files = new FileStore(config.DATA_DIR, sealing.fileKey);
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
  const altinn = new AltinnClient({
    baseUrl: config.ALTINN_CORRESPONDENCE_URL,
    tokens,
    timeoutMs: config.ALTINN_TIMEOUT_MS,
    uploadTimeoutMs: config.ALTINN_UPLOAD_TIMEOUT_MS,
    ...(deps.altinnTransport ? { transport: deps.altinnTransport } : {}),
  });
  // Registered before the workers that use it, so it is closed after them.
  await start({ start: async () => {}, close: () => altinn.close() });
  const clock = deps.clock ? { clock: deps.clock } : {};
  if (parts.send) {
    result.sendWorker = await start(
      new SendWorker({
        config,
        store,
        delivery,
        files,
        addressBook,
        altinn,
        log: log.child({ component: 'send-worker' }),
        connection: conn(),
        ...clock,
      }),
    );
  }
  if (parts.statusPoll) {
    result.statusPoller = await start(
      new StatusPoller({
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
      }),
    );
  }
}
