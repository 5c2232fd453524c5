import type { Redis } from 'ioredis';
import type { ProblemItem } from '../domain/errors.js';
import { type ScriptCalls, scriptsOn } from './scripts.js';
import type { Store } from './store.js';

/**
 * What the Digital Post worker keeps per message beside the conversation: the correspondence id, send attempts,
 * the poll schedule (`dpv:poll`, scored by the next poll time) and the follow-ups after delivery, in a small
 * `dpv:{messageId}` hash (layout in src/store/lua.ts) that outlives the outgoing message, which is deleted once
 * sent. Conversation fields (externalSystemReference, pollable, warnings, notificationOutcome) go through Store.
 */

const SCRIPTS = {
  /** Records the correspondence and schedules the first poll (failed attempts, if any, stay for the record). */
  dpvRecordSent: `
local P, mid = ARGV[1], ARGV[2]
local k = P..'dpv:'..mid
redis.call('HSET', k, 'c', ARGV[3], 's', ARGV[4], 'r', ARGV[5], 'cf', ARGV[6])
redis.call('ZADD', P..'dpv:poll', ARGV[7], mid)
return 1
`,
  /** Takes up to N due polls and pushes each one's score ahead by a lease, so an overlapping run skips them. */
  dpvClaimDue: `
local P, nowMs, limit, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', P..'dpv:poll', '-inf', nowMs, 'LIMIT', 0, limit)
for _, mid in ipairs(due) do redis.call('ZADD', P..'dpv:poll', nowMs + lease, mid) end
return due
`,
} as const;

export interface DeliveryState {
  correspondenceId?: string;
  sentMs?: number;
  attempts: number;
  lastError?: string;
  reminder: boolean;
  /** 0: details not read yet; 1: read after the first notification; 2: read after the reminder too. */
  detailsStage: number;
  receipt: boolean;
  /** Whether the message went to the confidential resource; null before it is sent (or once forgotten). */
  confidential: boolean | null;
}

export class DeliveryStore {
  private readonly redis: Redis;
  private readonly lua: ScriptCalls<typeof SCRIPTS>;
  readonly prefix: string;

  constructor(private readonly store: Store) {
    this.redis = store.redis;
    this.lua = scriptsOn(store.redis, SCRIPTS);
    this.prefix = store.prefix;
  }

  private k(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  async state(messageId: string): Promise<DeliveryState> {
    const h = await this.redis.hgetall(this.k(`dpv:${messageId}`));
    return {
      ...(h.c ? { correspondenceId: h.c } : {}),
      ...(h.s ? { sentMs: Number(h.s) } : {}),
      attempts: Number(h.a ?? 0),
      ...(h.e ? { lastError: h.e } : {}),
      reminder: h.r === '1',
      detailsStage: Number(h.d ?? 0),
      receipt: h.k === '1',
      confidential: h.cf === undefined ? null : h.cf === '1',
    };
  }

  /** Whether a sent message went to the confidential resource; null when not known here. */
  async confidential(messageId: string): Promise<boolean | null> {
    const v = await this.redis.hget(this.k(`dpv:${messageId}`), 'cf');
    return v === null ? null : v === '1';
  }

  /** Counts a failed attempt and remembers why (no confidential text: reasons are Altinn's status and codes). */
  async recordFailure(messageId: string, reason: string): Promise<number> {
    const key = this.k(`dpv:${messageId}`);
    const [[, n]] = (await this.redis.multi().hincrby(key, 'a', 1).hset(key, 'e', reason).exec()) as [
      [unknown, number],
    ];
    return n;
  }

  /**
   * The send went through: the correspondence is recorded with the first poll, then the conversation learns it
   * and becomes pollable (through Store, which moves it to the pollable list index). Repeating it is harmless.
   */
  async markSent(
    messageId: string,
    sent: {
      correspondenceId: string;
      reminder: boolean;
      confidential: boolean;
      now: number;
      firstPollAt: number;
    },
  ): Promise<void> {
    await this.lua.dpvRecordSent(
      this.prefix,
      messageId,
      sent.correspondenceId,
      sent.now,
      sent.reminder ? '1' : '0',
      sent.confidential ? '1' : '0',
      sent.firstPollAt,
    );
    await this.store.setDelivery(messageId, {
      externalSystemReference: sent.correspondenceId,
      pollable: true,
    });
  }

  /** Due polls (score <= now), at most `limit`; each is leased for `leaseMs` until rescheduled. */
  async claimDue(now: number, limit: number, leaseMs: number): Promise<string[]> {
    return (await this.lua.dpvClaimDue(this.prefix, now, limit, leaseMs)) as string[];
  }

  async reschedule(messageId: string, at: number): Promise<void> {
    await this.redis.zadd(this.k('dpv:poll'), 'XX', at, messageId);
  }

  async nextPollAt(messageId: string): Promise<number | null> {
    const s = await this.redis.zscore(this.k('dpv:poll'), messageId);
    return s === null ? null : Number(s);
  }

  /**
   * Polling is over (LEST, FEIL, purged, gone): the conversation leaves the pollable index and the delivery
   * facts are forgotten; nothing asks for them after this.
   */
  async stopPolling(messageId: string): Promise<void> {
    await this.store.setDelivery(messageId, { pollable: false });
    await this.forget(messageId);
  }

  /** Drops the delivery hash and the poll entry of a message. */
  async forget(messageId: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.k(`dpv:${messageId}`))
      .zrem(this.k('dpv:poll'), messageId)
      .exec();
  }

  async setDetailsStage(messageId: string, stage: number): Promise<void> {
    await this.redis.hset(this.k(`dpv:${messageId}`), 'd', stage);
  }

  async setReceiptMade(messageId: string): Promise<void> {
    await this.redis.hset(this.k(`dpv:${messageId}`), 'k', '1');
  }

  async addWarnings(convId: number, warnings: ProblemItem[]): Promise<void> {
    await this.store.addWarnings(convId, warnings);
  }

  /** The latest notification outcome in plain Norwegian, on the conversation. */
  async setNotificationOutcome(convId: number, text: string): Promise<void> {
    await this.store.setNotificationOutcome(convId, text);
  }
}

/**
 * After transport (SENDT) or its end (FEIL, LEVETID_UTLOPT) the outgoing message goes, as in the reference: its
 * encrypted files first, then the message with its sealed SBD and file entries (so a crash in between leaves
 * something to repeat this on). The conversation and its statuses stay. Idempotent.
 */
export async function releaseOutgoing(
  store: Store,
  files: { deleteMessage(messageId: string): Promise<void> },
  messageId: string,
): Promise<void> {
  await files.deleteMessage(messageId);
  await store.deleteMessage(messageId);
}
