import type { Redis } from 'ioredis';
import type { ProblemItem } from '../domain/errors.js';
import { type Paging, sortAndSlice } from '../domain/page.js';
import { conversationEffects, type Status, transition } from '../domain/status.js';
import { formatOslo } from '../domain/time.js';
import type { Crypto } from './crypto.js';
import { SCRIPTS } from './redis.js';

type ScriptedRedis = Redis & {
  [K in keyof typeof SCRIPTS]: (...args: (string | number)[]) => Promise<unknown>;
};

export interface ConversationRecord {
  id: number;
  conversationId: string;
  messageId: string;
  sender: string;
  senderIdentifier: string;
  receiver: string;
  receiverIdentifier: string;
  processIdentifier: string;
  documentIdentifier: string;
  messageReference: string;
  messageTitle: string;
  lastUpdate: string;
  lastUpdateMs: number;
  finished: boolean;
  pollable: boolean;
  expiry: string;
  direction: 'OUTGOING' | 'INCOMING';
  serviceIdentifier: string;
  externalSystemReference?: string;
  warnings: ProblemItem[];
  /** Digital Post: whether Altinn's notification reached anyone (plain Norwegian), once known. */
  notificationOutcome?: string;
}

export interface StatusRecord {
  id: number;
  lastUpdate: string;
  ms: number;
  status: Status;
  description?: string;
  rawReceipt?: string;
  conversationId: string;
  messageId: string;
  convId: number;
}

export type MessageState = 'created' | 'queuing' | 'queued';

/** Outgoing message: plain routing facts; the SBD itself is sealed. */
export interface OutgoingMessage {
  messageId: string;
  conversationId: string;
  convId: number;
  processIdentifier: string;
  receiverIdentifier: string;
  senderIdentifier: string;
  serviceIdentifier: string;
  documentType: string;
  type: string;
  resource: string;
  confidential: boolean;
  expiry: string;
  expiryMs: number;
  lastUpdated: string;
  lastUpdatedMs: number;
  state: MessageState;
  totalBytes: number;
  inputHash: string;
  /** Whether the SBD names a hoveddokument (its name stays sealed in the SBD). */
  hasHoveddokument: boolean;
}

export interface StoredFile {
  fileId: string;
  filename: string;
  title: string;
  mimeType: string;
  size: number;
  primary: boolean;
  dokumentnummer: number;
}

export interface MessageFilter {
  conversationId?: string;
  messageId?: string;
  processIdentifier?: string;
  receiverIdentifier?: string;
  senderIdentifier?: string;
  serviceIdentifier?: string;
}

export interface ConversationFilter {
  conversationId?: string;
  messageId?: string;
  receiver?: string;
  receiverIdentifier?: string;
  sender?: string;
  senderIdentifier?: string;
  serviceIdentifier?: string;
  messageReference?: string;
  messageTitle?: string;
  pollable?: boolean;
  finished?: boolean;
  direction?: 'OUTGOING' | 'INCOMING';
  lastUpdateFromMs?: number;
  lastUpdateToMs?: number;
}

export interface StatusFilter {
  id?: number;
  messageId?: string;
  conversationId?: string;
  status?: Status;
  fromMs?: number;
  toMs?: number;
}

export type AddStatusResult =
  | { outcome: 'new' | 'duplicate'; id: number }
  | { outcome: 'refused' | 'unknown' };

const bool = (v: string | undefined) => v === '1' || v === 'true';

export class Store {
  readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    readonly prefix: string,
    private readonly crypto: Crypto,
  ) {
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 0, lua });
    this.redis = redis as ScriptedRedis;
  }

  private k(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  // ---- conversations ----

  private toConversation(h: Record<string, string>): ConversationRecord | null {
    if (!h.id) return null;
    return {
      id: Number(h.id),
      conversationId: h.conversationId ?? '',
      messageId: h.messageId ?? '',
      sender: h.sender ?? '',
      senderIdentifier: h.senderIdentifier ?? '',
      receiver: h.receiver ?? '',
      receiverIdentifier: h.receiverIdentifier ?? '',
      processIdentifier: h.processIdentifier ?? '',
      documentIdentifier: h.documentIdentifier ?? '',
      messageReference: h.messageReference ?? '',
      messageTitle: h.messageTitle ?? '',
      lastUpdate: h.lastUpdate ?? '',
      lastUpdateMs: Number(h.lastUpdateMs ?? 0),
      finished: bool(h.finished),
      pollable: bool(h.pollable),
      expiry: h.expiry ?? '',
      direction: h.direction === 'INCOMING' ? 'INCOMING' : 'OUTGOING',
      serviceIdentifier: h.serviceIdentifier ?? '',
      ...(h.externalSystemReference ? { externalSystemReference: h.externalSystemReference } : {}),
      warnings: h.warnings ? (JSON.parse(h.warnings) as ProblemItem[]) : [],
      ...(h.notificationOutcome ? { notificationOutcome: h.notificationOutcome } : {}),
    };
  }

  async conversationIdOfMessage(messageId: string): Promise<number | null> {
    const v = await this.redis.get(this.k(`conv:mid:${messageId}`));
    return v ? Number(v) : null;
  }

  async getConversation(id: number): Promise<ConversationRecord | null> {
    return this.toConversation(await this.redis.hgetall(this.k(`conv:${id}`)));
  }

  async getConversationByMessageId(messageId: string): Promise<ConversationRecord | null> {
    const id = await this.conversationIdOfMessage(messageId);
    return id === null ? null : this.getConversation(id);
  }

  async statusesOfConversation(convId: number): Promise<StatusRecord[]> {
    const ids = await this.redis.hvals(this.k(`conv:${convId}:status`));
    return (await this.loadStatuses(ids.map(Number))).sort((a, b) => a.id - b.id);
  }

  /** Reads many hashes in one round trip and maps the ones that exist. */
  private async loadHashes<T>(keys: string[], map: (h: Record<string, string>) => T | null): Promise<T[]> {
    if (!keys.length) return [];
    const pipe = this.redis.pipeline();
    for (const key of keys) pipe.hgetall(this.k(key));
    const res = (await pipe.exec()) ?? [];
    return res.map(([, h]) => map(h as Record<string, string>)).filter((x): x is T => x !== null);
  }

  private loadConversations(ids: number[]): Promise<ConversationRecord[]> {
    return this.loadHashes(
      ids.map((id) => `conv:${id}`),
      (h) => this.toConversation(h),
    );
  }

  async listConversations(
    f: ConversationFilter,
    p: Paging,
  ): Promise<{ items: ConversationRecord[]; total: number }> {
    let ids: number[];
    if (f.messageId) {
      const id = await this.conversationIdOfMessage(f.messageId);
      ids = id === null ? [] : [id];
    } else if (f.conversationId) {
      ids = (await this.redis.smembers(this.k(`conv:cid:${f.conversationId}`))).map(Number);
    } else {
      ids = (await this.redis.zrevrange(this.k('conv:index'), 0, -1)).map(Number);
    }
    const all = await this.loadConversations(ids);
    const match = all.filter(
      (c) =>
        (f.conversationId === undefined || c.conversationId === f.conversationId) &&
        (f.messageId === undefined || c.messageId === f.messageId) &&
        (f.receiver === undefined || c.receiver === f.receiver) &&
        (f.receiverIdentifier === undefined || c.receiverIdentifier === f.receiverIdentifier) &&
        (f.sender === undefined || c.sender === f.sender) &&
        (f.senderIdentifier === undefined || c.senderIdentifier === f.senderIdentifier) &&
        (f.serviceIdentifier === undefined || c.serviceIdentifier === f.serviceIdentifier) &&
        (f.messageReference === undefined || c.messageReference === f.messageReference) &&
        (f.messageTitle === undefined || c.messageTitle === f.messageTitle) &&
        (f.pollable === undefined || c.pollable === f.pollable) &&
        (f.finished === undefined || c.finished === f.finished) &&
        (f.direction === undefined || c.direction === f.direction) &&
        (f.lastUpdateFromMs === undefined || c.lastUpdateMs >= f.lastUpdateFromMs) &&
        (f.lastUpdateToMs === undefined || c.lastUpdateMs <= f.lastUpdateToMs),
    );
    const items = sortAndSlice(match, p, (c, prop) =>
      prop === 'lastUpdate'
        ? c.lastUpdateMs
        : prop === 'id'
          ? c.id
          : String(c[prop as keyof ConversationRecord] ?? ''),
    );
    return { items, total: match.length };
  }

  // ---- statuses ----

  private toStatus(h: Record<string, string>): StatusRecord | null {
    if (!h.id) return null;
    return {
      id: Number(h.id),
      lastUpdate: h.lastUpdate ?? '',
      ms: Number(h.ms ?? 0),
      status: h.status as Status,
      ...(h.description ? { description: h.description } : {}),
      ...(h.rawReceipt ? { rawReceipt: h.rawReceipt } : {}),
      conversationId: h.conversationId ?? '',
      messageId: h.messageId ?? '',
      convId: Number(h.convId ?? 0),
    };
  }

  private loadStatuses(ids: number[]): Promise<StatusRecord[]> {
    return this.loadHashes(
      ids.map((id) => `status:${id}`),
      (h) => this.toStatus(h),
    );
  }

  /**
   * Adds a status to the message's conversation once; the transition table decides whether it may follow
   * what is there. Writing the same status again is a no-op.
   */
  async addStatus(
    messageId: string,
    status: Status,
    opts: { description?: string; rawReceipt?: string; now?: Date; nowText?: string } = {},
  ): Promise<AddStatusResult> {
    const convId = await this.conversationIdOfMessage(messageId);
    if (convId === null) return { outcome: 'unknown' };
    const current = new Set((await this.redis.hkeys(this.k(`conv:${convId}:status`))) as Status[]);
    const verdict = transition(current, status);
    if (verdict === 'refused') return { outcome: 'refused' };
    const now = opts.now ?? new Date();
    const fx = conversationEffects(status);
    const [isNew, id] = (await this.redis.addStatus(
      this.prefix,
      convId,
      status,
      opts.description ?? '',
      opts.rawReceipt ?? '',
      opts.nowText ?? formatOslo(now),
      now.getTime(),
      fx.finished ? '1' : '0',
      fx.pollable === false ? '1' : '0',
    )) as [number, number];
    if (isNew === -1) return { outcome: 'unknown' };
    return { outcome: isNew === 1 ? 'new' : 'duplicate', id };
  }

  async listStatuses(f: StatusFilter, p: Paging): Promise<{ items: StatusRecord[]; total: number }> {
    const noFilter =
      f.id === undefined &&
      !f.messageId &&
      !f.conversationId &&
      !f.status &&
      (f.fromMs === undefined || f.toMs === undefined);
    if (noFilter && (!p.sort || p.sort.property === 'id')) {
      // The common case pages straight from the index.
      const key = this.k('status:index');
      const total = await this.redis.zcard(key);
      const start = p.page * p.size;
      const desc = p.sort?.direction === 'desc';
      const ids = desc
        ? await this.redis.zrevrange(key, start, start + p.size - 1)
        : await this.redis.zrange(key, start, start + p.size - 1);
      return { items: await this.loadStatuses(ids.map(Number)), total };
    }
    let ids: number[];
    if (f.id !== undefined) ids = [f.id];
    else if (f.messageId) {
      const convId = await this.conversationIdOfMessage(f.messageId);
      ids = convId === null ? [] : (await this.redis.hvals(this.k(`conv:${convId}:status`))).map(Number);
    } else if (f.conversationId) {
      const convIds = await this.redis.smembers(this.k(`conv:cid:${f.conversationId}`));
      const pipe = this.redis.pipeline();
      for (const c of convIds) pipe.hvals(this.k(`conv:${c}:status`));
      ids = ((await pipe.exec()) ?? []).flatMap(([, v]) => (v as string[]).map(Number));
    } else if (f.status) ids = (await this.redis.zrange(this.k(`status:by:${f.status}`), 0, -1)).map(Number);
    else ids = (await this.redis.zrange(this.k('status:index'), 0, -1)).map(Number);
    const all = await this.loadStatuses(ids);
    const useRange = f.fromMs !== undefined && f.toMs !== undefined;
    const match = all.filter(
      (s) =>
        (f.id === undefined || s.id === f.id) &&
        (!f.messageId || s.messageId === f.messageId) &&
        (!f.conversationId || s.conversationId === f.conversationId) &&
        (!f.status || s.status === f.status) &&
        (!useRange || (s.ms >= f.fromMs! && s.ms <= f.toMs!)),
    );
    const items = sortAndSlice(match, p, (s, prop) =>
      prop === 'lastUpdate' ? s.ms : prop === 'id' ? s.id : String(s[prop as keyof StatusRecord] ?? ''),
    );
    return { items, total: match.length };
  }

  // ---- outgoing messages ----

  /** Creates conversation + OPPRETTET + message atomically; null when the messageId is already used. */
  async createOutgoing(
    conv: Omit<ConversationRecord, 'id' | 'finished' | 'pollable' | 'warnings' | 'lastUpdateMs'>,
    msg: Omit<OutgoingMessage, 'convId' | 'state' | 'totalBytes' | 'hasHoveddokument'>,
    sbdJson: string,
    now: Date,
    hoveddokument?: string,
  ): Promise<number | null> {
    const convFields = {
      ...conv,
      finished: '0',
      pollable: '0',
      warnings: '[]',
      lastUpdateMs: String(now.getTime()),
    };
    const msgFields = {
      ...msg,
      confidential: msg.confidential ? '1' : '0',
      state: 'created',
      totalBytes: '0',
      fileSeq: '0',
      sbd: this.crypto.seal(sbdJson),
      ...(hoveddokument ? { hovedHmac: this.crypto.hmac(hoveddokument) } : {}),
    };
    const id = Number(
      await this.redis.createOutgoing(
        this.prefix,
        msg.messageId,
        JSON.stringify(convFields),
        JSON.stringify(msgFields),
        conv.lastUpdate,
        now.getTime(),
      ),
    );
    return id > 0 ? id : null;
  }

  private toMessage(h: Record<string, string>): OutgoingMessage | null {
    if (!h.messageId) return null;
    return {
      messageId: h.messageId,
      conversationId: h.conversationId ?? '',
      convId: Number(h.convId ?? 0),
      processIdentifier: h.processIdentifier ?? '',
      receiverIdentifier: h.receiverIdentifier ?? '',
      senderIdentifier: h.senderIdentifier ?? '',
      serviceIdentifier: h.serviceIdentifier ?? '',
      documentType: h.documentType ?? '',
      type: h.type ?? '',
      resource: h.resource ?? '',
      confidential: bool(h.confidential),
      expiry: h.expiry ?? '',
      expiryMs: Number(h.expiryMs ?? 0),
      lastUpdated: h.lastUpdated ?? '',
      lastUpdatedMs: Number(h.lastUpdatedMs ?? 0),
      state: (h.state ?? 'created') as MessageState,
      totalBytes: Number(h.totalBytes ?? 0),
      inputHash: h.inputHash ?? '',
      hasHoveddokument: Boolean(h.hovedHmac),
    };
  }

  private static readonly META_FIELDS = [
    'messageId',
    'conversationId',
    'convId',
    'processIdentifier',
    'receiverIdentifier',
    'senderIdentifier',
    'serviceIdentifier',
    'documentType',
    'type',
    'resource',
    'confidential',
    'expiry',
    'expiryMs',
    'lastUpdated',
    'lastUpdatedMs',
    'state',
    'totalBytes',
    'inputHash',
    'hovedHmac',
  ] as const;

  private async hmgetMeta(mid: string): Promise<OutgoingMessage | null> {
    const vals = await this.redis.hmget(this.k(`out:${mid}`), ...Store.META_FIELDS);
    const h: Record<string, string> = {};
    Store.META_FIELDS.forEach((f, i) => {
      const v = vals[i];
      if (v != null) h[f] = v;
    });
    return this.toMessage(h);
  }

  async getMessage(messageId: string): Promise<OutgoingMessage | null> {
    return this.hmgetMeta(messageId);
  }

  /** The stored SBD JSON (opened from its sealed form). */
  async getSbdJson(messageId: string): Promise<string | null> {
    const sealed = await this.redis.hget(this.k(`out:${messageId}`), 'sbd');
    return sealed ? this.crypto.open(sealed) : null;
  }

  async getArkivmeldingSummary<T>(messageId: string): Promise<T | null> {
    const sealed = await this.redis.hget(this.k(`out:${messageId}`), 'arkivmelding');
    return sealed ? (JSON.parse(this.crypto.open(sealed)) as T) : null;
  }

  async listMessages(f: MessageFilter, p: Paging): Promise<{ items: OutgoingMessage[]; total: number }> {
    const ids = f.messageId ? [f.messageId] : await this.redis.zrange(this.k('out:index'), 0, -1);
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(this.k(`out:${id}`), ...Store.META_FIELDS);
    const res = (await pipe.exec()) ?? [];
    const all = res
      .map(([, vals]) => {
        const h: Record<string, string> = {};
        Store.META_FIELDS.forEach((field, i) => {
          const v = (vals as (string | null)[])[i];
          if (v != null) h[field] = v;
        });
        return this.toMessage(h);
      })
      .filter((m) => m !== null);
    const match = all.filter((m) =>
      (Object.keys(f) as (keyof MessageFilter)[]).every((key) => f[key] === undefined || m[key] === f[key]),
    );
    const items = sortAndSlice(match, p, (m, prop) =>
      prop === 'lastUpdated' ? m.lastUpdatedMs : String(m[prop as keyof OutgoingMessage] ?? ''),
    );
    return { items, total: match.length };
  }

  async hasFile(messageId: string, filename: string): Promise<boolean> {
    return (await this.redis.hexists(this.k(`out:${messageId}:files`), this.crypto.hmac(filename))) === 1;
  }

  /** Registers a written file; the arkivmelding summary and conversation title come along for arkivmelding.xml. */
  async addFile(
    messageId: string,
    file: Omit<StoredFile, 'dokumentnummer' | 'primary'>,
    maxTotal: number,
    now: Date,
    arkivmelding?: { summarySealedJson: string; title: string; reference: string; warnings: ProblemItem[] },
  ): Promise<
    | { ok: true; dokumentnummer: number }
    | { ok: false; reason: 'gone' | 'sent' | 'duplicate' | 'too-large' | 'second-primary' }
  > {
    const r = Number(
      await this.redis.addFile(
        this.prefix,
        messageId,
        this.crypto.hmac(file.filename),
        this.crypto.seal(JSON.stringify(file)),
        file.size,
        maxTotal,
        '0',
        formatOslo(now),
        now.getTime(),
        arkivmelding ? this.crypto.seal(arkivmelding.summarySealedJson) : '',
        arkivmelding?.title ?? '',
        arkivmelding?.reference ?? '',
        JSON.stringify(arkivmelding?.warnings ?? []),
      ),
    );
    if (r > 0) return { ok: true, dokumentnummer: r };
    const reasons = {
      [-1]: 'gone',
      [-2]: 'sent',
      [-3]: 'duplicate',
      [-4]: 'too-large',
      [-5]: 'second-primary',
    } as const;
    return { ok: false, reason: reasons[r as -1] ?? 'gone' };
  }

  async listFiles(messageId: string): Promise<StoredFile[]> {
    const vals = await this.redis.hvals(this.k(`out:${messageId}:files`));
    return vals
      .map((v) => {
        const [n = '0', primary = '0'] = v.split('|', 2);
        const entry = JSON.parse(this.crypto.open(v.slice(n.length + primary.length + 2))) as Omit<
          StoredFile,
          'dokumentnummer' | 'primary'
        >;
        return { ...entry, primary: primary === '1', dokumentnummer: Number(n) };
      })
      .sort((a, b) => a.dokumentnummer - b.dokumentnummer);
  }

  /** created → queuing; returns the state found ('' when the message is gone). */
  async claimSend(messageId: string): Promise<MessageState | ''> {
    return (await this.redis.claimSend(this.prefix, messageId)) as MessageState | '';
  }

  async setState(messageId: string, state: MessageState): Promise<void> {
    await this.redis.hset(this.k(`out:${messageId}`), 'state', state);
  }

  async deleteMessage(messageId: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.k(`out:${messageId}`), this.k(`out:${messageId}:files`))
      .zrem(this.k('out:index'), messageId)
      .exec();
  }

  /** Removes message, conversation and statuses: the rollback of a multipart request that failed halfway. */
  async purge(messageId: string): Promise<void> {
    const convId = await this.conversationIdOfMessage(messageId);
    await this.deleteMessage(messageId);
    if (convId !== null) await this.redis.purgeConversation(this.prefix, convId, messageId);
  }

  async ping(): Promise<boolean> {
    return (await this.redis.ping()) === 'PONG';
  }
}
