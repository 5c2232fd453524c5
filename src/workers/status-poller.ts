import type { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { type AltinnClient, AltinnError } from '../adapters/altinn.js';
import type { Config } from '../config.js';
import { notificationReport, pollInterval, pollVerdict } from '../domain/correspondence-status.js';
import { ARKIVMELDING_STANDARD, buildKvittering } from '../domain/kvittering.js';
import { bullmq, handleErrors } from '../queues/bullmq.js';
import type { DeliveryStore } from '../store/delivery.js';
import type { ConversationRecord, Store } from '../store/store.js';
import type { IncomingSink, Log } from './types.js';

export const STATUS_POLL_QUEUE = 'status-poll';
/** The job scheduler's id: one tick per interval for the whole cluster. */
export const STATUS_POLL_SCHEDULER = 'status-poll-tick';

/** How long a claimed poll stays out of other runs' way before it is due again anyway. */
const LEASE_MS = 5 * 60_000;
/** At most this many pages per tick, so one tick cannot run forever. */
const MAX_PAGES_PER_TICK = 20;
const PARALLEL = 8;

export interface StatusPollerDeps {
  config: Config;
  store: Store;
  delivery: DeliveryStore;
  altinn: AltinnClient;
  incoming: IncomingSink | null;
  log: Log;
  /** Its own connections: one for the queue, one for the worker. */
  queueConnection: Redis;
  workerConnection: Redis;
  clock?: () => Date;
}

/**
 * Follows sent correspondences in Altinn: a scheduled job takes the due ones from a sorted set (score = next
 * poll time), reads each overview and registers LEVERT, LEST, FEIL or ANNET; the interval grows with age.
 */
export class StatusPoller {
  private queue: Queue | undefined;
  private worker: Worker | undefined;
  private readonly clock: () => Date;

  constructor(private readonly deps: StatusPollerDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async start(): Promise<void> {
    const prefix = `${this.deps.store.prefix}bull`;
    this.queue = handleErrors(
      new bullmq.Queue(STATUS_POLL_QUEUE, { connection: this.deps.queueConnection, prefix }),
      (err) =>
        this.deps.log.warn({ err: { name: err.name, message: err.message } }, 'status poll queue error'),
    );
    await this.queue.upsertJobScheduler(
      STATUS_POLL_SCHEDULER,
      { every: this.deps.config.STATUS_POLL_INTERVAL_MS },
      {
        name: 'poll',
        data: {},
        opts: {
          removeOnComplete: { count: 100, age: 3600 },
          removeOnFail: { count: 1000, age: 7 * 24 * 3600 },
        },
      },
    );
    this.worker = new bullmq.Worker(STATUS_POLL_QUEUE, async () => this.pollDue(), {
      connection: this.deps.workerConnection,
      prefix,
      concurrency: 1,
    });
    this.worker.on('error', (err) => this.deps.log.error({ err }, 'status poller error'));
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue?.close();
  }

  /** Polls every due conversation, a page at a time; returns how many were polled. */
  async pollDue(): Promise<number> {
    const size = this.deps.config.STATUS_POLL_PAGE_SIZE;
    let total = 0;
    for (let page = 0; page < MAX_PAGES_PER_TICK; page++) {
      const due = await this.deps.delivery.claimDue(this.clock().getTime(), size, LEASE_MS);
      for (let i = 0; i < due.length; i += PARALLEL) {
        await Promise.all(due.slice(i, i + PARALLEL).map((id) => this.pollOne(id)));
      }
      total += due.length;
      if (due.length < size) break;
    }
    return total;
  }

  private interval(ageMs: number): number {
    const c = this.deps.config;
    return pollInterval(
      ageMs,
      c.STATUS_POLL_INTERVAL_MS,
      c.STATUS_POLL_MAX_INTERVAL_MS,
      c.STATUS_POLL_RAMP_MS,
    );
  }

  /** One conversation: never throws; a failure is logged and the poll comes again later. */
  async pollOne(messageId: string): Promise<void> {
    const { store, delivery, altinn } = this.deps;
    const log = this.deps.log.child({ messageId });
    try {
      const [found, state] = await Promise.all([
        store.getConversationWithStatusesByMessageId(messageId),
        delivery.state(messageId),
      ]);
      const conv = found?.conversation;
      // Gone, never sent, or finished elsewhere (LEVETID_UTLOPT, FEIL and LEST end polling): nothing to ask Altinn.
      if (!conv || !state.correspondenceId || (!conv.pollable && conv.finished)) {
        await delivery.stopPolling(messageId);
        return;
      }
      if (!conv.pollable) {
        // Recorded, but the conversation not updated yet (a send finishing now, or one that stopped in between).
        await store.setDelivery(messageId, {
          externalSystemReference: state.correspondenceId,
          pollable: true,
        });
      }
      const sentMs = state.sentMs ?? conv.lastUpdateMs;
      let overview: Awaited<ReturnType<AltinnClient['overview']>>;
      try {
        overview = await altinn.overview(state.correspondenceId);
      } catch (e) {
        const reason = e instanceof AltinnError ? e.message : (e as Error).message;
        log.warn({ reason }, 'status poll failed; trying again later');
        await delivery.reschedule(
          messageId,
          this.clock().getTime() + this.interval(this.clock().getTime() - sentMs),
        );
        return;
      }
      const verdict = pollVerdict(overview);
      if (verdict.unknownStatus)
        log.info({ altinnStatus: verdict.unknownStatus }, 'unknown Altinn status ignored');
      let delivered = false;
      // The correspondence exists, so the message was sent: a poll that overtakes the sender's SENDT writes it first,
      // so statuses stay in order.
      const steps = verdict.steps.length ? [{ status: 'SENDT' as const }, ...verdict.steps] : [];
      // Statuses the conversation already has are not written again (the usual poll of a letter not yet read).
      const has = new Set(found?.statuses.map((s) => s.status));
      for (const step of steps) {
        if (has.has(step.status)) {
          if (step.status === 'LEVERT') delivered = true;
          continue;
        }
        const r = await store.addStatus(messageId, step.status, {
          ...('description' in step && step.description ? { description: step.description } : {}),
          now: this.clock(),
        });
        if (r.outcome === 'new') log.info({ status: step.status }, 'status from Altinn registered');
        if (step.status === 'LEVERT' && (r.outcome === 'new' || r.outcome === 'duplicate')) delivered = true;
      }
      if (delivered) {
        if (!state.receipt) await this.receipt(conv, log);
        await this.followNotifications(
          messageId,
          conv,
          state,
          overview?.published ?? null,
          Boolean(overview?.read),
          log,
        );
      }
      if (verdict.stop) {
        await delivery.stopPolling(messageId);
        return;
      }
      const now = this.clock().getTime();
      await delivery.reschedule(messageId, now + this.interval(now - sentMs));
    } catch (e) {
      log.error({ err: e }, 'status poll failed unexpectedly; trying again later');
      await delivery
        .reschedule(messageId, this.clock().getTime() + this.deps.config.STATUS_POLL_INTERVAL_MS)
        .catch(() => {});
    }
  }

  /** The kvittering for the fagsystem once Altinn has published the message. */
  private async receipt(conv: ConversationRecord, log: Log): Promise<void> {
    const { config, incoming, delivery } = this.deps;
    if (!config.GENERATE_RECEIPTS || !incoming || conv.documentIdentifier !== ARKIVMELDING_STANDARD) return;
    const k = buildKvittering({
      relatedToMessageId: conv.messageId,
      conversationId: conv.conversationId,
      originalReceiver: conv.receiverIdentifier,
      originalSender: conv.sender,
      now: this.clock(),
    });
    const h = k.sbd.standardBusinessDocumentHeader as {
      documentIdentification: { standard: string };
      businessScope: { scope: { identifier: string }[] };
    };
    const r = await incoming.addIncoming({
      sbdJson: JSON.stringify(k.sbd),
      messageId: k.messageId,
      conversationId: conv.conversationId,
      processIdentifier: h.businessScope.scope[0]!.identifier,
      documentType: h.documentIdentification.standard,
      senderIdentifier: conv.receiverIdentifier,
      receiverIdentifier: conv.senderIdentifier,
      serviceIdentifier: 'DPV',
    });
    await delivery.setReceiptMade(conv.messageId);
    log.info(
      { kvitteringId: k.messageId, outcome: r.outcome },
      'arkivmelding_kvittering stored for the fagsystem',
    );
  }

  /**
   * After LEVERT (and again once the reminder should have gone out, while unread) read the details — the heavy
   * call, so only then — and record whether anybody was notified.
   */
  private async followNotifications(
    messageId: string,
    conv: ConversationRecord,
    state: Awaited<ReturnType<DeliveryStore['state']>>,
    published: Date | null,
    read: boolean,
    log: Log,
  ): Promise<void> {
    const { delivery, altinn, config } = this.deps;
    let reminder: boolean;
    if (state.detailsStage === 0) reminder = false;
    else if (
      state.detailsStage === 1 &&
      state.reminder &&
      !read &&
      published &&
      this.clock().getTime() >= published.getTime() + config.DPV_REMINDER_CHECK_MS
    )
      reminder = true;
    else return;
    let details: Awaited<ReturnType<AltinnClient['details']>>;
    try {
      details = await altinn.details(state.correspondenceId!);
    } catch (e) {
      log.warn(
        { reason: (e as Error).message },
        'correspondence details could not be read; trying again later',
      );
      return;
    }
    const report = notificationReport(details?.notifications ?? [], reminder);
    if (report.outcome === 'pending') return;
    // The reminder's outcome is added to the first notification's.
    const earlier = reminder ? conv.notificationOutcome : undefined;
    await delivery.setNotificationOutcome(conv.id, earlier ? `${earlier} ${report.text}` : report.text);
    if (report.warning) await delivery.addWarnings(conv.id, [report.warning]);
    await delivery.setDetailsStage(messageId, state.detailsStage + 1);
    log.info({ notification: report.outcome, reminder }, 'notification outcome recorded');
  }
}
