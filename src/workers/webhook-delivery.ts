import type { Job, Worker } from 'bullmq';
import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Redis } from 'ioredis';
import { pushEvent } from '../adapters/webhook-push.js';
import type { Config } from '../config.js';
import { formatOslo } from '../domain/time.js';
import { bullmq } from '../queues/bullmq.js';
import { WEBHOOK_QUEUE, type WebhookJobData } from '../queues/webhook-queue.js';
import { Crypto } from '../store/crypto.js';
import { NoticeStore } from '../store/notices.js';
import { createRedis } from '../store/redis.js';
import { Store } from '../store/store.js';
import { SubscriptionStore } from '../store/subscriptions.js';
import { statusEvent, unreadEvent } from './events.js';

export interface BackgroundDeps {
  log: Logger;
  clock?: () => Date;
  /** How long a status event may sit unacknowledged with another consumer before it is taken over (default 60 s). */
  claimIdleMs?: number;
}

/**
 * Delivers queued webhook events. Every non-2xx answer, network error or timeout is a failed attempt;
 * BullMQ retries with exponential back-off from WEBHOOK_RETRY_BASE_MS up to WEBHOOK_MAX_ATTEMPTS.
 */
export class WebhookDeliveryWorker {
  private redis: Redis | undefined;
  private conn: Redis | undefined;
  private worker: Worker<WebhookJobData> | undefined;

  constructor(
    private readonly config: Config,
    private readonly deps: BackgroundDeps,
  ) {}

  async start(): Promise<void> {
    const prefix = `${this.config.REDIS_PREFIX}:`;
    const redis = createRedis(this.config.REDIS_URL, 'worker');
    this.redis = redis;
    const crypto = new Crypto(this.config.DATA_ENCRYPTION_KEY);
    const store = new Store(redis, prefix, crypto);
    const subs = new SubscriptionStore(redis, prefix, crypto);
    const notices = new NoticeStore(redis, prefix);
    const clock = this.deps.clock ?? (() => new Date());
    const log = this.deps.log.child({ component: 'webhooks' });

    // A success is recorded at most once a second per subscription; a change of state always is.
    const lastOkWrite = new Map<number, number>();
    const deliver = async (job: Job<WebhookJobData>) => {
      const { subscriptionId } = job.data;
      const [found, event] = await Promise.all([
        subs.forDelivery(subscriptionId),
        'statusId' in job.data
          ? statusEvent(store, job.data.statusId)
          : notices
              .getNotice(job.data.noticeId)
              .then((n) => (n ? unreadEvent(n, this.config.ALTINN_CONFIDENTIAL_RESOURCE) : null)),
      ]);
      if (!found) return 'subscription-gone';
      if (!event) return 'event-gone';
      const { sub, secret } = found;
      const body = JSON.stringify(event);
      const res = await pushEvent(sub.pushEndpoint, body, secret, this.config.WEBHOOK_TIMEOUT_MS);
      const ts = formatOslo(clock());
      if (res.ok) {
        const t = Date.now();
        if (sub.failing || sub.lastDelivery?.error || t - (lastOkWrite.get(sub.id) ?? 0) >= 1000) {
          lastOkWrite.set(sub.id, t);
          await subs.recordDelivery(sub.id, { ts, httpStatus: res.httpStatus }, 'ok');
        }
        return 'delivered';
      }
      lastOkWrite.delete(sub.id);
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      await subs.recordDelivery(
        sub.id,
        { ts, ...(res.httpStatus ? { httpStatus: res.httpStatus } : {}), error: res.error },
        last ? 'exhausted' : 'retrying',
      );
      log.warn(
        { subscriptionId: sub.id, jobId: job.id, attempt: job.attemptsMade + 1, error: res.error },
        last ? 'webhook event dropped after its last attempt' : 'webhook delivery failed; will retry',
      );
      if (last) throw new bullmq.UnrecoverableError(res.error);
      throw new Error(res.error);
    };

    this.conn = createRedis(this.config.REDIS_URL, 'worker');
    this.worker = new bullmq.Worker<WebhookJobData>(WEBHOOK_QUEUE, deliver, {
      connection: this.conn,
      prefix: `${prefix}bull`,
      concurrency: 64,
    });
    this.worker.on('error', (err) =>
      log.error({ err: { name: err.name, message: err.message } }, 'webhook worker error'),
    );
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.conn?.quit().catch(() => this.conn?.disconnect());
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }
}
