import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { STATUSES, type Status, transition } from '../../src/domain/status.js';
import { Crypto } from '../../src/store/crypto.js';
import { Store } from '../../src/store/store.js';
import { writeConversations } from '../helpers/bulk.js';

const prefix = `t${randomUUID().slice(0, 12)}:`;
const key = randomBytes(32);
/** Separate connections, so concurrent writers really race at the server. */
const connections: Redis[] = [];
let stores: Store[];

beforeAll(() => {
  for (let i = 0; i < 4; i++) connections.push(new Redis(inject('redisUrl')));
  stores = connections.map((r) => new Store(r, prefix, new Crypto(key)));
});
afterAll(async () => {
  const redis = connections[0]!;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  for (const r of connections) r.disconnect();
});

describe('transition table', () => {
  it('is decided alike by the TypeScript table and the Redis script, for every set of statuses and every next one', async () => {
    const store = stores[0]!;
    let checked = 0;
    for (let mask = 0; mask < 1 << STATUSES.length; mask++) {
      const current = STATUSES.filter((_, i) => mask & (1 << i));
      const lua = (await store.lua.decideTransitions(current.join(','), ...STATUSES)) as string[];
      const ts = STATUSES.map((next) => transition(new Set<Status>(current), next));
      expect({ current, verdicts: lua }).toEqual({ current, verdicts: ts });
      checked += STATUSES.length;
    }
    expect(checked).toBe(1024 * 10);
  });

  it('never moves a conversation backwards', () => {
    const withStatuses = (...s: Status[]) => new Set<Status>(['OPPRETTET', ...s]);
    expect(transition(withStatuses('SENDT', 'LEVERT', 'LEST'), 'LEVERT')).toBe('duplicate');
    expect(transition(withStatuses('SENDT', 'LEST'), 'LEVERT')).toBe('refused');
    expect(transition(withStatuses('SENDT', 'LEVERT'), 'SENDT')).toBe('duplicate');
    expect(transition(withStatuses('LEVERT'), 'SENDT')).toBe('refused');
    expect(transition(withStatuses('LEVERT'), 'MOTTATT')).toBe('refused');
    expect(transition(withStatuses('SENDT', 'LEST'), 'MOTTATT')).toBe('refused');
    expect(transition(withStatuses('SENDT', 'LEVERT'), 'LEST')).toBe('new');
  });
});

describe('concurrent writers', () => {
  it('let exactly one of two conflicting statuses win, whichever connection is first', async () => {
    const models = await writeConversations(stores[0]!, 60, { baseMs: Date.now(), receivers: ['910075946'] });
    const open = models.filter((m) => !m.finished && m.statuses.some((s) => s.status === 'SENDT'));
    expect(open.length).toBeGreaterThan(20);
    for (const m of open) {
      // FEIL and LEVETID_UTLOPT each end a conversation; LEST rules out LEVETID_UTLOPT and follows no FEIL.
      const results = await Promise.all([
        stores[1]!.addStatus(m.messageId, 'FEIL'),
        stores[2]!.addStatus(m.messageId, 'LEVETID_UTLOPT'),
        stores[3]!.addStatus(m.messageId, 'LEST'),
      ]);
      const winners = results.filter((r) => r.outcome === 'new');
      expect(winners).toHaveLength(1);
      const stored = (await stores[0]!.statusesOfConversation(m.id)).map((s) => s.status);
      expect(stored.filter((s) => s === 'FEIL' || s === 'LEVETID_UTLOPT' || s === 'LEST')).toHaveLength(1);
    }
  });

  it('store a status written twice at once only once', async () => {
    const [, m] = await writeConversations(stores[0]!, 2, { baseMs: Date.now(), receivers: ['910075946'] });
    expect(m!.statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT']);
    const results = await Promise.all(stores.map((s) => s.addStatus(m!.messageId, 'MOTTATT')));
    expect(results.map((r) => r.outcome).sort()).toEqual(['duplicate', 'duplicate', 'duplicate', 'new']);
    const page = await stores[0]!.listStatuses(
      { messageId: m!.messageId, status: 'MOTTATT' },
      { page: 0, size: 10, sort: null, sorted: false },
    );
    expect(page.total).toBe(1);
  });
});

describe('purge', () => {
  it('removes a conversation, its statuses and every index entry, and leaves the others', async () => {
    const store = stores[0]!;
    const redis = connections[0]!;
    const models = await writeConversations(store, 12, { baseMs: Date.now(), receivers: ['910075918'] });
    const gone = models[5]!;
    const kept = models[6]!;
    const members = async (convId: number) => {
      const keys = [
        ...(await redis.keys(`${prefix}conv:st:*`)),
        ...(await redis.keys(`${prefix}conv:rcv:*`)),
        ...(await redis.keys(`${prefix}status:by:*`)),
      ];
      const found: string[] = [];
      for (const k of keys) if ((await redis.zscore(k, String(convId))) !== null) found.push(k);
      return found;
    };
    expect((await members(gone.id)).length).toBeGreaterThan(1);
    await store.purge(gone.messageId);
    expect(await members(gone.id)).toEqual([]);
    expect(await store.conversationIdOfMessage(gone.messageId)).toBeNull();
    expect(await store.getConversation(gone.id)).toBeNull();
    expect(await store.getMessage(gone.messageId)).toBeNull();
    const page = { page: 0, size: 50, sort: null, sorted: false };
    const byConversation = await store.listConversations({ conversationId: gone.conversationId }, page);
    expect(byConversation.items.map((c) => c.id)).toEqual(
      models.filter((m) => m !== gone && m.conversationId === gone.conversationId).map((m) => m.id),
    );
    const byReceiver = await store.listConversations({ receiverIdentifier: '910075918' }, page);
    expect(byReceiver.total).toBe(11);
    expect(byReceiver.items.some((c) => c.id === gone.id)).toBe(false);
    expect((await members(kept.id)).length).toBeGreaterThan(1);
  });
});
