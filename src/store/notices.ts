import type { Redis } from 'ioredis';
import { UNREAD_WATCH_ENDS } from '../domain/status.js';
import { STATUS_CODE } from './lua.js';
import { type ScriptCalls, scriptsOn } from './scripts.js';

/** What the watchdog keeps per confidential message that is LEVERT and not yet LEST. */
export interface UnreadRecord {
  messageId: string;
  conversationId: string;
  receiverIdentifier: string;
  serviceIdentifier: string;
  levertTs: string;
  levertMs: number;
  /** How many of the configured ages have raised their notice. */
  noticesSent: number;
  lastNoticeTs?: string;
}

/** A raised unread notice; kept a while so retried webhook deliveries can build the body again. */
export interface UnreadNotice {
  noticeId: string;
  messageId: string;
  conversationId: string;
  receiverIdentifier: string;
  serviceIdentifier: string;
  levertTs: string;
  createdTs: string;
  createdMs: number;
  waitedSeconds: number;
  threshold: string;
}

const NOTICE_TTL_SECONDS = 30 * 24 * 3600;

const LUA = {
  /** Starts watching a message unless its watch has ended already (LEST, ANNET, FEIL … in its conversation hash) or it is watched. */
  trackUnread: `
for _, code in ipairs({${UNREAD_WATCH_ENDS.map((st) => `'#${STATUS_CODE[st]}'`).join(', ')}}) do
  if redis.call('HEXISTS', KEYS[1], code) == 1 then return 0 end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'messageId', ARGV[1], 'conversationId', ARGV[2], 'receiverIdentifier', ARGV[3],
  'serviceIdentifier', ARGV[4], 'levertTs', ARGV[5], 'levertMs', ARGV[6], 'n', 0)
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
return 1
`,
  /** Moves the sent-notice count from ARGV[1] to ARGV[2] only if nobody else did (a concurrent tick). */
  advance: `
local n = redis.call('HGET', KEYS[1], 'n')
if n ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'n', ARGV[2], 'lastNoticeTs', ARGV[3])
if ARGV[4] == '' then redis.call('ZREM', KEYS[2], ARGV[5]) else redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5]) end
return 1
`,
  /** Writes a notice once; a repeated call keeps the first one's times. */
  createNotice: `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2))
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
`,
} as const;

/**
 * Watchdog and digest state: `unread:levert` (by LEVERT time, for the report), `unread:due` (by next due
 * notice), `unread:m:{messageId}`, `notice:{id}` and `digest:pending` (item ids by time). Ids and routing
 * facts only: nothing here is confidential.
 */
export class NoticeStore {
  private readonly r: Redis;
  private readonly lua: ScriptCalls<typeof LUA>;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.lua = scriptsOn(redis, LUA, (name) => (name === 'createNotice' ? 1 : name === 'advance' ? 2 : 4));
    this.r = redis;
  }

  private k(s: string): string {
    return `${this.prefix}${s}`;
  }

  async trackUnread(
    convId: number,
    rec: Omit<UnreadRecord, 'noticesSent' | 'lastNoticeTs'>,
    firstDueMs: number,
  ): Promise<boolean> {
    const res = await this.lua.trackUnread(
      this.k(`conv:${convId}`),
      this.k(`unread:m:${rec.messageId}`),
      this.k('unread:levert'),
      this.k('unread:due'),
      rec.messageId,
      rec.conversationId,
      rec.receiverIdentifier,
      rec.serviceIdentifier,
      rec.levertTs,
      rec.levertMs,
      firstDueMs,
    );
    return res === 1;
  }

  async stopUnread(messageId: string): Promise<void> {
    await this.r
      .multi()
      .zrem(this.k('unread:levert'), messageId)
      .zrem(this.k('unread:due'), messageId)
      .del(this.k(`unread:m:${messageId}`))
      .exec();
  }

  private toUnread(h: Record<string, string>): UnreadRecord | null {
    if (!h.messageId) return null;
    return {
      messageId: h.messageId,
      conversationId: h.conversationId ?? '',
      receiverIdentifier: h.receiverIdentifier ?? '',
      serviceIdentifier: h.serviceIdentifier ?? 'DPV',
      levertTs: h.levertTs ?? '',
      levertMs: Number(h.levertMs ?? 0),
      noticesSent: Number(h.n ?? 0),
      ...(h.lastNoticeTs ? { lastNoticeTs: h.lastNoticeTs } : {}),
    };
  }

  private async loadUnread(ids: string[]): Promise<UnreadRecord[]> {
    if (!ids.length) return [];
    const pipe = this.r.pipeline();
    for (const id of ids) pipe.hgetall(this.k(`unread:m:${id}`));
    const res = (await pipe.exec()) ?? [];
    return res.map(([, h]) => this.toUnread(h as Record<string, string>)).filter((u) => u !== null);
  }

  /** Messages with a notice due at or before `nowMs`, oldest due first. */
  async dueUnread(nowMs: number, limit: number): Promise<UnreadRecord[]> {
    return this.loadUnread(
      await this.r.zrangebyscore(this.k('unread:due'), '-inf', nowMs, 'LIMIT', 0, limit),
    );
  }

  /** Watched messages delivered at or before `untilMs`, oldest first. */
  async unreadSince(untilMs: number): Promise<UnreadRecord[]> {
    return this.loadUnread(await this.r.zrangebyscore(this.k('unread:levert'), '-inf', untilMs));
  }

  async advance(
    messageId: string,
    from: number,
    to: number,
    lastNoticeTs: string,
    nextDueMs: number | null,
  ): Promise<boolean> {
    const res = await this.lua.advance(
      this.k(`unread:m:${messageId}`),
      this.k('unread:due'),
      String(from),
      String(to),
      lastNoticeTs,
      nextDueMs === null ? '' : nextDueMs,
      messageId,
    );
    return res === 1;
  }

  async createNotice(n: UnreadNotice): Promise<UnreadNotice> {
    const flat = Object.entries(n).flatMap(([key, v]) => [key, String(v)]);
    const res = (await this.lua.createNotice(
      this.k(`notice:${n.noticeId}`),
      NOTICE_TTL_SECONDS,
      ...flat,
    )) as string[];
    const h: Record<string, string> = {};
    for (let i = 0; i < res.length; i += 2) h[res[i]!] = res[i + 1]!;
    return this.toNotice(h)!;
  }

  private toNotice(h: Record<string, string>): UnreadNotice | null {
    if (!h.noticeId) return null;
    return {
      noticeId: h.noticeId,
      messageId: h.messageId ?? '',
      conversationId: h.conversationId ?? '',
      receiverIdentifier: h.receiverIdentifier ?? '',
      serviceIdentifier: h.serviceIdentifier ?? 'DPV',
      levertTs: h.levertTs ?? '',
      createdTs: h.createdTs ?? '',
      createdMs: Number(h.createdMs ?? 0),
      waitedSeconds: Number(h.waitedSeconds ?? 0),
      threshold: h.threshold ?? '',
    };
  }

  async getNotice(noticeId: string): Promise<UnreadNotice | null> {
    return this.toNotice(await this.r.hgetall(this.k(`notice:${noticeId}`)));
  }

  // ---- digest ----

  /** Items are `s{statusId}` or `n{noticeId}`; adding one twice keeps it once. */
  async addDigestItem(item: string, atMs: number): Promise<void> {
    await this.r.zadd(this.k('digest:pending'), 'NX', atMs, item);
  }

  async pendingDigest(limit: number): Promise<string[]> {
    return this.r.zrange(this.k('digest:pending'), 0, limit - 1);
  }

  async removeDigestItems(items: string[]): Promise<void> {
    if (items.length) await this.r.zrem(this.k('digest:pending'), ...items);
  }
}
