import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { ServiceRecordNotFound } from '../adapters/address-service.js';
import { type AltinnClient, AltinnError, type UploadFile } from '../adapters/altinn.js';
import { type Config, TAUSHETSBELAGT_PROCESS } from '../config.js';
import { type ArkivmeldingSummary, readConfidentialTitle } from '../domain/arkivmelding/index.js';
import { pickServiceRecord } from '../domain/capabilities.js';
import { type DpvSettings, planCorrespondence } from '../domain/correspondence.js';
import { pollInterval } from '../domain/correspondence-status.js';
import { parseOrgIdentifier } from '../domain/identifiers.js';
import { type Status, ttlExpiredDescription } from '../domain/status.js';
import { bullmq } from '../queues/bullmq.js';
import { SEND_QUEUE, type SendJobData } from '../queues/send-queue.js';
import { ARKIVMELDING_FILENAME, completeReceiptWithoutSending } from '../services/outgoing.js';
import { type DeliveryStore, releaseOutgoing } from '../store/delivery.js';
import type { FileStore } from '../store/files.js';
import type { OutgoingMessage, Store } from '../store/store.js';
import type { AddressBook, Log } from './types.js';

/** A reason this message can never be sent as it stands: FEIL at once, no retry. */
class PermanentFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentFailure';
  }
}

/** Worth another attempt later: the address service or Altinn is down, slow or answered something unreadable. */
class TransientFailure extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransientFailure';
  }
}

/** Statuses after which a send job has nothing left to do. */
const DONE: ReadonlySet<Status> = new Set(['SENDT', 'LEVERT', 'LEST', 'FEIL', 'ANNET', 'LEVETID_UTLOPT']);

/** Exponential backoff with jitter: base·2^(n-1), capped, then a random share between half and all of it. */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

export interface SendWorkerDeps {
  config: Config;
  store: Store;
  delivery: DeliveryStore;
  files: FileStore;
  addressBook: AddressBook;
  altinn: AltinnClient;
  log: Log;
  /** Its own connection (BullMQ blocks on it). */
  connection: Redis;
  clock?: () => Date;
}

/** Consumes the send queue: one job per message, carrying its id only; everything else is opened here. */
export class SendWorker {
  private worker: Worker<SendJobData> | undefined;
  private readonly clock: () => Date;

  constructor(private readonly deps: SendWorkerDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async start(): Promise<void> {
    this.worker = new bullmq.Worker<SendJobData>(SEND_QUEUE, (job, token) => this.process(job, token), {
      connection: this.deps.connection,
      prefix: `${this.deps.store.prefix}bull`,
      concurrency: this.deps.config.SEND_CONCURRENCY,
      // Uploads can be long; the lock is renewed meanwhile. A worker that dies holding it is noticed after about this long.
      lockDuration: this.deps.config.SEND_JOB_LOCK_MS,
      stalledInterval: Math.min(30_000, this.deps.config.SEND_JOB_LOCK_MS),
      // A worker killed mid-job leaves it stalled; it is taken up again (the idempotent key makes that safe).
      maxStalledCount: 10,
    });
    this.worker.on('error', (err) => this.deps.log.error({ err }, 'send worker error'));
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker?.close();
  }

  async process(job: Job<SendJobData>, token?: string): Promise<void> {
    const messageId = job.data.messageId;
    const log = this.deps.log.child({ messageId, jobId: job.id });
    let outcome: Awaited<ReturnType<SendWorker['attempt']>>;
    try {
      outcome = await this.attempt(messageId, log);
    } catch (e) {
      // Our own store failed (Redis away): try again later rather than lose the job.
      log.error({ err: e }, 'send attempt failed before reaching Altinn; will retry');
      outcome = {
        kind: 'retry',
        at: this.clock().getTime() + this.deps.config.SEND_RETRY_BASE_MS,
        reason: (e as Error).message,
      };
    }
    if (outcome.kind === 'done') return;
    if (outcome.kind === 'permanent') throw new bullmq.UnrecoverableError(outcome.reason);
    // Transient: the same job comes back later, at the latest when the message's TTL runs out.
    const now = this.clock().getTime();
    const delay = Math.max(1, outcome.at - now);
    if (!token) throw new Error(outcome.reason);
    await job.moveToDelayed(Date.now() + delay, token);
    throw new bullmq.DelayedError();
  }

  /** One attempt; never throws for Altinn's or the address service's behaviour. */
  async attempt(
    messageId: string,
    log: Log,
  ): Promise<
    { kind: 'done' } | { kind: 'permanent'; reason: string } | { kind: 'retry'; at: number; reason: string }
  > {
    const { store, delivery, config } = this.deps;
    const [msg, found] = await Promise.all([
      store.getMessage(messageId),
      store.getConversationWithStatusesByMessageId(messageId),
    ]);
    if (!msg || !found) {
      log.warn({}, 'message is gone; nothing to send');
      return { kind: 'done' };
    }
    const conv = found.conversation;
    const statuses = new Set(found.statuses.map((s) => s.status));
    if ([...statuses].some((s) => DONE.has(s))) {
      log.info({ statuses: [...statuses] }, 'message already has an outcome; not sent again');
      // A worker that stopped between the status and the clean-up leaves the message behind.
      await this.release(messageId, statuses.has('SENDT') ? 'keep-delivery' : 'forget');
      return { kind: 'done' };
    }
    const now = this.clock();
    if (msg.type === 'arkivmelding_kvittering') {
      await completeReceiptWithoutSending(store, messageId, now);
      await this.release(messageId, 'forget');
      return { kind: 'done' };
    }
    if (msg.expiryMs <= now.getTime()) {
      const last = (await delivery.state(messageId)).lastError;
      await store.addStatus(messageId, 'LEVETID_UTLOPT', {
        description: ttlExpiredDescription(last),
        now,
      });
      log.info({}, 'time to live ran out before the message could be sent');
      await this.release(messageId, 'forget');
      return { kind: 'done' };
    }
    const known = (await delivery.state(messageId)).correspondenceId;
    if (known) {
      // Altinn's answer was recorded but the status write (or the conversation's update) was not: finish without
      // sending again.
      await store.setDelivery(messageId, { externalSystemReference: known, pollable: true });
      await store.addStatus(messageId, 'SENDT', { now });
      await this.release(messageId, 'keep-delivery');
      log.info({ correspondenceId: known }, 'correspondence already recorded; SENDT');
      return { kind: 'done' };
    }
    try {
      await this.send(msg, conv.id, log);
      return { kind: 'done' };
    } catch (e) {
      if (e instanceof PermanentFailure) {
        await store.addStatus(messageId, 'FEIL', { description: e.message, now: this.clock() });
        await this.release(messageId, 'forget');
        log.warn({ reason: e.message }, 'message refused; FEIL');
        return { kind: 'permanent', reason: e.message };
      }
      // Another attempt at the same message (a retried or stalled job) may have finished it meanwhile and removed
      // its files: then there is nothing left to do.
      const latest = await store.getConversationWithStatusesByMessageId(messageId).catch(() => null);
      if (latest?.statuses.some((s) => DONE.has(s.status))) {
        log.info({}, 'message was completed by another attempt meanwhile');
        return { kind: 'done' };
      }
      const transient =
        e instanceof TransientFailure
          ? e
          : new TransientFailure(`unexpected error: ${(e as Error).message}`, undefined, { cause: e });
      if (!(e instanceof TransientFailure))
        log.error({ err: e }, 'unexpected error while sending; will retry');
      const attempts = await delivery.recordFailure(messageId, transient.message);
      const delay = Math.max(
        retryDelay(attempts, config.SEND_RETRY_BASE_MS, config.SEND_RETRY_MAX_MS),
        transient.retryAfterMs ?? 0,
      );
      // Never past the TTL: the attempt then registers LEVETID_UTLOPT.
      const at = Math.min(this.clock().getTime() + delay, msg.expiryMs);
      log.warn(
        { reason: transient.message, attempts, retryInMs: at - this.clock().getTime() },
        'send failed; will retry',
      );
      return { kind: 'retry', at, reason: transient.message };
    }
  }

  private async resolveResource(msg: OutgoingMessage): Promise<string> {
    let res: Awaited<ReturnType<AddressBook['lookup']>>;
    try {
      res = await this.deps.addressBook.lookup({
        identifier: msg.receiverIdentifier,
        process: msg.processIdentifier,
        conversationId: msg.conversationId,
      });
    } catch (e) {
      if (e instanceof ServiceRecordNotFound) {
        throw new PermanentFailure(
          `Mottakeren tar ikke lenger imot prosessen ${msg.processIdentifier} i adressetjenesten; meldingen er ikke sendt. (${e.description})`,
          { cause: e },
        );
      }
      throw new TransientFailure(
        `the address service could not be asked: ${(e as Error).message}`,
        undefined,
        {
          cause: e,
        },
      );
    }
    const record = pickServiceRecord(res, msg.documentType);
    if (!record) {
      throw new PermanentFailure(
        `Adressetjenesten har ingen tjeneste for mottakeren med dokumenttypen ${msg.documentType}; meldingen er ikke sendt.`,
      );
    }
    if (record.service.identifier !== 'DPV') {
      throw new PermanentFailure(
        `Adressetjenesten sender nå mottakeren over ${record.service.identifier ?? 'en ukjent tjeneste'}, ikke Altinn Digital Post (DPV); meldingen er ikke sendt.`,
      );
    }
    return record.service.resource ?? '';
  }

  private async send(msg: OutgoingMessage, convId: number, log: Log): Promise<void> {
    const { store, files, altinn, config, delivery } = this.deps;
    const messageId = msg.messageId;
    const resource = await this.resolveResource(msg);
    const sbd = JSON.parse((await store.getSbdJson(messageId)) ?? '{}') as {
      standardBusinessDocumentHeader?: { sender?: { identifier?: { value?: string } }[] };
      arkivmelding?: { dpv?: DpvSettings };
    };
    const senderId = parseOrgIdentifier(
      sbd.standardBusinessDocumentHeader?.sender?.[0]?.identifier?.value ?? '',
    );
    const senderOrgnr = senderId?.part ?? senderId?.orgnr ?? config.ORG_NUMBER;
    let senderName: string;
    try {
      senderName = (await this.deps.addressBook.info(senderOrgnr)).organizationName?.trim() || senderOrgnr;
    } catch (e) {
      if (e instanceof ServiceRecordNotFound) senderName = senderOrgnr;
      else
        throw new TransientFailure(
          `the sender's name could not be looked up: ${(e as Error).message}`,
          undefined,
          {
            cause: e,
          },
        );
    }
    const [summary, stored] = await Promise.all([
      store.getArkivmeldingSummary<ArkivmeldingSummary>(messageId),
      store.listFiles(messageId),
    ]);
    if (!summary) throw new PermanentFailure('Meldingen mangler arkivmelding.xml; den er ikke sendt.');
    const am = stored.find((f) => f.filename === ARKIVMELDING_FILENAME);
    // Summaries stored before the title was kept with them: read from the file.
    const confidentialTitle =
      summary.confidentialTitle !== undefined
        ? summary.confidentialTitle
        : am
          ? readConfidentialTitle(await files.readAll(messageId, am.fileId), {
              maxBytes: config.ARKIVMELDING_MAX_SIZE,
              maxDepth: config.ARKIVMELDING_MAX_DEPTH,
            })
          : null;
    const plan = planCorrespondence(
      {
        messageId,
        process: msg.processIdentifier,
        receiver: msg.receiverIdentifier,
        senderOrgnr,
        senderName,
        resource,
        summary,
        confidentialTitle,
        dpv: sbd.arkivmelding?.dpv ?? {},
        files: stored,
        now: this.clock(),
      },
      {
        confidentialResource: config.ALTINN_CONFIDENTIAL_RESOURCE,
        taushetsbelagtProcess: TAUSHETSBELAGT_PROCESS,
        daysToReply: config.DPV_DAYS_TO_REPLY,
        channel: config.DPV_NOTIFICATION_CHANNEL,
        emailSubject: config.DPV_EMAIL_SUBJECT,
      },
    );
    if (!plan.ok) throw new PermanentFailure(plan.reason);
    await delivery.addWarnings(convId, plan.warnings);
    const byName = new Map(stored.map((f) => [f.filename, f]));
    const uploads: UploadFile[] = plan.files.map((f) => {
      const file = byName.get(f.filename)!;
      return {
        filename: file.filename,
        contentType: file.mimeType,
        open: () => files.openRead(messageId, file.fileId),
      };
    });

    let correspondenceId: string;
    try {
      ({ correspondenceId } = await altinn.upload(plan.fields, uploads));
      log.info(
        { correspondenceId, files: uploads.length, confidential: plan.confidential },
        'correspondence created in Altinn',
      );
    } catch (e) {
      if (!(e instanceof AltinnError)) throw e;
      if (e.kind === 'conflict') {
        // An earlier attempt got through (we crashed or lost the answer): find it instead of sending again.
        const found = await this.lookup(resource, messageId);
        if (!found)
          throw new TransientFailure('Altinn knows the idempotent key but the search did not find it yet');
        correspondenceId = found;
        log.info({ correspondenceId }, 'correspondence from an earlier attempt found by its idempotent key');
      } else if (e.kind === 'permanent') {
        throw new PermanentFailure(
          `Altinn avviste meldingen: ${e.message.replace(/^Altinn upload answered /, '')}`,
          {
            cause: e,
          },
        );
      } else {
        throw new TransientFailure(e.message, e.details.retryAfterMs, { cause: e });
      }
    }
    const now = this.clock();
    // The correspondence is recorded before the status, so a crash in between still polls the right one.
    await delivery.markSent(messageId, {
      correspondenceId,
      reminder: plan.fields.some(
        ([k, v]) => k === 'correspondence.notification.sendReminder' && v === 'true',
      ),
      confidential: msg.confidential,
      now: now.getTime(),
      firstPollAt:
        now.getTime() +
        pollInterval(
          0,
          config.STATUS_POLL_INTERVAL_MS,
          config.STATUS_POLL_MAX_INTERVAL_MS,
          config.STATUS_POLL_RAMP_MS,
        ),
    });
    await store.addStatus(messageId, 'SENDT', { now });
    await this.release(messageId, 'keep-delivery');
  }

  /**
   * The message and its files are deleted once transport is over; the delivery facts stay for polling after a
   * send ('keep-delivery') and are dropped when nothing follows ('forget').
   */
  private async release(messageId: string, delivery: 'keep-delivery' | 'forget'): Promise<void> {
    await releaseOutgoing(this.deps.store, this.deps.files, messageId);
    if (delivery === 'forget') await this.deps.delivery.forget(messageId);
  }

  private async lookup(resource: string, messageId: string): Promise<string | null> {
    try {
      return await this.deps.altinn.findByIdempotentKey(resource, messageId);
    } catch (e) {
      if (e instanceof AltinnError && e.kind === 'permanent') {
        throw new PermanentFailure(`Altinn-søket etter den tidligere sendte meldingen feilet: ${e.message}`, {
          cause: e,
        });
      }
      throw new TransientFailure((e as Error).message, undefined, { cause: e });
    }
  }
}
