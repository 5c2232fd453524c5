import type { Redis } from 'ioredis';
import type { Paging } from '../domain/page.js';
import { formatOslo, parseDateTime } from '../domain/time.js';
import type { Crypto } from './crypto.js';
import { LUA, TTL_DUE_KEY } from './lua.js';
import { type ScriptCalls, scriptsOn } from './scripts.js';
import { encodeConversation, Store } from './store.js';

/**
 * Incoming messages waiting for the fagsystem (GET /api/messages/in, peek, pop, delete). Today they are the
 * arkivmelding_kvittering receipts the Digital Post worker writes when an outgoing message reaches LEVERT.
 *
 * Keys (under the prefix): `in:{messageId}` hash (routing facts in clear, the SBD sealed); `in:index` every
 * message by lastUpdated; `in:by:{field}:{value}` the same per filter value; `in:ready` the unlocked ones
 * (what peek takes from); `in:locks` the locked ones, scored by when the lock ends. `ttl:due` holds every
 * unfinished conversation's id scored by its expiry (the TTL sweep reads it).
 */
export { TTL_DUE_KEY };

/** The filters the reference offers on the incoming list and peek; `processIdentifier` is `?process=`. */
export const INCOMING_FILTER_FIELDS = [
  'conversationId',
  'receiverIdentifier',
  'senderIdentifier',
  'serviceIdentifier',
  'processIdentifier',
] as const;
type IndexedField = (typeof INCOMING_FILTER_FIELDS)[number];

export interface IncomingFilter extends Partial<Record<IndexedField, string>> {
  messageId?: string;
}

export interface NewIncomingMessage {
  /** The SBD as JSON text; sealed before it reaches Redis. */
  sbdJson: string;
  messageId: string;
  conversationId: string;
  processIdentifier: string;
  /** The document standard (e.g. urn:no:difi:arkivmelding:xsd::arkivmelding_kvittering) or the type. */
  documentType: string;
  senderIdentifier: string;
  receiverIdentifier: string;
  serviceIdentifier: string;
  /** expectedResponseDateTime; defaults to the SBD's. Without one the message never expires. */
  expiry?: string;
  /** When it arrived; defaults to now. */
  now?: Date;
}

export interface IncomingMessage {
  messageId: string;
  conversationId: string;
  convId: number;
  processIdentifier: string;
  documentType: string;
  /** The business message type from the SBD, e.g. arkivmelding_kvittering. */
  type: string;
  senderIdentifier: string;
  receiverIdentifier: string;
  serviceIdentifier: string;
  expiry: string;
  expiryMs: number;
  lastUpdated: string;
  lastUpdatedMs: number;
  /** Receipts carry no payload: pop answers 204 for them. */
  receipt: boolean;
}

export type LockState = 'unknown' | 'unlocked' | 'locked';

const RECEIPT_TYPES = new Set(['arkivmelding_kvittering', 'einnsyn_kvittering', 'dialogmelding_kvittering']);

/** Lua: every multi-key change of the incoming queue is one script. */
const SCRIPTS = {
  /**
   * Creates conversation (INCOMING) + OPPRETTET and, unless `keep` is 0 (expired on arrival), the message,
   * not yet peekable ('new' until INNKOMMENDE_MOTTATT is written). 0 when the messageId is taken.
   */
  inCreate: `${LUA.create}
local P, mid, nowMs, keep, expiryMs, ri, cid = ARGV[1], ARGV[2], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if convOfMessage(P, mid) or redis.call('EXISTS', P..'in:'..mid) == 1 then return 0 end
local convId = newConversation(P, mid, ARGV[3], nowMs, ri, cid, 'I')
if expiryMs ~= '' then redis.call('ZADD', P..'${TTL_DUE_KEY}', expiryMs, convId) end
if keep == '1' then
  local msg = cjson.decode(ARGV[4])
  local flat = {'convId', convId, 'state', 'new'}
  for k, v in pairs(msg) do flat[#flat+1] = k; flat[#flat+1] = tostring(v) end
  redis.call('HSET', P..'in:'..mid, unpack(flat))
  redis.call('ZADD', P..'in:index', nowMs, mid)
  for _, f in ipairs({${INCOMING_FILTER_FIELDS.map((f) => `'${f}'`).join(', ')}}) do
    redis.call('ZADD', P..'in:by:'..f..':'..tostring(msg[f]), nowMs, mid)
  end
end
return convId
`,
  /** 'new' -> peekable, once INNKOMMENDE_MOTTATT is written. 1 when it became ready now. */
  inReady: `
local P, mid = ARGV[1], ARGV[2]
local key = P..'in:'..mid
if redis.call('HGET', key, 'state') ~= 'new' then return 0 end
redis.call('HSET', key, 'state', 'ready')
redis.call('ZADD', P..'in:ready', redis.call('HGET', key, 'lastUpdatedMs'), mid)
return 1
`,
  /**
   * Returns and locks the oldest unlocked message matching the filters (ARGV[4..] = field, value pairs),
   * after putting back every message whose lock has run out. {} when none.
   */
  inPeek: `
local P, nowMs, lockUntil = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local expired = redis.call('ZRANGEBYSCORE', P..'in:locks', '-inf', nowMs)
for _, m in ipairs(expired) do
  local lu = redis.call('HGET', P..'in:'..m, 'lastUpdatedMs')
  if lu then redis.call('ZADD', P..'in:ready', lu, m) end
  redis.call('ZREM', P..'in:locks', m)
end
local fields, values = {}, {}
local mid = nil
for i = 4, #ARGV, 2 do
  if ARGV[i] == 'messageId' then mid = ARGV[i+1] else fields[#fields+1] = ARGV[i]; values[#values+1] = ARGV[i+1] end
end
local function matches(m)
  if not redis.call('ZSCORE', P..'in:ready', m) then return false end
  if #fields == 0 then return true end
  local got = redis.call('HMGET', P..'in:'..m, unpack(fields))
  for j = 1, #fields do if got[j] ~= values[j] then return false end end
  return true
end
local found = nil
if mid then
  if matches(mid) then found = mid end
elseif #fields == 0 then
  found = redis.call('ZRANGE', P..'in:ready', 0, 0)[1]
else
  -- Walk the smallest matching index oldest first; the others are checked on the hash.
  local best, size = nil, nil
  for j = 1, #fields do
    local k = P..'in:by:'..fields[j]..':'..values[j]
    local n = redis.call('ZCARD', k)
    if not size or n < size then best, size = k, n end
  end
  local start = 0
  while not found and start < size do
    local batch = redis.call('ZRANGE', best, start, start + 199)
    for _, m in ipairs(batch) do
      if matches(m) then found = m; break end
    end
    start = start + 200
  end
end
if not found then return {} end
redis.call('ZREM', P..'in:ready', found)
redis.call('ZADD', P..'in:locks', lockUntil, found)
return {found, redis.call('HGET', P..'in:'..found, 'sbd')}
`,
  /** -1 unknown, 0 not locked (or the lock ran out), else the lock's end in ms. */
  inLockState: `
local P, mid, nowMs = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', P..'in:'..mid) == 0 then return -1 end
local until_ = tonumber(redis.call('ZSCORE', P..'in:locks', mid) or '0')
if until_ > nowMs then return until_ end
return 0
`,
  /** Removes a message and its index entries. 1 when it was there. */
  inRemove: `
local P, mid = ARGV[1], ARGV[2]
local key = P..'in:'..mid
local fields = {${INCOMING_FILTER_FIELDS.map((f) => `'${f}'`).join(', ')}}
local vals = redis.call('HMGET', key, unpack(fields))
if redis.call('DEL', key) == 0 then return 0 end
for j = 1, #fields do
  if vals[j] then redis.call('ZREM', P..'in:by:'..fields[j]..':'..vals[j], mid) end
end
redis.call('ZREM', P..'in:index', mid)
redis.call('ZREM', P..'in:ready', mid)
redis.call('ZREM', P..'in:locks', mid)
return 1
`,
  /**
   * One page of the list: {total, sealed SBD...}. ARGV: P, start, count, desc ('1'/'0'), then field, value
   * pairs. One filter (or none) pages straight from its index; more walk the smallest one.
   */
  inList: `
local P, start, count, desc = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local fields, values = {}, {}
local mid = nil
for i = 5, #ARGV, 2 do
  if ARGV[i] == 'messageId' then mid = ARGV[i+1] else fields[#fields+1] = ARGV[i]; values[#values+1] = ARGV[i+1] end
end
local function sealed(ids)
  local out = {}
  for _, m in ipairs(ids) do out[#out+1] = redis.call('HGET', P..'in:'..m, 'sbd') or '' end
  return out
end
local function check(m)
  if #fields == 0 then return redis.call('EXISTS', P..'in:'..m) == 1 end
  local got = redis.call('HMGET', P..'in:'..m, unpack(fields))
  for j = 1, #fields do if got[j] ~= values[j] then return false end end
  return true
end
if mid then
  local ok = check(mid) and 1 or 0
  local page = {}
  if ok == 1 and start == 0 and count > 0 then page = {mid} end
  local out = sealed(page)
  table.insert(out, 1, ok)
  return out
end
local key = P..'in:index'
if #fields >= 1 then
  local size = nil
  for j = 1, #fields do
    local k = P..'in:by:'..fields[j]..':'..values[j]
    local n = redis.call('ZCARD', k)
    if not size or n < size then key, size = k, n end
  end
end
if #fields <= 1 then
  local total = redis.call('ZCARD', key)
  local ids
  if desc then ids = redis.call('ZREVRANGE', key, start, start + count - 1)
  else ids = redis.call('ZRANGE', key, start, start + count - 1) end
  local out = sealed(ids)
  table.insert(out, 1, total)
  return out
end
local all
if desc then all = redis.call('ZREVRANGE', key, 0, -1) else all = redis.call('ZRANGE', key, 0, -1) end
local total, page = 0, {}
for _, m in ipairs(all) do
  if check(m) then
    if total >= start and #page < count then page[#page+1] = m end
    total = total + 1
  end
end
local out = sealed(page)
table.insert(out, 1, total)
return out
`,
} as const;

const META = [
  'messageId',
  'conversationId',
  'convId',
  'processIdentifier',
  'documentType',
  'type',
  'senderIdentifier',
  'receiverIdentifier',
  'serviceIdentifier',
  'expiry',
  'expiryMs',
  'lastUpdated',
  'lastUpdatedMs',
] as const;

interface SbdView {
  standardBusinessDocumentHeader?: {
    sender?: { identifier?: { value?: string } }[];
    receiver?: { identifier?: { value?: string } }[];
    documentIdentification?: { standard?: string; type?: string };
    businessScope?: {
      scope?: { type?: string; scopeInformation?: { expectedResponseDateTime?: string }[] }[];
    };
  };
}

export class IncomingStore {
  private readonly lua: ScriptCalls<typeof SCRIPTS>;
  /** Statuses go through the one status writer. */
  private readonly statuses: Store;

  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
    private readonly crypto: Crypto,
  ) {
    this.lua = scriptsOn(redis, SCRIPTS);
    this.statuses = new Store(redis, prefix, crypto);
  }

  private k(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  /**
   * Stores an incoming message with its INCOMING conversation, OPPRETTET and INNKOMMENDE_MOTTATT, and makes it
   * peekable. Idempotent by messageId: a second call (a retried job) is 'duplicate' and changes nothing, also
   * after the fagsystem has deleted the message. One already expired is registered LEVETID_UTLOPT and not kept.
   */
  async addIncoming(input: NewIncomingMessage): Promise<{ outcome: 'new' | 'duplicate' }> {
    const now = input.now ?? new Date();
    const sbd = JSON.parse(input.sbdJson) as SbdView;
    const h = sbd.standardBusinessDocumentHeader ?? {};
    const scope = h.businessScope?.scope?.find((s) => s.type === 'ConversationId');
    const expiryText = input.expiry ?? scope?.scopeInformation?.[0]?.expectedResponseDateTime ?? '';
    const expiry = expiryText ? parseDateTime(expiryText) : null;
    if (expiryText && !expiry) throw new Error(`expiry is not an ISO-8601 date-time: ${expiryText}`);
    const type = h.documentIdentification?.type ?? input.documentType.split('::').pop() ?? '';
    const nowText = formatOslo(now);
    const expired = expiry !== null && expiry.date.getTime() <= now.getTime();
    const conv = encodeConversation({
      conversationId: input.conversationId,
      messageId: input.messageId,
      sender: h.sender?.[0]?.identifier?.value ?? `0192:${input.senderIdentifier}`,
      senderIdentifier: input.senderIdentifier,
      receiver: h.receiver?.[0]?.identifier?.value ?? `0192:${input.receiverIdentifier}`,
      receiverIdentifier: input.receiverIdentifier,
      processIdentifier: input.processIdentifier,
      documentIdentifier: h.documentIdentification?.standard ?? input.documentType,
      messageReference: input.conversationId,
      messageTitle: '',
      lastUpdate: nowText,
      lastUpdateMs: now.getTime(),
      finished: false,
      pollable: false,
      expiry: expiry?.text ?? '',
      direction: 'INCOMING',
      serviceIdentifier: input.serviceIdentifier,
      warnings: [],
    });
    const msg = {
      messageId: input.messageId,
      conversationId: input.conversationId,
      processIdentifier: input.processIdentifier,
      documentType: input.documentType,
      type,
      senderIdentifier: input.senderIdentifier,
      receiverIdentifier: input.receiverIdentifier,
      serviceIdentifier: input.serviceIdentifier,
      expiry: expiry?.text ?? '',
      expiryMs: expiry ? String(expiry.date.getTime()) : '',
      lastUpdated: nowText,
      lastUpdatedMs: String(now.getTime()),
      receipt: RECEIPT_TYPES.has(type) ? '1' : '0',
      sbd: this.crypto.seal(input.sbdJson),
    };
    const convId = Number(
      await this.lua.inCreate(
        this.prefix,
        input.messageId,
        JSON.stringify(conv),
        JSON.stringify(msg),
        now.getTime(),
        expired ? '0' : '1',
        expiry && !expired ? expiry.date.getTime() : '',
        input.receiverIdentifier,
        input.conversationId,
      ),
    );
    if (expired) {
      if (convId > 0) await this.statuses.addStatus(input.messageId, 'LEVETID_UTLOPT', { now });
      return { outcome: convId > 0 ? 'new' : 'duplicate' };
    }
    // A messageId already in use is left alone, unless it is this message half-stored by a crashed attempt.
    if (convId === 0 && (await this.redis.hget(this.k(`in:${input.messageId}`), 'state')) !== 'new') {
      return { outcome: 'duplicate' };
    }
    // Written before the message becomes peekable, so a fagsystem never deletes one that lacks it;
    // a retry after a crash in between completes both steps.
    await this.statuses.addStatus(input.messageId, 'INNKOMMENDE_MOTTATT', { now });
    await this.lua.inReady(this.prefix, input.messageId);
    return { outcome: convId > 0 ? 'new' : 'duplicate' };
  }

  private toMessage(vals: (string | null)[]): IncomingMessage | null {
    const h: Partial<Record<(typeof META)[number], string>> = {};
    META.forEach((f, i) => {
      const v = vals[i];
      if (v != null) h[f] = v;
    });
    if (!h.messageId) return null;
    return {
      messageId: h.messageId,
      conversationId: h.conversationId ?? '',
      convId: Number(h.convId ?? 0),
      processIdentifier: h.processIdentifier ?? '',
      documentType: h.documentType ?? '',
      type: h.type ?? '',
      senderIdentifier: h.senderIdentifier ?? '',
      receiverIdentifier: h.receiverIdentifier ?? '',
      serviceIdentifier: h.serviceIdentifier ?? '',
      expiry: h.expiry ?? '',
      expiryMs: Number(h.expiryMs || 0),
      lastUpdated: h.lastUpdated ?? '',
      lastUpdatedMs: Number(h.lastUpdatedMs ?? 0),
      receipt: RECEIPT_TYPES.has(h.type ?? ''),
    };
  }

  async getIncoming(messageId: string): Promise<IncomingMessage | null> {
    return this.toMessage(await this.redis.hmget(this.k(`in:${messageId}`), ...META));
  }

  /** The stored SBD JSON, opened from its sealed form. */
  async getSbdJson(messageId: string): Promise<string | null> {
    const sealed = await this.redis.hget(this.k(`in:${messageId}`), 'sbd');
    return sealed ? this.crypto.open(sealed) : null;
  }

  private filterArgs(f: IncomingFilter): string[] {
    const args: string[] = [];
    if (f.messageId !== undefined) args.push('messageId', f.messageId);
    for (const field of INCOMING_FILTER_FIELDS) {
      const v = f[field];
      if (v !== undefined) args.push(field, v);
    }
    return args;
  }

  /** One page of SBD JSON texts, oldest first unless sorted lastUpdated,desc; one round trip. */
  async list(f: IncomingFilter, p: Paging): Promise<{ items: string[]; total: number }> {
    const desc = p.sort?.property === 'lastUpdated' && p.sort.direction === 'desc';
    const res = (await this.lua.inList(
      this.prefix,
      p.page * p.size,
      p.size,
      desc ? '1' : '0',
      ...this.filterArgs(f),
    )) as [number, ...string[]];
    const [total, ...sealed] = res;
    return { items: sealed.filter(Boolean).map((s) => this.crypto.open(s)), total: Number(total) };
  }

  /** Locks and returns the oldest unlocked matching message until `now + lockMs`; null when none. */
  async peek(
    f: IncomingFilter,
    now: Date,
    lockMs: number,
  ): Promise<{ messageId: string; sbdJson: string } | null> {
    const res = (await this.lua.inPeek(
      this.prefix,
      now.getTime(),
      now.getTime() + lockMs,
      ...this.filterArgs(f),
    )) as string[];
    if (!res.length) return null;
    return { messageId: res[0]!, sbdJson: this.crypto.open(res[1]!) };
  }

  async lockState(messageId: string, now: Date): Promise<LockState> {
    const r = Number(await this.lua.inLockState(this.prefix, messageId, now.getTime()));
    return r < 0 ? 'unknown' : r === 0 ? 'unlocked' : 'locked';
  }

  /** Removes the message from the queue (its conversation and statuses stay). True when it was there. */
  async remove(messageId: string): Promise<boolean> {
    return Number(await this.lua.inRemove(this.prefix, messageId)) === 1;
  }
}
