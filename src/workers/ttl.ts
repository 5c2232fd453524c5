import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { ttlExpiredDescription } from '../domain/status.js';
import { parseDateTime } from '../domain/time.js';
import { bullmq, handleErrors } from '../queues/bullmq.js';
import { createSendQueue, type SendJobData, sendJobId } from '../queues/send-queue.js';
import { createTtlQueue, TTL_QUEUE, TTL_SWEEP_SCHEDULER, type TtlJobData } from '../queues/ttl-queue.js';
import { Crypto } from '../store/crypto.js';
import { DeliveryStore, releaseOutgoing } from '../store/delivery.js';
import { FileStore } from '../store/files.js';
import { IncomingStore } from '../store/incoming.js';
import { createRedis } from '../store/redis.js';
import { Store } from '../store/store.js';

export const TTL_EXPIRED_INCOMING_DESCRIPTION =
  'Levetiden for meldingen er utgått før fagsystemet hentet den; den er fjernet fra innkommende kø';

export interface TtlWorkerDeps {
  clock?: () => Date;
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export type ExpireOutcome = 'expired' | 'not-due' | 'finished' | 'no-expiry' | 'unknown';

const SWEEP_BATCH = 500;
/** Expiries run together within a sweep batch; between such groups, requests waiting in the event loop go first. */
const EXPIRE_AT_ONCE = 16;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Send-job states in which the job can still be taken off the queue. */
const REMOVABLE = new Set(['waiting', 'delayed', 'prioritized', 'paused', 'waiting-children']);

/**
 * Time to live (expectedResponseDateTime): a conversation that has not reached LEVERT, LEST or FEIL by then gets
 * LEVETID_UTLOPT; a queued send job is taken off the queue (the send worker re-checks the TTL too), an incoming
 * message is removed. Each queued message has a delayed job `ttl-<messageId>`; a periodic sweep of the
 * expiry index (`ttl:due`, unfinished conversations by expiry) catches what those miss, e.g. after downtime.
 */
export class TtlWorker {
  private readonly prefix: string;
  private readonly clock: () => Date;
  private readonly log: TtlWorkerDeps['log'];
  private connections: Redis[] = [];
  private store?: Store;
  private incoming?: IncomingStore;
  private delivery?: DeliveryStore;
  private files?: FileStore;
  private sendQueue?: Queue<SendJobData>;
  private queue?: Queue<TtlJobData>;
  private worker?: Worker<TtlJobData>;
  private sweeping?: Promise<number>;
  /** Set by close(): a running sweep stops after the group it is in; the rest waits for the next start. */
  private closing = false;

  constructor(
    private readonly config: Config,
    deps: TtlWorkerDeps = {},
  ) {
    this.prefix = `${config.REDIS_PREFIX}:`;
    this.clock = deps.clock ?? (() => new Date());
    this.log = deps.log;
  }

  private connect(): Redis {
    const c = createRedis(this.config.REDIS_URL, 'worker');
    this.connections.push(c);
    return c;
  }

  /** Opens the store side only: enough for sweep() and expire() without consuming jobs (bench, tests). */
  open(): this {
    if (this.store) return this;
    const redis = this.connect();
    const crypto = new Crypto(this.config.DATA_ENCRYPTION_KEY);
    this.store = new Store(redis, this.prefix, crypto);
    this.incoming = new IncomingStore(redis, this.prefix, crypto);
    this.delivery = new DeliveryStore(this.store);
    this.files = new FileStore(this.config.DATA_DIR, crypto.fileKey);
    this.sendQueue = createSendQueue(redis, this.prefix);
    return this;
  }

  async start(): Promise<void> {
    this.open();
    this.queue = createTtlQueue(this.connect(), this.prefix);
    this.worker = new bullmq.Worker<TtlJobData>(TTL_QUEUE, (job, token) => this.process(job, token), {
      connection: this.connect(),
      prefix: `${this.prefix}bull`,
      concurrency: 4,
    });
    this.worker.on('failed', (job, err) =>
      this.log?.warn({ jobId: job?.id, err: { name: err.name, message: err.message } }, 'ttl job failed'),
    );
    handleErrors(this.worker, (err) =>
      this.log?.warn({ err: { name: err.name, message: err.message } }, 'ttl worker error'),
    );
    await this.worker.waitUntilReady();
    // One scheduler per cluster, whatever the number of processes that upsert it.
    await this.queue.upsertJobScheduler(
      TTL_SWEEP_SCHEDULER,
      { every: this.config.TTL_SWEEP_INTERVAL_MS },
      { name: 'sweep', data: {}, opts: { attempts: 1, removeOnComplete: 100, removeOnFail: 100 } },
    );
  }

  private async process(job: Job<TtlJobData>, token?: string): Promise<unknown> {
    if (job.name === 'sweep') return { due: await this.sweep() };
    const messageId = job.data.messageId;
    if (!messageId) return { outcome: 'unknown' };
    const { outcome, dueMs } = await this.check(messageId);
    if (outcome === 'not-due') {
      // Fired early by our clock: look again when it is due.
      await job.moveToDelayed(Date.now() + Math.max(1000, (dueMs ?? 0) - this.clock().getTime()), token);
      throw new bullmq.DelayedError();
    }
    return { outcome };
  }

  /**
   * Expires one message if its conversation is due and unfinished. Idempotent: a repeat (a retried job, the
   * sweep after the job) completes the cleanup and writes nothing new.
   */
  async expire(messageId: string): Promise<ExpireOutcome> {
    return (await this.check(messageId)).outcome;
  }

  private async check(messageId: string): Promise<{ outcome: ExpireOutcome; dueMs?: number }> {
    const store = this.open().store!;
    const now = this.clock();
    const conv = await store.getConversationByMessageId(messageId);
    const dueMs = conv?.expiry ? parseDateTime(conv.expiry)?.date.getTime() : undefined;
    if (!conv) return { outcome: 'unknown' };
    if (dueMs === undefined) {
      await store.dropExpiry(conv.id);
      return { outcome: 'no-expiry' };
    }
    if (dueMs > now.getTime()) return { outcome: 'not-due', dueMs };
    const incoming = conv.direction === 'INCOMING';
    // LEVERT, LEST, FEIL and INNKOMMENDE_LEVERT finish a conversation: nothing expires after them
    // (the transition table refuses it too, atomically with the write).
    const res = conv.finished
      ? ({ outcome: 'refused' } as const)
      : await store.addStatus(messageId, 'LEVETID_UTLOPT', {
          description: incoming
            ? TTL_EXPIRED_INCOMING_DESCRIPTION
            : ttlExpiredDescription(
                (await this.delivery!.state(messageId)).lastError,
                (await store.hasStatus(messageId, 'SENDT')) === true,
              ),
          now,
        });
    if (res.outcome === 'refused' || res.outcome === 'unknown') {
      await store.dropExpiry(conv.id);
      return { outcome: res.outcome === 'unknown' ? 'unknown' : 'finished' };
    }
    if (incoming) await this.incoming!.remove(messageId);
    else if (await this.unqueueSend(messageId)) {
      // No send worker holds it: a message given to sending goes here with its files (else that worker removes
      // them). One the client never sent stays, so that sending it is answered with TimeToLiveException.
      const state = (await store.getMessage(messageId))?.state;
      if (state !== 'created') {
        await releaseOutgoing(store, this.files!, messageId);
        await this.delivery!.forget(messageId);
      }
    }
    // addStatus takes a finished conversation out of the index; this covers a repeat.
    await store.dropExpiry(conv.id);
    if (res.outcome === 'new') {
      this.log?.info({ messageId, direction: conv.direction }, 'time to live expired');
    }
    return { outcome: 'expired' };
  }

  /**
   * Takes the send job off the queue unless a send worker already holds it (that worker re-checks the TTL);
   * true when no worker has it (removed, finished or never queued).
   */
  private async unqueueSend(messageId: string): Promise<boolean> {
    const job = await this.sendQueue!.getJob(sendJobId(messageId));
    if (!job) return true;
    const state = await job.getState();
    if (!REMOVABLE.has(state)) return state !== 'active';
    try {
      await job.remove();
      return true;
    } catch (e) {
      // Taken by a worker between the two calls: it checks the TTL itself.
      if (REMOVABLE.has(await job.getState())) throw e;
      return false;
    }
  }

  /**
   * Expires every due, unfinished conversation in the expiry index; returns how many it looked at. A sweep
   * asked for while one runs in this process joins it (one that overran the interval); across processes a
   * repeat is harmless, as expiry is idempotent.
   */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    if (this.closing) return 0;
    const store = this.open().store!;
    const nowMs = this.clock().getTime();
    let seen = 0;
    let skip = 0;
    const failures: unknown[] = [];
    while (!this.closing) {
      const due = await store.dueForExpiry(nowMs, skip, SWEEP_BATCH);
      if (!due.length) break;
      const results: PromiseSettledResult<ExpireOutcome>[] = [];
      // A few at a time, giving the event loop back in between: a backlog (after downtime, thousands due at once)
      // must not hold up the API in the same process.
      for (let i = 0; i < due.length && !this.closing; i += EXPIRE_AT_ONCE) {
        if (i) await yieldToEventLoop();
        const group = due.slice(i, i + EXPIRE_AT_ONCE);
        results.push(
          ...(await Promise.allSettled(
            group.map(async ({ convId, messageId }): Promise<ExpireOutcome> => {
              const outcome = messageId === null ? 'unknown' : await this.expire(messageId);
              // The conversation is gone (a rolled-back message): only its index entry is left.
              if (outcome === 'unknown') await store.dropExpiry(convId);
              return outcome;
            }),
          )),
        );
      }
      for (const r of results) {
        // What failed (or is not due by the conversation's own expiry) stays in the index: step over it.
        if (r.status === 'rejected') failures.push(r.reason);
        if (r.status === 'rejected' || r.value === 'not-due') skip++;
      }
      seen += results.length;
    }
    if (failures.length) {
      const first = failures[0] as Error;
      this.log?.error(
        { failed: failures.length, err: { name: first.name, message: first.message } },
        'ttl sweep',
      );
      throw new Error(`${failures.length} expiries failed in this sweep; they are retried on the next`, {
        cause: first,
      });
    }
    return seen;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.sweeping?.catch(() => undefined);
    await this.worker?.close();
    await this.queue?.close();
    await this.sendQueue?.close();
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
    this.connections = [];
    this.store = undefined;
  }
}
