import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Queue } from 'bullmq';
import contentDisposition from 'content-disposition';
import { ServiceRecordNotFound } from '../adapters/address-service.js';
import type { Config } from '../config.js';
import { TAUSHETSBELAGT_PROCESS } from '../config.js';
import {
  type ArkivmeldingSummary,
  checkArkivmeldingAgainstMessage,
  validateArkivmelding,
} from '../domain/arkivmelding/index.js';
import { type IdentifierResource, pickServiceRecord, type ServiceRecord } from '../domain/capabilities.js';
import { AppError, Errors } from '../domain/errors.js';
import { fullIdentifier, senderIdentifierOf } from '../domain/identifiers.js';
import {
  type ArkivmeldingMessage,
  applyDefaults,
  factsOf,
  isPlainFilename,
  parseSbd,
  type SbdFacts,
  serializeSbd,
} from '../domain/sbd.js';
import { TTL_EXPIRED_DESCRIPTION } from '../domain/status.js';
import { formatOslo } from '../domain/time.js';
import { enqueueSend, type SendJobData, sendJobId } from '../queues/send-queue.js';
import { type FileStore, SizeLimitError, UploadAbortedError } from '../store/files.js';
import type { OutgoingMessage, Store, StoredFile } from '../store/store.js';

/**
 * The MIME type of a file name's extension (mime-types and its 200 KB database), loaded when a file first arrives
 * without a usable Content-Type.
 */
let mimeTypes: Promise<typeof import('mime-types')> | undefined;
async function mimeTypeOf(filename: string): Promise<string | false> {
  mimeTypes ??= import('mime-types').then((m) => m.default);
  return (await mimeTypes).lookup(filename);
}

export const ARKIVMELDING_FILENAME = 'arkivmelding.xml';

export const DELETED_BEFORE_SENDING_DESCRIPTION =
  'Meldingen ble slettet av fagsystemet før den ble sendt til Altinn';

export interface AddressLookup {
  lookup(p: {
    identifier: string;
    process?: string;
    securityLevel?: number;
    conversationId?: string;
  }): Promise<IdentifierResource>;
}

export interface UploadInput {
  messageId: string;
  body: Readable;
  contentType?: string;
  contentDisposition?: string;
  contentLength?: number;
  title?: string;
}

export interface FilePart {
  body: Readable;
  filename: string;
  title: string;
  contentType?: string;
  /** Per-file cap (multipart); exceeding it is MultipartFileToLargeException. */
  perFileLimit?: number;
}

const DPV = 'DPV';

export const RECEIPT_NOT_SENT_DESCRIPTION =
  'Kvitteringer sendes ikke over Altinn Digital Post (mottakeren kan ikke ta imot dem); registrert som levert uten sending.';

/**
 * A kvittering to a receiver reached over DPV is not sent (an Altinn inbox takes no receipts); it gets its
 * statuses at once, as the reference does.
 */
export async function completeReceiptWithoutSending(
  store: Store,
  messageId: string,
  now: Date,
): Promise<void> {
  await store.addStatus(messageId, 'SENDT', { description: RECEIPT_NOT_SENT_DESCRIPTION, now });
  await store.addStatus(messageId, 'LEVERT', { now });
  await store.addStatus(messageId, 'LEST', { now });
}

function formatSize(bytes: number): string {
  return bytes < 1024 * 1024 ? `${bytes}b` : `${Math.round(bytes / (1024 * 1024))}MB`;
}

/**
 * Create, fill and send outgoing messages. Routes parse HTTP; this decides; the store and queue persist.
 */
export class OutgoingService {
  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly files: FileStore,
    private readonly addressService: AddressLookup,
    private readonly queue: Queue<SendJobData>,
    private readonly clock: () => Date = () => new Date(),
    /** Schedules the message's expiry job (src/workers/ttl.ts); the sweep covers messages without one. */
    private readonly scheduleTtl?: (messageId: string, expiryMs: number, nowMs: number) => Promise<void>,
    private readonly log?: { error(obj: object, msg: string): void },
  ) {}

  /** POST /api/messages/out: validates, looks up the receiver's capability, stores with OPPRETTET. */
  async create(raw: unknown): Promise<{ sbd: Record<string, unknown>; created: boolean }> {
    const parsed = parseSbd(raw);
    // The input as normalised before defaults: an identical re-post (or a re-post of our answer) is a safe retry.
    const inputJson = JSON.stringify(serializeSbd(parsed));
    const inputHash = createHash('sha256').update(inputJson).digest('hex');
    const givenId = parsed.standardBusinessDocumentHeader.documentIdentification.instanceIdentifier;
    if (givenId) {
      const replay = await this.replay(givenId, inputHash, inputJson);
      if (replay) return { sbd: replay, created: false };
    }
    const now = this.clock();
    const sbd = applyDefaults(parsed, {
      orgNumber: this.config.ORG_NUMBER,
      defaultTtlHours: this.config.DEFAULT_TTL_HOURS,
      now,
    });
    const facts = factsOf(sbd);
    const record = await this.resolveReceiver(
      facts,
      sbd.type === 'arkivmelding' ? sbd.businessMessage : undefined,
    );
    const out = serializeSbd(sbd);
    const convId = await this.store.createOutgoing(
      {
        conversationId: facts.conversationId,
        messageId: facts.messageId,
        sender: fullIdentifier(facts.sender),
        senderIdentifier: senderIdentifierOf(facts.sender),
        receiver: fullIdentifier(facts.receiver),
        receiverIdentifier: facts.receiver.orgnr,
        processIdentifier: facts.processIdentifier,
        documentIdentifier: facts.documentStandard,
        messageReference: facts.conversationId,
        messageTitle: '',
        lastUpdate: formatOslo(now),
        expiry: facts.expectedResponseDateTime,
        direction: 'OUTGOING',
        serviceIdentifier: DPV,
      },
      {
        messageId: facts.messageId,
        conversationId: facts.conversationId,
        processIdentifier: facts.processIdentifier,
        receiverIdentifier: facts.receiver.orgnr,
        senderIdentifier: senderIdentifierOf(facts.sender),
        serviceIdentifier: DPV,
        documentType: facts.documentStandard,
        type: facts.type,
        resource: record.service.resource ?? '',
        confidential: record.service.resource === this.config.ALTINN_CONFIDENTIAL_RESOURCE,
        expiry: facts.expectedResponseDateTime,
        expiryMs: facts.expiry.getTime(),
        lastUpdated: formatOslo(now),
        lastUpdatedMs: now.getTime(),
        inputHash,
      },
      JSON.stringify(out),
      now,
      sbd.type === 'arkivmelding' ? (sbd.businessMessage as ArkivmeldingMessage).hoveddokument : undefined,
    );
    if (convId === null) {
      // Lost a race with an identical create, or the id is taken.
      const replay = await this.replay(facts.messageId, inputHash, inputJson);
      if (replay) return { sbd: replay, created: false };
      throw Errors.messageExists(`Message with messageId = ${facts.messageId} already exists`);
    }
    // The folder for its files, made once here; an upload makes it only when it is missing.
    await this.files.prepare(facts.messageId);
    return { sbd: out, created: true };
  }

  /** A re-post of the same SBD is a safe retry; the same messageId with other content is refused. */
  private async replay(
    messageId: string,
    inputHash: string,
    inputJson: string,
  ): Promise<Record<string, unknown> | null> {
    const [existing, convId] = await Promise.all([
      this.store.getMessage(messageId),
      this.store.conversationIdOfMessage(messageId),
    ]);
    if (existing) {
      const stored = await this.store.getSbdJson(messageId);
      if (existing.inputHash === inputHash || stored === inputJson) {
        return JSON.parse(stored ?? '{}') as Record<string, unknown>;
      }
      throw Errors.messageExists(
        `Message with messageId = ${messageId} already exists with different content; use a new messageId for a new message`,
      );
    }
    if (convId !== null) {
      throw Errors.messageExists(`Message with messageId = ${messageId} already exists`);
    }
    return null;
  }

  /** The receiver must accept the process over DPV; a taushetsbelagt message must land in the confidential resource. */
  private async resolveReceiver(facts: SbdFacts, business?: ArkivmeldingMessage): Promise<ServiceRecord> {
    let res: IdentifierResource;
    try {
      res = await this.addressService.lookup({
        identifier: facts.receiver.orgnr,
        process: facts.processIdentifier,
        ...(business?.sikkerhetsnivaa !== undefined ? { securityLevel: business.sikkerhetsnivaa } : {}),
        conversationId: facts.conversationId,
      });
    } catch (e) {
      if (e instanceof ServiceRecordNotFound) {
        throw Errors.receiverDoesNotAccept(
          `Receiver does not accept the document process ${facts.processIdentifier}`,
          {
            description: e.description,
          },
        );
      }
      throw e;
    }
    const record = pickServiceRecord(res, facts.documentStandard);
    if (!record) {
      throw Errors.receiverDoesNotAccept(
        `Receiver does not accept the document process ${facts.processIdentifier}`,
        {
          description: `The address service has no service record for receiver ${facts.receiver.orgnr} with document type ${facts.documentStandard}`,
        },
      );
    }
    const service = record.service.identifier ?? 'UNKNOWN';
    if (service !== DPV) {
      throw Errors.serviceNotSupported(
        `Receiver ${facts.receiver.orgnr} is reached over ${service} for process ${facts.processIdentifier}; this integration point delivers over DPV (Altinn Digital Post) only`,
      );
    }
    if (
      facts.processIdentifier === TAUSHETSBELAGT_PROCESS &&
      record.service.resource !== this.config.ALTINN_CONFIDENTIAL_RESOURCE
    ) {
      throw new AppError(
        400,
        'ConfidentialResourceMismatchException',
        `The address service resolved the taushetsbelagt process for receiver ${facts.receiver.orgnr} to Altinn resource '${record.service.resource ?? '(none)'}', not the confidential resource '${this.config.ALTINN_CONFIDENTIAL_RESOURCE}'. Confidential post is not sent where broader roles could read it.`,
      );
    }
    return record;
  }

  async requireMessage(messageId: string): Promise<OutgoingMessage> {
    const m = await this.store.getMessage(messageId);
    if (!m) throw Errors.messageNotFound(`Message with messageId = ${messageId} was not found`);
    return m;
  }

  async get(messageId: string): Promise<Record<string, unknown>> {
    await this.requireMessage(messageId);
    const json = await this.store.getSbdJson(messageId);
    if (!json) throw Errors.messageNotFound(`Message with messageId = ${messageId} was not found`);
    return JSON.parse(json) as Record<string, unknown>;
  }

  /** The SBDs of many messages, read in one round trip; messages gone meanwhile are left out. */
  async sbdsOf(messageIds: string[]): Promise<Record<string, unknown>[]> {
    const jsons = await this.store.sbdJsonOf(messageIds);
    return jsons.filter((j) => j !== null).map((j) => JSON.parse(j) as Record<string, unknown>);
  }

  /** PUT /api/messages/out/{messageId}: one file, streamed to disk encrypted. */
  async upload(input: UploadInput): Promise<void> {
    if (!input.contentDisposition) {
      throw Errors.missingHeader(
        'Content-Disposition header is required, e.g. attachment; name="Title"; filename="document.pdf"',
      );
    }
    let cd: contentDisposition.ContentDisposition;
    try {
      cd = contentDisposition.parse(input.contentDisposition);
    } catch {
      throw Errors.missingHeader(
        `Content-Disposition header could not be parsed: '${input.contentDisposition}'`,
      );
    }
    const filename = cd.parameters.filename;
    if (!filename) throw Errors.missingHeader('Content-Disposition must carry a filename parameter');
    const title = input.title ?? cd.parameters.name ?? '';
    await this.addFile(
      input.messageId,
      {
        body: input.body,
        filename,
        title,
        ...(input.contentType ? { contentType: input.contentType } : {}),
      },
      input.contentLength,
    );
  }

  async addFile(messageId: string, part: FilePart, declaredLength?: number): Promise<void> {
    if (typeof part.filename !== 'string' || !part.filename) {
      throw Errors.invalidFilename(
        'Every file needs a file name: give it as filename in the Content-Disposition of its part',
      );
    }
    if (!isPlainFilename(part.filename)) {
      throw Errors.invalidFilename(
        `Filename '${part.filename}' is not allowed: use a plain file name without / \\ : or control characters`,
      );
    }
    // Both reads go out in one pipeline.
    const [msg, taken] = await Promise.all([
      this.requireMessage(messageId),
      this.store.hasFile(messageId, part.filename),
    ]);
    if (msg.state !== 'created') throw this.notOpenForFiles(messageId, msg.state);
    if (!part.title.trim()) {
      throw Errors.missingTitle(
        'Title is required for the following capabilities: DPV. Give ?title= or a name in Content-Disposition',
      );
    }
    if (taken) {
      throw Errors.duplicateFilename(`Filename already exists in message: ${part.filename}.`);
    }
    const limit = this.config.MAX_MESSAGE_SIZE;
    const tooLarge = (total: number) =>
      Errors.maxSize(
        `The combined file size for all attachments (${formatSize(total)}) exceeds the maximum allowed upload size for the target service (DPV, ${formatSize(limit)})`,
      );
    if (declaredLength !== undefined && msg.totalBytes + declaredLength > limit) {
      throw tooLarge(msg.totalBytes + declaredLength);
    }
    const isArkivmelding = part.filename === ARKIVMELDING_FILENAME;
    const remaining = limit - msg.totalBytes;
    const maxBytes = Math.min(remaining, part.perFileLimit ?? remaining);
    let written: Awaited<ReturnType<FileStore['write']>>;
    try {
      written = await this.files.write(messageId, part.body, {
        maxBytes,
        keepPlaintext: isArkivmelding,
        plaintextLimit: this.config.ARKIVMELDING_MAX_SIZE,
      });
    } catch (e) {
      if (e instanceof UploadAbortedError) {
        // Nobody is left to read the answer; it keeps the log honest (a client problem, not a 500).
        const error = new AppError(
          400,
          'UploadAbortedException',
          `The upload of ${part.filename} ended before the whole body arrived`,
        );
        error.cause = e;
        throw error;
      }
      if (e instanceof SizeLimitError) {
        if (isArkivmelding && e.limit === this.config.ARKIVMELDING_MAX_SIZE) {
          throw new AppError(
            400,
            'ArkivmeldingTooLargeException',
            `arkivmelding.xml is larger than the limit of ${formatSize(e.limit)}`,
          );
        }
        if (part.perFileLimit !== undefined && e.limit === part.perFileLimit) {
          throw Errors.multipartFileTooLarge(
            `File ${part.filename} exceeds the multipart limit of ${formatSize(part.perFileLimit)}; upload large files with PUT /api/messages/out/{messageId}`,
          );
        }
        throw tooLarge(msg.totalBytes + e.seen);
      }
      throw e;
    }
    let arkivmelding: Parameters<Store['addFile']>[4];
    try {
      if (isArkivmelding) {
        const result = validateArkivmelding(written.plaintext ?? Buffer.alloc(0), {
          maxBytes: this.config.ARKIVMELDING_MAX_SIZE,
          maxDepth: this.config.ARKIVMELDING_MAX_DEPTH,
          confidential: msg.processIdentifier === TAUSHETSBELAGT_PROCESS,
          recipientRule: this.config.CONFIDENTIAL_RECIPIENT_RULE,
          onInternalError: (err) => this.log?.error({ err }, 'arkivmelding validator failed internally'),
        });
        if (!result.ok) {
          throw new AppError(400, result.code, result.message, { errors: result.problems });
        }
        arkivmelding = {
          summarySealedJson: JSON.stringify(result.summary),
          title: result.summary.publicTitle ?? '',
          reference: result.summary.messageReference ?? msg.conversationId,
          warnings: result.warnings,
        };
      }
      const mimeType =
        part.contentType && !/^application\/octet-stream\b/i.test(part.contentType) && part.contentType.trim()
          ? part.contentType
          : (await mimeTypeOf(part.filename)) || 'application/pdf';
      const res = await this.store.addFile(
        messageId,
        {
          fileId: written.fileId,
          filename: part.filename,
          title: part.title,
          mimeType,
          size: written.size,
        },
        limit,
        this.clock(),
        arkivmelding,
      );
      if (!res.ok) {
        switch (res.reason) {
          case 'gone':
            throw Errors.messageNotFound(`Message with messageId = ${messageId} was not found`);
          case 'sent':
            throw this.notOpenForFiles(
              messageId,
              (await this.store.getMessage(messageId))?.state ?? 'queued',
            );
          case 'duplicate':
            throw Errors.duplicateFilename(`Filename already exists in message: ${part.filename}.`);
          case 'too-large':
            throw tooLarge(msg.totalBytes + written.size);
          case 'second-primary':
            throw Errors.multiplePrimary('Messages can only contain one primary document');
        }
      }
    } catch (e) {
      await this.files.deleteFile(messageId, written.fileId);
      throw e;
    }
  }

  /** POST /api/messages/out/{messageId}: final checks, then the job is durably queued before we answer. */
  async send(messageId: string): Promise<void> {
    // The message, its files and its arkivmelding summary in one round trip (auto-pipelined).
    const [found, files, summary] = await Promise.all([
      this.store.getMessage(messageId),
      this.store.listFiles(messageId),
      this.store.getArkivmeldingSummary<ArkivmeldingSummary>(messageId),
    ]);
    if (!found) throw Errors.messageNotFound(`Message with messageId = ${messageId} was not found`);
    const msg = found;
    if (msg.state === 'queued') return;
    const now = this.clock();
    if (msg.expiryMs <= now.getTime()) {
      await this.store.addStatus(messageId, 'LEVETID_UTLOPT', { description: TTL_EXPIRED_DESCRIPTION, now });
      throw Errors.timeToLive(
        `ExpectedResponseDateTime ${msg.expiry} has been exceeded. Please resend the message`,
      );
    }
    if (msg.type === 'arkivmelding') {
      if (!files.length) throw Errors.missingFile('There must always be at least one attachment');
      if (!files.some((f) => f.filename === ARKIVMELDING_FILENAME)) {
        throw Errors.missingArkivmelding('An arkivmelding message requires an arkivmelding.xml attachment');
      }
      if (summary) {
        const problems = checkArkivmeldingAgainstMessage(summary, {
          filenames: files.map((f) => f.filename),
          hoveddokument: await this.hoveddokumentOf(msg, files),
        });
        if (problems.length) {
          const missing = summary.referencedFiles.filter((r) => !files.some((f) => f.filename === r));
          if (missing.length) {
            throw Errors.missingArkivmeldingFile(
              `File(s) defined in arkivmelding, but not found in message: ${missing.join(',')}`,
              { errors: problems },
            );
          }
          throw Errors.invalidArkivmelding(problems.map((p) => p.message).join('; '), { errors: problems });
        }
      }
    }
    // Claiming freezes the files. A message found 'queuing' is a send that stopped between claim and
    // queue (Redis failed, the process died): this send completes it. The job id is deterministic, so
    // adding it again when it did get in is a no-op. Never back to 'created': the job may be in Redis
    // even when adding it reported a failure.
    const state = await this.store.claimSend(messageId);
    if (state === '') throw Errors.messageNotFound(`Message with messageId = ${messageId} was not found`);
    if (state === 'queued') return;
    if (msg.type === 'arkivmelding_kvittering') {
      await completeReceiptWithoutSending(this.store, messageId, this.clock());
      await this.store.setState(messageId, 'queued');
      return;
    }
    // The send job, and the expiry job that expires the message at its expectedResponseDateTime if it is not
    // delivered by then, go out together (one round trip); a failure of either leaves the state 'queuing', so the
    // client's retry of send completes it. Both are in Redis before the state says queued and before we answer.
    await Promise.all([
      this.enqueueStep(messageId, () => enqueueSend(this.queue, messageId)),
      this.enqueueStep(messageId, () => this.scheduleTtl?.(messageId, msg.expiryMs, now.getTime())),
    ]);
    await this.store.setState(messageId, 'queued');
  }

  /** One step of queuing a claimed send; a failure keeps the send in progress and says how to complete it. */
  private async enqueueStep(messageId: string, step: () => Promise<void> | undefined): Promise<void> {
    try {
      await step();
    } catch (e) {
      const error = Errors.storeUnavailable(
        `Message with messageId = ${messageId} could not be queued. The send is kept in progress: repeat POST /api/messages/out/${messageId} to complete it`,
      );
      error.cause = e;
      throw error;
    }
  }

  /** Files are accepted only before the send; a send left in progress says how to finish it. */
  private notOpenForFiles(messageId: string, state: string): AppError {
    if (state === 'queuing') {
      return Errors.sendInProgress(
        `A send of message ${messageId} is in progress or was interrupted, so files can no longer be added. Repeat POST /api/messages/out/${messageId} to complete the send`,
      );
    }
    return Errors.messageAlreadySent(
      `Message with messageId = ${messageId} has been sent; files can no longer be added`,
    );
  }

  /** The hoveddokument name: the uploaded primary file's, else (rare) read from the sealed SBD. */
  private async hoveddokumentOf(msg: OutgoingMessage, files: StoredFile[]): Promise<string | null> {
    if (!msg.hasHoveddokument) return null;
    const primary = files.find((f) => f.primary);
    if (primary) return primary.filename;
    const sbd = JSON.parse((await this.store.getSbdJson(msg.messageId)) ?? '{}') as Record<
      string,
      { hoveddokument?: string }
    >;
    return sbd[msg.type]?.hoveddokument ?? null;
  }

  /** DELETE: files and message go; conversation and statuses stay. Idempotent. */
  async delete(messageId: string): Promise<void> {
    const job = await this.queue.getJob(sendJobId(messageId));
    const jobState = job ? await job.getState() : undefined;
    if (jobState === 'active') {
      throw Errors.sendInProgress(
        `Message with messageId = ${messageId} is being handed to Altinn right now and cannot be deleted; look at its status`,
      );
    }
    // Waiting, or delayed between retries: taken off the queue, so nothing is sent after the delete.
    if (job && (jobState === 'waiting' || jobState === 'delayed' || jobState === 'prioritized'))
      await job.remove();
    const msg = await this.store.getMessage(messageId);
    await this.store.deleteMessage(messageId);
    await this.files.deleteMessage(messageId);
    if (msg && msg.state !== 'created') {
      // A send was under way: the conversation says it ended here instead of waiting for its time to live.
      await this.store.addStatus(messageId, 'ANNET', {
        description: DELETED_BEFORE_SENDING_DESCRIPTION,
        now: this.clock(),
      });
      await this.store.dropExpiry(msg.convId);
    }
  }

  /** Undo a create whose multipart request failed later: nothing half-written stays. */
  async rollback(messageId: string): Promise<void> {
    await this.store.purge(messageId);
    await this.files.deleteMessage(messageId);
  }
}
