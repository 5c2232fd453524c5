import type { Redis } from 'ioredis';
import type { ProblemItem } from '../domain/errors.js';
import type { Paging } from '../domain/page.js';
import type { Status } from '../domain/status.js';
import { formatOslo } from '../domain/time.js';
import type { Crypto } from './crypto.js';
import { STATUS_CODE, STATUS_OF_CODE, TTL_DUE_KEY } from './lua.js';
import { SCRIPTS } from './redis.js';
import { type ScriptCalls, scriptsOn } from './scripts.js';

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
const range = (ms: number | undefined, open: string) => (ms === undefined ? open : String(ms));

/** Plain conversation fields and their short names in the conversation hash (see src/store/lua.ts). */
const CONV_FIELD = {
  conversationId: 'c',
  messageId: 'm',
  senderIdentifier: 'si',
  receiverIdentifier: 'ri',
  expiry: 'e',
  serviceIdentifier: 'sv',
} as const satisfies Partial<Record<keyof ConversationRecord, string>>;

/** Identifiers are kept without the ICD prefix they almost always carry. */
const ICD = '0192:';
/** Common starts of process and document identifiers, kept as one control character and a digit. */
const URN_PREFIXES = ['urn:no:difi:profile:arkivmelding:', 'urn:no:difi:arkivmelding:xsd::', 'urn:no:difi:'];
const packUrn = (v: string) => {
  const i = URN_PREFIXES.findIndex((p) => v.startsWith(p));
  return i < 0 ? v : `\u0001${i}${v.slice(URN_PREFIXES[i]!.length)}`;
};
const unpackUrn = (v: string | undefined) =>
  v?.startsWith('\u0001') ? `${URN_PREFIXES[Number(v[1])] ?? ''}${v.slice(2)}` : (v ?? '');

/** A new conversation as the flat field list of its hash (statuses are added by the scripts). */
export function encodeConversation(
  c: Omit<ConversationRecord, 'id' | 'lastUpdate'> & { lastUpdate?: string },
): string[] {
  const out: string[] = [];
  for (const [name, short] of Object.entries(CONV_FIELD)) out.push(short, c[name as keyof typeof CONV_FIELD]);
  if (c.sender !== ICD + c.senderIdentifier) out.push('s', c.sender);
  if (c.receiver !== ICD + c.receiverIdentifier) out.push('r', c.receiver);
  out.push('p', packUrn(c.processIdentifier), 'd', packUrn(c.documentIdentifier));
  if (c.messageReference !== c.conversationId) out.push('mr', c.messageReference);
  if (c.messageTitle) out.push('mt', c.messageTitle);
  out.push('u', String(c.lastUpdateMs));
  if (c.lastUpdate && c.lastUpdate !== formatOslo(new Date(c.lastUpdateMs))) out.push('lu', c.lastUpdate);
  out.push(
    'dir',
    c.direction === 'INCOMING' ? 'I' : 'O',
    'f',
    c.finished ? '1' : '0',
    'pl',
    c.pollable ? '1' : '0',
  );
  if (c.warnings.length) out.push('w', JSON.stringify(c.warnings));
  if (c.externalSystemReference) out.push('x', c.externalSystemReference);
  if (c.notificationOutcome) out.push('no', c.notificationOutcome);
  return out;
}

function decodeConversation(id: number, h: Record<string, string>): ConversationRecord | null {
  if (h.c === undefined) return null;
  const ms = Number(h.u ?? 0);
  return {
    id,
    conversationId: h.c,
    messageId: h.m ?? '',
    sender: h.s ?? ICD + (h.si ?? ''),
    senderIdentifier: h.si ?? '',
    receiver: h.r ?? ICD + (h.ri ?? ''),
    receiverIdentifier: h.ri ?? '',
    processIdentifier: unpackUrn(h.p),
    documentIdentifier: unpackUrn(h.d),
    messageReference: h.mr ?? h.c,
    messageTitle: h.mt ?? '',
    lastUpdate: h.lu ?? formatOslo(new Date(ms)),
    lastUpdateMs: ms,
    finished: bool(h.f),
    pollable: bool(h.pl),
    expiry: h.e ?? '',
    direction: h.dir === 'I' ? 'INCOMING' : 'OUTGOING',
    serviceIdentifier: h.sv ?? '',
    ...(h.x ? { externalSystemReference: h.x } : {}),
    warnings: h.w ? (JSON.parse(h.w) as ProblemItem[]) : [],
    ...(h.no ? { notificationOutcome: h.no } : {}),
  };
}

function statusRecord(
  id: number,
  ms: number,
  status: Status,
  convId: number,
  conversationId: string,
  messageId: string,
  description: string | undefined,
  rawReceipt: string | undefined,
  text: string | undefined,
): StatusRecord {
  return {
    id,
    lastUpdate: text || formatOslo(new Date(ms)),
    ms,
    status,
    ...(description ? { description } : {}),
    ...(rawReceipt ? { rawReceipt } : {}),
    conversationId,
    messageId,
    convId,
  };
}

/** The statuses kept in a conversation hash, by id. */
function statusesOfHash(convId: number, h: Record<string, string>): StatusRecord[] {
  const out: StatusRecord[] = [];
  for (const [field, value] of Object.entries(h)) {
    if (field.length !== 2 || field[0] !== '#') continue;
    const status = STATUS_OF_CODE[field[1]!];
    if (!status) continue;
    const [sid = '0', ms = '0'] = value.split('|');
    out.push(
      statusRecord(
        Number(sid),
        Number(ms),
        status,
        convId,
        h.c ?? '',
        h.m ?? '',
        h[`${field}:d`],
        h[`${field}:r`],
        h[`${field}:t`],
      ),
    );
  }
  return out.sort((a, b) => a.id - b.id);
}

function pairs(flat: string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  return h;
}

export class Store {
  /** The store's Lua scripts (src/store/redis.ts), one round trip each. */
  readonly lua: ScriptCalls<typeof SCRIPTS>;

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    private readonly crypto: Crypto,
  ) {
    this.lua = scriptsOn(redis, SCRIPTS);
  }

  private k(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  // ---- conversations ----

  async conversationIdOfMessage(messageId: string): Promise<number | null> {
    const v = await this.redis.hget(this.k(`conv:m:${messageId.slice(-3)}`), messageId);
    return v ? Number(v) : null;
  }

  async getConversation(id: number): Promise<ConversationRecord | null> {
    return decodeConversation(id, await this.redis.hgetall(this.k(`conv:${id}`)));
  }

  /** A conversation and its statuses from one read. */
  async getConversationWithStatuses(
    id: number,
  ): Promise<{ conversation: ConversationRecord; statuses: StatusRecord[] } | null> {
    const h = await this.redis.hgetall(this.k(`conv:${id}`));
    const conversation = decodeConversation(id, h);
    return conversation ? { conversation, statuses: statusesOfHash(id, h) } : null;
  }

  async getConversationByMessageId(messageId: string): Promise<ConversationRecord | null> {
    const id = await this.conversationIdOfMessage(messageId);
    return id === null ? null : this.getConversation(id);
  }

  /** A message's conversation and its statuses (the lookup, then one read of the conversation). */
  async getConversationWithStatusesByMessageId(
    messageId: string,
  ): Promise<{ conversation: ConversationRecord; statuses: StatusRecord[] } | null> {
    const id = await this.conversationIdOfMessage(messageId);
    return id === null ? null : this.getConversationWithStatuses(id);
  }

  async statusesOfConversation(convId: number): Promise<StatusRecord[]> {
    return statusesOfHash(convId, await this.redis.hgetall(this.k(`conv:${convId}`)));
  }

  /**
   * One page from the indexes in one round trip. Indexed: no filter, messageId, conversationId,
   * receiverIdentifier, lastUpdate range, direction/finished/pollable; other filters are checked on the entries of
   * the narrowest index. `statuses` holds each listed conversation's statuses.
   */
  async listConversations(
    f: ConversationFilter,
    p: Paging,
  ): Promise<{ items: ConversationRecord[]; total: number; statuses: Map<number, StatusRecord[]> }> {
    const eq: [string, string, string?][] = [];
    let kind: 'z' | 'mid' | 'cid' = 'z';
    let value: string | undefined;
    let keys: string[] = [];
    if (f.messageId !== undefined) {
      kind = 'mid';
      value = f.messageId;
      if (f.conversationId !== undefined) eq.push(['c', f.conversationId]);
    } else if (f.conversationId !== undefined) {
      kind = 'cid';
      value = f.conversationId;
    }
    const bools: [string, string[]][] = [
      ['dir', f.direction === undefined ? ['O', 'I'] : [f.direction === 'INCOMING' ? 'I' : 'O']],
      ['f', f.finished === undefined ? ['0', '1'] : [f.finished ? '1' : '0']],
      ['pl', f.pollable === undefined ? ['0', '1'] : [f.pollable ? '1' : '0']],
    ];
    const anyBool = f.direction !== undefined || f.finished !== undefined || f.pollable !== undefined;
    const boolsAsChecks = () => {
      for (const [field, values] of bools) if (values.length === 1) eq.push([field, values[0]!, '0']);
    };
    const [[, dirs], [, fins], [, polls]] = bools as [
      [string, string[]],
      [string, string[]],
      [string, string[]],
    ];
    const facets: string[] = [];
    for (const d of dirs) for (const fin of fins) for (const pl of polls) facets.push(`${d}${fin}${pl}`);
    if (kind !== 'z') {
      if (f.receiverIdentifier !== undefined) eq.push(['ri', f.receiverIdentifier]);
      boolsAsChecks();
    } else if (f.receiverIdentifier !== undefined) {
      keys = facets.map((fc) => `conv:rcv:${f.receiverIdentifier}:${fc}`);
    } else if (anyBool) keys = facets.map((fc) => `conv:st:${fc}`);
    const residual: [keyof ConversationFilter, string, string?][] = [
      ['receiver', 'r'],
      ['sender', 's'],
      ['senderIdentifier', 'si'],
      ['serviceIdentifier', 'sv'],
      ['messageReference', 'mr'],
      ['messageTitle', 'mt'],
    ];
    for (const [name, field] of residual) {
      const v = f[name];
      if (v !== undefined) eq.push([field, String(v)]);
    }
    const q = {
      kind,
      ...(value !== undefined ? { value } : {}),
      keys,
      ...(kind === 'z' && keys.length === 0 ? { all: true } : {}),
      eq,
      min: range(f.lastUpdateFromMs, '-inf'),
      max: range(f.lastUpdateToMs, '+inf'),
      rev: (p.sort?.direction ?? 'desc') === 'desc',
      byId: p.sort?.property === 'id',
      off: p.page * p.size,
      cnt: p.size,
    };
    const reply = (await this.lua.conversationPage(this.prefix, JSON.stringify(q))) as [
      number,
      ...(string | string[])[],
    ];
    const items: ConversationRecord[] = [];
    const statuses = new Map<number, StatusRecord[]>();
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const id = Number(reply[i]);
      const h = pairs(reply[i + 1] as string[]);
      const c = decodeConversation(id, h);
      if (!c) continue;
      items.push(c);
      statuses.set(id, statusesOfHash(id, h));
    }
    return { items, total: Number(reply[0]), statuses };
  }

  // ---- statuses ----

  /** One status by its id (the `statusId` of the status:events stream). */
  async getStatus(id: number): Promise<StatusRecord | null> {
    const { items } = await this.listStatuses({ id }, { page: 0, size: 1, sort: null, sorted: false });
    return items[0] ?? null;
  }

  /**
   * Statuses by id with their conversations, in one round trip (a batch of the status:events stream); ids
   * that are gone are left out, the rest keep their order.
   */
  async getStatusesWithConversations(
    ids: number[],
  ): Promise<{ status: StatusRecord; conversation: ConversationRecord }[]> {
    if (!ids.length) return [];
    const reply = (await this.lua.statusesById(this.prefix, ...ids)) as [string, string, string[]][];
    const out: { status: StatusRecord; conversation: ConversationRecord }[] = [];
    for (const [sid, convId, flat] of reply) {
      const h = pairs(flat);
      const conversation = decodeConversation(Number(convId), h);
      const status = statusesOfHash(Number(convId), h).find((s) => s.id === Number(sid));
      if (conversation && status) out.push({ status, conversation });
    }
    return out;
  }

  /** Whether the message has the status; null when the message is unknown. */
  async hasStatus(messageId: string, status: Status): Promise<boolean | null> {
    return this.hasAnyStatus(messageId, [status]);
  }

  /** Whether the message has any of `statuses`; null when its conversation is gone. One read. */
  async hasAnyStatus(messageId: string, statuses: readonly Status[]): Promise<boolean | null> {
    const convId = await this.conversationIdOfMessage(messageId);
    if (convId === null) return null;
    const found = await this.redis.hmget(
      this.k(`conv:${convId}`),
      ...statuses.map((s) => `#${STATUS_CODE[s]}`),
    );
    return found.some((v) => v !== null);
  }

  // ---- time to live ----

  /**
   * Unfinished conversations whose expiry is at or before `nowMs`, by expiry, with their messageIds (null when the
   * conversation is gone); one round trip.
   */
  async dueForExpiry(
    nowMs: number,
    skip: number,
    limit: number,
  ): Promise<{ convId: number; messageId: string | null }[]> {
    const reply = (await this.lua.expiryDue(this.prefix, nowMs, skip, limit)) as [string, string | null][];
    return reply.map(([convId, mid]) => ({ convId: Number(convId), messageId: mid || null }));
  }

  /** Takes a conversation out of the expiry index (finished, gone or without an expiry). */
  async dropExpiry(convId: number): Promise<void> {
    await this.redis.zrem(this.k(TTL_DUE_KEY), String(convId));
  }

  /** The expiry index's score for a message's conversation (ms), or null when it is not there. */
  async expiryIndexed(messageId: string): Promise<number | null> {
    const convId = await this.conversationIdOfMessage(messageId);
    if (convId === null) return null;
    const v = await this.redis.zscore(this.k(TTL_DUE_KEY), String(convId));
    return v === null ? null : Number(v);
  }

  /**
   * Adds a status to the message's conversation once. The transition table decides whether it may follow what
   * is there, inside the same Redis script that writes it (so two writers cannot both win a conflict). Writing the
   * same status again is a no-op.
   */
  async addStatus(
    messageId: string,
    status: Status,
    opts: { description?: string; rawReceipt?: string; now?: Date; nowText?: string } = {},
  ): Promise<AddStatusResult> {
    const now = opts.now ?? new Date();
    const text = opts.nowText && opts.nowText !== formatOslo(now) ? opts.nowText : '';
    const [code, id] = (await this.lua.addStatus(
      this.prefix,
      messageId,
      status,
      opts.description ?? '',
      opts.rawReceipt ?? '',
      now.getTime(),
      text,
    )) as [number, number];
    if (code === -1) return { outcome: 'unknown' };
    if (code === -2) return { outcome: 'refused' };
    return { outcome: code === 1 ? 'new' : 'duplicate', id };
  }

  /**
   * One page of statuses in one round trip. Sorted by id with no filter or by status only, it pages straight from
   * the per-status indexes; by message or conversation it reads those conversations; a time range reads the
   * conversations updated since its start; sorted by lastUpdate without a filter, it reads every status.
   */
  async listStatuses(f: StatusFilter, p: Paging): Promise<{ items: StatusRecord[]; total: number }> {
    const useRange = f.fromMs !== undefined && f.toMs !== undefined;
    const byMs = p.sort?.property === 'lastUpdate';
    const eq: [string, string][] = [];
    let kind: 'id' | 'mid' | 'cid' | 'range' | 'index' | 'scan';
    let value: string | undefined;
    if (f.id !== undefined) {
      kind = 'id';
      value = String(f.id);
    } else if (f.messageId) {
      kind = 'mid';
      value = f.messageId;
    } else if (f.conversationId) {
      kind = 'cid';
      value = f.conversationId;
    } else if (useRange) kind = 'range';
    else kind = byMs ? 'scan' : 'index';
    if (f.messageId && kind !== 'mid') eq.push(['m', f.messageId]);
    if (f.conversationId && kind !== 'cid') eq.push(['c', f.conversationId]);
    const q = {
      kind,
      ...(value !== undefined ? { value } : {}),
      ...(f.status ? { status: f.status } : {}),
      ...(useRange
        ? { from: String(f.fromMs), to: String(f.toMs), min: String(f.fromMs), max: String(f.toMs) }
        : {}),
      eq,
      rev: p.sort?.direction === 'desc',
      byMs,
      off: p.page * p.size,
      cnt: p.size,
    };
    const reply = (await this.lua.statusPage(this.prefix, JSON.stringify(q))) as (string | number)[];
    const items: StatusRecord[] = [];
    for (let i = 1; i + 8 < reply.length; i += 9) {
      const r = reply.slice(i, i + 9).map(String);
      const status = STATUS_OF_CODE[r[3]!];
      if (!status) continue;
      items.push(
        statusRecord(Number(r[0]), Number(r[1]), status, Number(r[2]), r[4]!, r[5]!, r[6], r[7], r[8]),
      );
    }
    return { items, total: Number(reply[0]) };
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
    const convFields = encodeConversation({
      ...conv,
      finished: false,
      pollable: false,
      warnings: [],
      lastUpdateMs: now.getTime(),
    });
    const msgFields: string[] = [];
    const plain = {
      ...msg,
      confidential: msg.confidential ? '1' : '0',
      state: 'created',
      totalBytes: '0',
      fileSeq: '0',
      ...(hoveddokument ? { hovedHmac: this.crypto.hmac(hoveddokument) } : {}),
    };
    for (const [key, v] of Object.entries(plain)) msgFields.push(key, String(v));
    const id = Number(
      await this.lua.createOutgoing(
        this.prefix,
        msg.messageId,
        JSON.stringify(convFields),
        JSON.stringify(msgFields),
        this.crypto.seal(sbdJson),
        now.getTime(),
        conv.receiverIdentifier,
        conv.conversationId,
        msg.expiryMs > 0 ? msg.expiryMs : '',
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
    const sealed = await this.redis.get(this.k(`out:${messageId}:sbd`));
    return sealed ? this.crypto.open(sealed) : null;
  }

  /** The stored SBD JSON of many messages in one round trip (null where a message is gone). */
  async sbdJsonOf(messageIds: string[]): Promise<(string | null)[]> {
    if (!messageIds.length) return [];
    const sealed = await this.redis.mget(messageIds.map((id) => this.k(`out:${id}:sbd`)));
    return sealed.map((v) => (v ? this.crypto.open(v) : null));
  }

  async getArkivmeldingSummary<T>(messageId: string): Promise<T | null> {
    const sealed = await this.redis.get(this.k(`out:${messageId}:ark`));
    return sealed ? (JSON.parse(this.crypto.open(sealed)) as T) : null;
  }

  /**
   * One page of outgoing messages in one round trip, from `out:index` (or `out:rcv:{receiverIdentifier}`) in
   * creation order; other filters and the sorts are applied to the entries of that index.
   */
  async listMessages(f: MessageFilter, p: Paging): Promise<{ items: OutgoingMessage[]; total: number }> {
    const eq: [string, string][] = [];
    for (const key of [
      'conversationId',
      'processIdentifier',
      'senderIdentifier',
      'serviceIdentifier',
    ] as const) {
      const v = f[key];
      if (v !== undefined) eq.push([key, v]);
    }
    if (f.messageId !== undefined && f.receiverIdentifier !== undefined) {
      eq.push(['receiverIdentifier', f.receiverIdentifier]);
    }
    const sortField = p.sort
      ? p.sort.property === 'lastUpdated'
        ? 'lastUpdatedMs'
        : p.sort.property
      : undefined;
    const q = {
      ...(f.messageId !== undefined ? { mid: f.messageId } : {}),
      ...(f.messageId === undefined && f.receiverIdentifier !== undefined
        ? { receiver: f.receiverIdentifier }
        : {}),
      ...(sortField ? { sort: sortField } : {}),
      eq,
      rev: p.sort?.direction === 'desc',
      off: p.page * p.size,
      cnt: p.size,
    };
    const reply = (await this.lua.messagePage(this.prefix, JSON.stringify(q), ...Store.META_FIELDS)) as [
      number,
      ...(string | (string | null)[])[],
    ];
    const items: OutgoingMessage[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const vals = reply[i + 1] as (string | null)[];
      const h: Record<string, string> = {};
      Store.META_FIELDS.forEach((field, j) => {
        const v = vals[j];
        if (v != null) h[field] = v;
      });
      const m = this.toMessage(h);
      if (m) items.push(m);
    }
    return { items, total: Number(reply[0]) };
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
      await this.lua.addFile(
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
    return (await this.lua.claimSend(this.prefix, messageId)) as MessageState | '';
  }

  async setState(messageId: string, state: MessageState): Promise<void> {
    await this.redis.hset(this.k(`out:${messageId}`), 'state', state);
  }

  /**
   * Digital Post facts on a message's conversation: the correspondence id (externalSystemReference) and whether
   * it is polled. Becoming pollable is refused once the conversation is finished; a change of pollable moves the
   * conversation between the list indexes in the same script. Returns the conversation id, or null when unknown.
   */
  async setDelivery(
    messageId: string,
    d: { externalSystemReference?: string; pollable?: boolean },
  ): Promise<number | null> {
    const id = Number(
      await this.lua.setDelivery(
        this.prefix,
        messageId,
        d.externalSystemReference ?? '',
        d.pollable === undefined ? '' : d.pollable ? '1' : '0',
      ),
    );
    return id > 0 ? id : null;
  }

  /** Adds warnings to a conversation, once per code; returns how many were new. */
  async addWarnings(convId: number, warnings: ProblemItem[]): Promise<number> {
    if (!warnings.length) return 0;
    return Number(await this.lua.addWarnings(this.prefix, convId, JSON.stringify(warnings)));
  }

  /** Sets the conversation's notificationOutcome (Digital Post); nothing when the conversation is gone. */
  async setNotificationOutcome(convId: number, text: string): Promise<void> {
    await this.lua.setConversationField(this.prefix, convId, 'no', text);
  }

  async deleteMessage(messageId: string): Promise<void> {
    await this.lua.deleteMessage(this.prefix, messageId);
  }

  /** Removes message, conversation and statuses: the rollback of a multipart request that failed halfway. */
  async purge(messageId: string): Promise<void> {
    const convId = await this.conversationIdOfMessage(messageId);
    await this.deleteMessage(messageId);
    if (convId !== null) await this.lua.purgeConversation(this.prefix, convId, messageId);
  }

  async ping(): Promise<boolean> {
    return (await this.redis.ping()) === 'PONG';
  }
}
