import { hostname } from 'node:os';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { TAUSHETSBELAGT_PROCESS } from '../config.js';
import { UNREAD_WATCH_ENDS } from '../domain/status.js';
import type { EventFacts } from '../domain/subscriptions.js';
import { createWebhookQueue, fanOutMany, type WebhookJobData } from '../queues/webhook-queue.js';
import { Crypto } from '../store/crypto.js';
import { DeliveryStore } from '../store/delivery.js';
import { NoticeStore } from '../store/notices.js';
import { createRedis } from '../store/redis.js';
import { Store } from '../store/store.js';
import { SubscriptionStore } from '../store/subscriptions.js';
import type { BackgroundDeps } from './webhook-delivery.js';

export const STATUS_EVENTS_GROUP = 'notices';
/** Entries another consumer read but did not acknowledge for this long are taken over (it died). */
const CLAIM_IDLE_MS = 60_000;
const BATCH = 200;
const RESPONSE_PROCESS = 'urn:no:difi:profile:arkivmelding:response:ver1.0';

/** Anomalies for the digest: not kvitteringer, which are answers, not letters. */
const ANOMALIES = new Set(['FEIL', 'LEVETID_UTLOPT']);

/**
 * Reads `${prefix}status:events` in a consumer group, so an entry is acknowledged only after its work is
 * queued and nothing is lost across restarts, then: queues webhook jobs for matching subscriptions, collects
 * anomalies for the e-mail digest, and starts or stops the unread watch for confidential messages.
 */
export class StatusEventFanout {
  private redis: Redis | undefined;
  private reader: Redis | undefined;
  private queue: Queue<WebhookJobData> | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private readonly consumer = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(
    private readonly config: Config,
    private readonly deps: BackgroundDeps,
  ) {}

  async start(): Promise<void> {
    const prefix = `${this.config.REDIS_PREFIX}:`;
    const redis = createRedis(this.config.REDIS_URL, 'worker');
    this.redis = redis;
    this.reader = createRedis(this.config.REDIS_URL, 'worker');
    const crypto = new Crypto(this.config.DATA_ENCRYPTION_KEY);
    const store = new Store(redis, prefix, crypto);
    const delivery = new DeliveryStore(store);
    const subs = new SubscriptionStore(redis, prefix, crypto);
    const notices = new NoticeStore(redis, prefix);
    this.queue = createWebhookQueue(redis, prefix, {
      maxAttempts: this.config.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: this.config.WEBHOOK_RETRY_BASE_MS,
    });
    const stream = `${prefix}status:events`;
    try {
      await redis.xgroup('CREATE', stream, STATUS_EVENTS_GROUP, '0', 'MKSTREAM');
    } catch (e) {
      if (!String((e as Error).message).startsWith('BUSYGROUP')) throw e;
    }
    const log = this.deps.log.child({ component: 'status-events' });
    const firstAge = this.config.UNREAD_ALERT_AFTER[0]!.ms;
    const digestOn = Boolean(this.config.SMTP_URL);

    /** One batch: the statuses with their conversations in one read, one addBulk for all webhook jobs. */
    const handle = async (statusIds: number[]) => {
      const [allSubs, found] = await Promise.all([subs.all(), store.getStatusesWithConversations(statusIds)]);
      const jobs: { statusId: number; facts: EventFacts }[] = [];
      const work: Promise<unknown>[] = [];
      for (const { status: s, conversation: conv } of found) {
        const statusId = s.id;
        jobs.push({
          statusId,
          facts: {
            event: 'status',
            status: s.status,
            serviceIdentifier: conv.serviceIdentifier,
            direction: conv.direction,
          },
        });
        const kvittering =
          conv.processIdentifier === RESPONSE_PROCESS || conv.documentIdentifier.includes('kvittering');
        if (digestOn && !kvittering && ANOMALIES.has(s.status)) {
          work.push(notices.addDigestItem(`s${statusId}`, s.ms));
        }
        if (conv.direction !== 'OUTGOING') continue;
        if (UNREAD_WATCH_ENDS.includes(s.status)) work.push(notices.stopUnread(conv.messageId));
        if (s.status === 'LEVERT') {
          work.push(
            (async () => {
              // A Digital Post message is deleted once sent; its delivery facts keep the flag until polling ends.
              const msg = await store.getMessage(conv.messageId);
              const confidential =
                msg?.confidential ??
                (await delivery.confidential(conv.messageId)) ??
                conv.processIdentifier === TAUSHETSBELAGT_PROCESS;
              if (!confidential) return;
              await notices.trackUnread(
                conv.id,
                {
                  messageId: conv.messageId,
                  conversationId: conv.conversationId,
                  receiverIdentifier: conv.receiverIdentifier,
                  serviceIdentifier: conv.serviceIdentifier || 'DPV',
                  levertTs: s.lastUpdate,
                  levertMs: s.ms,
                },
                s.ms + firstAge,
              );
            })(),
          );
        }
      }
      await Promise.all([fanOutMany(this.queue!, allSubs, jobs), ...work]);
    };

    const reader = this.reader;
    const ack = (ids: string[]) => (ids.length ? redis.xack(stream, STATUS_EVENTS_GROUP, ...ids) : 0);
    const entries = (raw: unknown): [string, string[]][] =>
      (raw as [string, [string, string[]][]][] | null)?.[0]?.[1] ?? [];
    const processBatch = async (batch: [string, string[]][]) => {
      const ids = batch.map(([, f]) => Number(f[f.indexOf('statusId') + 1]));
      await handle(ids.filter((n) => Number.isFinite(n) && n > 0));
      await ack(batch.map(([id]) => id));
    };

    // Entries a stopped or dead consumer read but never acknowledged are taken over: now and every half minute.
    const claimIdleMs = this.deps.claimIdleMs ?? CLAIM_IDLE_MS;
    const claimAbandoned = async () => {
      let cursor = '0-0';
      do {
        const [next, claimed] = (await redis.xautoclaim(
          stream,
          STATUS_EVENTS_GROUP,
          this.consumer,
          claimIdleMs,
          cursor,
          'COUNT',
          BATCH,
        )) as [string, [string, string[]][]];
        const live = claimed.filter((e) => e?.[1]);
        if (live.length) await processBatch(live);
        cursor = next;
      } while (cursor !== '0-0');
    };
    await claimAbandoned();
    let lastClaim = Date.now();

    this.loop = (async () => {
      while (!this.stopping) {
        try {
          const batch = entries(
            await reader.xreadgroup(
              'GROUP',
              STATUS_EVENTS_GROUP,
              this.consumer,
              'COUNT',
              BATCH,
              'BLOCK',
              1000,
              'STREAMS',
              stream,
              '>',
            ),
          );
          if (batch.length) await processBatch(batch);
          if (Date.now() - lastClaim > claimIdleMs / 2) {
            lastClaim = Date.now();
            await claimAbandoned();
          }
        } catch (err) {
          if (this.stopping) break;
          log.error(
            { err: { name: (err as Error).name, message: (err as Error).message } },
            'status event fan-out failed; retrying',
          );
          await new Promise((r) => setTimeout(r, 1000));
          // Unacknowledged entries are read again from our pending list.
          const mine = entries(
            await reader
              .xreadgroup('GROUP', STATUS_EVENTS_GROUP, this.consumer, 'COUNT', BATCH, 'STREAMS', stream, '0')
              .catch(() => null),
          );
          if (mine.length) await processBatch(mine).catch(() => undefined);
        }
      }
    })();
  }

  async close(): Promise<void> {
    this.stopping = true;
    // The blocking read ends within its BLOCK time; the loop then sees `stopping`.
    await this.loop;
    await this.queue?.close();
    this.reader?.disconnect();
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }
}
