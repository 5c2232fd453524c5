import type { Redis } from 'ioredis';
import type { ProblemItem } from '../domain/errors.js';

/**
 * What the Digital Post worker keeps per message beside the message and conversation: the correspondence id,
 * send attempts, the poll schedule (a sorted set scored by the next poll time) and the follow-ups after
 * delivery. Additive to Store: own keys under `${prefix}dpv:`, and only new fields on the conversation.
 */

const SCRIPTS = {
  /** The send went through: the conversation learns its correspondence and becomes pollable; the first poll is scheduled. */
  dpvMarkSent: `
local P, mid, convId, corr, resource, nowMs, firstPoll, reminder = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local ck = P..'conv:'..convId
if redis.call('EXISTS', ck) == 1 then
  redis.call('HSET', ck, 'externalSystemReference', corr)
  if redis.call('HGET', ck, 'finished') ~= '1' then redis.call('HSET', ck, 'pollable', '1') end
end
redis.call('HSET', P..'dpv:'..mid, 'correspondenceId', corr, 'resource', resource, 'sentMs', nowMs, 'reminder', reminder)
redis.call('ZADD', P..'dpv:poll', firstPoll, mid)
return 1
`,
  /** Takes up to N due polls and pushes each one's score ahead by a lease, so an overlapping run skips them. */
  dpvClaimDue: `
local P, nowMs, limit, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', P..'dpv:poll', '-inf', nowMs, 'LIMIT', 0, limit)
for _, mid in ipairs(due) do redis.call('ZADD', P..'dpv:poll', nowMs + lease, mid) end
return due
`,
  /** Appends warnings to the conversation, once per code. */
  dpvAddWarnings: `
local ck = ARGV[1]
if redis.call('EXISTS', ck) == 0 then return 0 end
local raw = redis.call('HGET', ck, 'warnings')
local list = (raw and raw ~= '') and cjson.decode(raw) or {}
local seen = {}
for _, w in ipairs(list) do seen[w.code or ''] = true end
local added = 0
for _, w in ipairs(cjson.decode(ARGV[2])) do
  if not seen[w.code] then list[#list+1] = w; seen[w.code] = true; added = added + 1 end
end
if added > 0 then redis.call('HSET', ck, 'warnings', cjson.encode(list)) end
return added
`,
} as const;

type ScriptedRedis = Redis & {
  [K in keyof typeof SCRIPTS]: (...args: (string | number)[]) => Promise<unknown>;
};

export interface DeliveryState {
  correspondenceId?: string;
  resource?: string;
  sentMs?: number;
  attempts: number;
  lastError?: string;
  reminder: boolean;
  /** 0: details not read yet; 1: read after the first notification; 2: read after the reminder too. */
  detailsStage: number;
  receipt: boolean;
}

export class DeliveryStore {
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    readonly prefix: string,
  ) {
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 0, lua });
    this.redis = redis as ScriptedRedis;
  }

  private k(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  async state(messageId: string): Promise<DeliveryState> {
    const h = await this.redis.hgetall(this.k(`dpv:${messageId}`));
    return {
      ...(h.correspondenceId ? { correspondenceId: h.correspondenceId } : {}),
      ...(h.resource ? { resource: h.resource } : {}),
      ...(h.sentMs ? { sentMs: Number(h.sentMs) } : {}),
      attempts: Number(h.attempts ?? 0),
      ...(h.lastError ? { lastError: h.lastError } : {}),
      reminder: h.reminder === '1',
      detailsStage: Number(h.detailsStage ?? 0),
      receipt: h.receipt === '1',
    };
  }

  /** Counts a failed attempt and remembers why (no confidential text: reasons are Altinn's status and codes). */
  async recordFailure(messageId: string, reason: string): Promise<number> {
    const key = this.k(`dpv:${messageId}`);
    const [[, n]] = (await this.redis
      .multi()
      .hincrby(key, 'attempts', 1)
      .hset(key, 'lastError', reason)
      .exec()) as [[unknown, number]];
    return n;
  }

  async markSent(
    messageId: string,
    convId: number,
    correspondenceId: string,
    resource: string,
    reminder: boolean,
    now: number,
    firstPollAt: number,
  ): Promise<void> {
    await this.redis.dpvMarkSent(
      this.prefix,
      messageId,
      convId,
      correspondenceId,
      resource,
      now,
      firstPollAt,
      reminder ? '1' : '0',
    );
  }

  /** Due polls (score <= now), at most `limit`; each is leased for `leaseMs` until rescheduled. */
  async claimDue(now: number, limit: number, leaseMs: number): Promise<string[]> {
    return (await this.redis.dpvClaimDue(this.prefix, now, limit, leaseMs)) as string[];
  }

  async reschedule(messageId: string, at: number): Promise<void> {
    await this.redis.zadd(this.k('dpv:poll'), 'XX', at, messageId);
  }

  async nextPollAt(messageId: string): Promise<number | null> {
    const s = await this.redis.zscore(this.k('dpv:poll'), messageId);
    return s === null ? null : Number(s);
  }

  /** Forgets the poll of a message whose conversation is gone. */
  async dropPoll(messageId: string): Promise<void> {
    await this.redis.zrem(this.k('dpv:poll'), messageId);
  }

  async stopPolling(messageId: string, convId: number): Promise<void> {
    await this.redis
      .multi()
      .zrem(this.k('dpv:poll'), messageId)
      .hset(this.k(`conv:${convId}`), 'pollable', '0')
      .exec();
  }

  async setFields(messageId: string, fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.k(`dpv:${messageId}`), fields);
  }

  async addWarnings(convId: number, warnings: ProblemItem[]): Promise<void> {
    if (!warnings.length) return;
    await this.redis.dpvAddWarnings(this.k(`conv:${convId}`), JSON.stringify(warnings));
  }

  /** The latest notification outcome in plain Norwegian, on the conversation. */
  async setNotificationOutcome(convId: number, text: string): Promise<void> {
    await this.redis.hset(this.k(`conv:${convId}`), 'notificationOutcome', text);
  }

  async notificationOutcome(convId: number): Promise<string | null> {
    return this.redis.hget(this.k(`conv:${convId}`), 'notificationOutcome');
  }
}
