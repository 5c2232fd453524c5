import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { UNREAD_WATCH_ENDS } from '../domain/status.js';
import { formatOslo } from '../domain/time.js';
import { bullmq, handleErrors } from '../queues/bullmq.js';
import { createWebhookQueue, fanOut, type WebhookJobData } from '../queues/webhook-queue.js';
import { Crypto } from '../store/crypto.js';
import { NoticeStore, type UnreadRecord } from '../store/notices.js';
import { createRedis } from '../store/redis.js';
import { Store } from '../store/store.js';
import { SubscriptionStore } from '../store/subscriptions.js';
import type { BackgroundDeps } from './webhook-delivery.js';

export const WATCHDOG_QUEUE = 'unread-watchdog';
const PAGE = 500;

/**
 * Raises one `unread` notice per configured age (UNREAD_ALERT_AFTER) for a confidential message that is
 * LEVERT and not LEST: a webhook event and a digest line. Progress is kept per message in Redis, and a
 * notice's effects are written before the progress moves, so a restart neither repeats a notice nor skips one
 * that fell due while the service was down. Runs through a job scheduler: once per cluster per tick.
 */
export class UnreadWatchdog {
  private redis: Redis | undefined;
  private conn: Redis | undefined;
  private queue: Queue | undefined;
  private worker: Worker | undefined;
  private webhooks: Queue<WebhookJobData> | undefined;
  private notices: NoticeStore | undefined;
  private subs: SubscriptionStore | undefined;
  private store: Store | undefined;

  constructor(
    private readonly config: Config,
    private readonly deps: BackgroundDeps,
  ) {}

  private get clock(): () => Date {
    return this.deps.clock ?? (() => new Date());
  }

  async start(): Promise<void> {
    const prefix = `${this.config.REDIS_PREFIX}:`;
    this.redis = createRedis(this.config.REDIS_URL, 'worker');
    this.conn = createRedis(this.config.REDIS_URL, 'worker');
    const crypto = new Crypto(this.config.DATA_ENCRYPTION_KEY);
    this.notices = new NoticeStore(this.redis, prefix);
    this.subs = new SubscriptionStore(this.redis, prefix, crypto);
    this.store = new Store(this.redis, prefix, crypto);
    this.webhooks = createWebhookQueue(this.redis, prefix, {
      maxAttempts: this.config.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: this.config.WEBHOOK_RETRY_BASE_MS,
    });
    const opts = { connection: this.conn, prefix: `${prefix}bull` };
    this.queue = handleErrors(new bullmq.Queue(WATCHDOG_QUEUE, opts));
    await this.queue.upsertJobScheduler(
      'unread-watchdog',
      { every: this.config.UNREAD_CHECK_INTERVAL_MS },
      { name: 'check', data: {}, opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } } },
    );
    const log = this.deps.log.child({ component: 'unread-watchdog' });
    this.worker = new bullmq.Worker(WATCHDOG_QUEUE, async (_job: Job) => this.runOnce(), {
      ...opts,
      concurrency: 1,
    });
    this.worker.on('error', (err) =>
      log.error({ err: { name: err.name, message: err.message } }, 'watchdog error'),
    );
    await this.worker.waitUntilReady();
  }

  /** One pass over every message with a notice due now; returns how many notices were raised. */
  async runOnce(): Promise<number> {
    const notices = this.notices!;
    let raised = 0;
    const seen = new Set<string>();
    for (;;) {
      const now = this.clock();
      const due = (await notices.dueUnread(now.getTime(), PAGE)).filter((u) => !seen.has(u.messageId));
      if (!due.length) break;
      const subs = await this.subs!.all();
      for (const u of due) {
        seen.add(u.messageId);
        // The fan-out may not have seen a LEST (or a purge, a failure) yet; the status set is the truth.
        const ended = await this.store!.hasAnyStatus(u.messageId, UNREAD_WATCH_ENDS);
        if (ended !== false) {
          await notices.stopUnread(u.messageId);
          continue;
        }
        raised += await this.raiseDue(u, now, subs);
      }
    }
    return raised;
  }

  private async raiseDue(
    u: UnreadRecord,
    now: Date,
    subs: Awaited<ReturnType<SubscriptionStore['all']>>,
  ): Promise<number> {
    const ages = this.config.UNREAD_ALERT_AFTER;
    const waitedMs = now.getTime() - u.levertMs;
    let to = u.noticesSent;
    while (to < ages.length && ages[to]!.ms <= waitedMs) to++;
    if (to === u.noticesSent) {
      // Nothing due after all (ages changed): move the due time on.
      const next = ages[to];
      await this.notices!.advance(
        u.messageId,
        u.noticesSent,
        to,
        u.lastNoticeTs ?? '',
        next ? u.levertMs + next.ms : null,
      );
      return 0;
    }
    const createdTs = formatOslo(now);
    for (let k = u.noticesSent; k < to; k++) {
      const notice = await this.notices!.createNotice({
        noticeId: `unread-${u.messageId}-${k}`,
        messageId: u.messageId,
        conversationId: u.conversationId,
        receiverIdentifier: u.receiverIdentifier,
        serviceIdentifier: u.serviceIdentifier,
        levertTs: u.levertTs,
        createdTs,
        createdMs: now.getTime(),
        waitedSeconds: Math.floor(waitedMs / 1000),
        threshold: ages[k]!.label,
      });
      await fanOut(
        this.webhooks!,
        subs,
        { event: 'unread', status: 'LEVERT', serviceIdentifier: u.serviceIdentifier, direction: 'OUTGOING' },
        { noticeId: notice.noticeId },
      );
      if (this.config.SMTP_URL) await this.notices!.addDigestItem(`n${notice.noticeId}`, notice.createdMs);
    }
    const next = ages[to];
    await this.notices!.advance(
      u.messageId,
      u.noticesSent,
      to,
      createdTs,
      next ? u.levertMs + next.ms : null,
    );
    return to - u.noticesSent;
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue?.close();
    await this.webhooks?.close();
    await this.conn?.quit().catch(() => this.conn?.disconnect());
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }
}
