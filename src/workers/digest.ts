import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Transporter } from 'nodemailer';
import type { Config } from '../config.js';
import { unreadDescription } from '../domain/subscriptions.js';
import { formatOslo } from '../domain/time.js';
import { bullmq, handleErrors } from '../queues/bullmq.js';
import { Crypto } from '../store/crypto.js';
import { NoticeStore } from '../store/notices.js';
import { createRedis } from '../store/redis.js';
import { Store } from '../store/store.js';
import type { BackgroundDeps } from './webhook-delivery.js';

export const DIGEST_QUEUE = 'notice-digest';
const MAX_ITEMS = 500;

/** One line of the digest: routing facts only, never a title or any content of the letter. */
export interface DigestLine {
  messageId: string;
  conversationId: string;
  receiver: string;
  process: string;
  status: string;
  time: string;
  reason: string;
}

export function digestText(lines: DigestLine[], orgNumber: string): { subject: string; text: string } {
  const feil = lines.filter((l) => l.status !== 'ULEST').length;
  const ulest = lines.length - feil;
  const parts = [
    feil ? `${feil} feilet eller utløpt` : '',
    ulest ? `${ulest} ulest taushetsbelagt` : '',
  ].filter(Boolean);
  const subject = `eFormidling (${orgNumber}): ${parts.join(', ')}`;
  const body = [
    `Integrasjonspunktet for ${orgNumber} har avvik som trenger oppfølging.`,
    '',
    'Meldinger med status FEIL eller LEVETID_UTLOPT er ikke kommet fram og må sendes på nytt eller på annen måte.',
    'Meldinger merket ULEST er taushetsbelagte brev som er levert i Altinn, men som ingen hos mottakeren har åpnet.',
    '',
    ...lines.flatMap((l, i) => [
      `${i + 1}. Status: ${l.status}`,
      `   Tidspunkt: ${l.time}`,
      `   Message-ID: ${l.messageId}`,
      `   Conversation-ID: ${l.conversationId}`,
      `   Mottaker: ${l.receiver}`,
      `   Prosess: ${l.process}`,
      `   Årsak: ${l.reason}`,
      '',
    ]),
    'Denne e-posten sendes automatisk og inneholder ikke titler eller innhold fra meldingene.',
  ];
  return { subject, text: body.join('\n') };
}

/**
 * Collects anomalies (FEIL, LEVETID_UTLOPT, unread notices) and sends them as one e-mail per
 * NOTICE_DIGEST_INTERVAL_MS. Items leave the pending set only after the SMTP server accepted the mail,
 * so a failure keeps them for the next digest.
 */
export class DigestWorker {
  private redis: Redis | undefined;
  private conn: Redis | undefined;
  private queue: Queue | undefined;
  private worker: Worker | undefined;
  private transport: Transporter | undefined;
  private notices: NoticeStore | undefined;
  private store: Store | undefined;

  constructor(
    private readonly config: Config,
    private readonly deps: BackgroundDeps,
  ) {}

  async start(): Promise<void> {
    if (!this.config.SMTP_URL) return;
    const prefix = `${this.config.REDIS_PREFIX}:`;
    this.redis = createRedis(this.config.REDIS_URL, 'worker');
    this.conn = createRedis(this.config.REDIS_URL, 'worker');
    this.notices = new NoticeStore(this.redis, prefix);
    this.store = new Store(this.redis, prefix, new Crypto(this.config.DATA_ENCRYPTION_KEY));
    // Loaded only when a digest is configured: the mailer is a sizeable module graph an API without SMTP never needs.
    const { default: nodemailer } = await import('nodemailer');
    this.transport = nodemailer.createTransport(this.config.SMTP_URL);
    const opts = { connection: this.conn, prefix: `${prefix}bull` };
    this.queue = handleErrors(new bullmq.Queue(DIGEST_QUEUE, opts));
    await this.queue.upsertJobScheduler(
      'notice-digest',
      { every: this.config.NOTICE_DIGEST_INTERVAL_MS },
      { name: 'digest', data: {}, opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } } },
    );
    const log = this.deps.log.child({ component: 'digest' });
    this.worker = new bullmq.Worker(
      DIGEST_QUEUE,
      async (_job: Job) => {
        try {
          return await this.runOnce();
        } catch (err) {
          log.error(
            { err: { name: (err as Error).name, code: (err as { code?: string }).code } },
            'digest not sent; items kept for the next one',
          );
          throw err;
        }
      },
      { ...opts, concurrency: 1 },
    );
    this.worker.on('error', (err) =>
      log.error({ err: { name: err.name, message: err.message } }, 'digest worker error'),
    );
    await this.worker.waitUntilReady();
  }

  /** The digest lines of the pending items, in their order; items whose status or notice is gone are left out. */
  private async lines(items: string[]): Promise<DigestLine[]> {
    const store = this.store!;
    const statusIds = items.filter((i) => i.startsWith('s')).map((i) => Number(i.slice(1)));
    const statuses = new Map(
      (await store.getStatusesWithConversations(statusIds)).map((f) => [`s${f.status.id}`, f]),
    );
    const lines: DigestLine[] = [];
    for (const item of items) {
      if (item.startsWith('s')) {
        const found = statuses.get(item);
        if (!found) continue;
        const { status: s, conversation: conv } = found;
        lines.push({
          messageId: s.messageId,
          conversationId: s.conversationId,
          receiver: conv.receiverIdentifier,
          process: conv.processIdentifier,
          status: s.status,
          time: s.lastUpdate,
          reason:
            s.description ||
            (s.status === 'LEVETID_UTLOPT'
              ? 'Levetiden gikk ut før meldingen ble levert.'
              : 'Ingen årsak oppgitt.'),
        });
        continue;
      }
      const n = await this.notices!.getNotice(item.slice(1));
      if (!n) continue;
      const conv = await store.getConversationByMessageId(n.messageId);
      lines.push({
        messageId: n.messageId,
        conversationId: n.conversationId,
        receiver: n.receiverIdentifier,
        process: conv?.processIdentifier ?? '',
        status: 'ULEST',
        time: n.createdTs,
        reason: `Levert ${n.levertTs}, ikke lest etter ${n.threshold}. ${unreadDescription(n.waitedSeconds * 1000, n.receiverIdentifier, this.config.ALTINN_CONFIDENTIAL_RESOURCE)}`,
      });
    }
    return lines;
  }

  /** Sends what has collected; returns the number of lines mailed (0: nothing to say, no e-mail). */
  async runOnce(): Promise<number> {
    if (!this.transport) return 0;
    const items = await this.notices!.pendingDigest(MAX_ITEMS);
    if (!items.length) return 0;
    const lines = await this.lines(items);
    if (lines.length) {
      const { subject, text } = digestText(lines, this.config.ORG_NUMBER);
      await this.transport.sendMail({
        from: this.config.NOTICE_EMAIL_FROM!,
        to: this.config.NOTICE_EMAIL_TO!,
        subject,
        text,
        headers: { 'X-Eformidling-Digest': formatOslo(this.deps.clock?.() ?? new Date()) },
      });
    }
    await this.notices!.removeDigestItems(items);
    return lines.length;
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue?.close();
    this.transport?.close();
    await this.conn?.quit().catch(() => this.conn?.disconnect());
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }
}
