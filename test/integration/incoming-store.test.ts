import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crypto } from '../../src/store/crypto.js';
import { IncomingStore } from '../../src/store/incoming.js';
import { STATUS_CODE } from '../../src/store/lua.js';
import { Store } from '../../src/store/store.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { receipt } from '../helpers/incoming.js';
import { sbd } from '../helpers/messages.js';

let h: Harness;
let incoming: IncomingStore;
let store: Store;

beforeAll(async () => {
  h = await startHarness();
  const crypto = new Crypto(h.config.DATA_ENCRYPTION_KEY);
  incoming = new IncomingStore(h.redis, `${h.prefix}:`, crypto);
  store = new Store(h.redis, `${h.prefix}:`, crypto);
});
afterAll(() => h.close());

describe('IncomingStore.addIncoming', () => {
  it('stores a receipt sealed, with an INCOMING conversation, OPPRETTET and INNKOMMENDE_MOTTATT', async () => {
    const r = receipt();
    expect(await incoming.addIncoming(r)).toEqual({ outcome: 'new' });

    const conv = await store.getConversationByMessageId(r.messageId);
    expect(conv).toMatchObject({
      messageId: r.messageId,
      conversationId: r.conversationId,
      direction: 'INCOMING',
      sender: '0192:910075946',
      senderIdentifier: '910075946',
      receiver: '0192:910077473',
      receiverIdentifier: '910077473',
      processIdentifier: r.processIdentifier,
      documentIdentifier: r.documentType,
      serviceIdentifier: 'DPV',
      finished: false,
    });
    const statuses = await store.statusesOfConversation(conv!.id);
    expect(statuses.map((s) => s.status)).toEqual(['OPPRETTET', 'INNKOMMENDE_MOTTATT']);

    expect(await incoming.getSbdJson(r.messageId)).toBe(r.sbdJson);
    const raw = await h.redis.hget(`${h.prefix}:in:${r.messageId}`, 'sbd');
    expect(raw).toMatch(/^v1\./);
    expect(raw).not.toContain('relatedToMessageId');
    expect(await incoming.getIncoming(r.messageId)).toMatchObject({
      messageId: r.messageId,
      type: 'arkivmelding_kvittering',
      receipt: true,
    });
  });

  it('is idempotent: a second add of the same messageId is a duplicate and writes nothing', async () => {
    const r = receipt();
    expect(await incoming.addIncoming(r)).toEqual({ outcome: 'new' });
    const events = await h.redis.xlen(`${h.prefix}:status:events`);
    expect(await incoming.addIncoming(r)).toEqual({ outcome: 'duplicate' });
    expect(await h.redis.xlen(`${h.prefix}:status:events`)).toBe(events);
    const conv = await store.getConversationByMessageId(r.messageId);
    expect((await store.statusesOfConversation(conv!.id)).map((s) => s.status)).toEqual([
      'OPPRETTET',
      'INNKOMMENDE_MOTTATT',
    ]);
    const all = await store.listConversations(
      { conversationId: r.conversationId },
      { page: 0, size: 10, sort: null, sorted: false },
    );
    expect(all.total).toBe(1);
  });

  it('is in the indexed lists and under the transition script like any conversation', async () => {
    const expiry = new Date(Date.now() + 3_600_000);
    const r = receipt({ receiver: '910229028', expectedResponseDateTime: expiry.toISOString() });
    expect(await incoming.addIncoming(r)).toEqual({ outcome: 'new' });
    const conv = await store.getConversationByMessageId(r.messageId);
    expect(await store.expiryIndexed(r.messageId)).toBe(expiry.getTime());

    const listed = await h.json<{ content: { messageId: string; direction: string }[] }>(
      'GET',
      '/api/conversations?receiverIdentifier=910229028&direction=INCOMING&finished=false&size=50',
    );
    expect(listed.status).toBe(200);
    expect(listed.body.content.map((c) => c.messageId)).toEqual([r.messageId]);
    const outgoing = await h.json<{ totalElements: number }>(
      'GET',
      '/api/conversations?receiverIdentifier=910229028&direction=OUTGOING',
    );
    expect(outgoing.body.totalElements).toBe(0);
    const received = await h.json<{ content: { messageId: string }[] }>(
      'GET',
      `/api/statuses?status=INNKOMMENDE_MOTTATT&size=1&sort=id,desc`,
    );
    expect(received.body.content.map((s) => s.messageId)).toEqual([r.messageId]);

    // The status script decides for it: LEST has no predecessor here, INNKOMMENDE_LEVERT finishes it.
    expect(await store.addStatus(r.messageId, 'LEST')).toEqual({ outcome: 'refused' });
    expect((await store.addStatus(r.messageId, 'INNKOMMENDE_LEVERT')).outcome).toBe('new');
    const finished = await store.listConversations(
      { receiverIdentifier: '910229028', direction: 'INCOMING', finished: true },
      { page: 0, size: 10, sort: null, sorted: false },
    );
    expect(finished.items.map((c) => c.id)).toEqual([conv!.id]);
    expect(await store.expiryIndexed(r.messageId)).toBeNull();
  });

  it('leaves a conversation of another message with the same messageId alone', async () => {
    const r = receipt();
    const out = await h.json('POST', '/api/messages/out', sbd({ messageId: r.messageId }));
    expect(out.status).toBe(200);
    expect(await incoming.addIncoming(r)).toEqual({ outcome: 'duplicate' });
    const conv = await store.getConversationByMessageId(r.messageId);
    expect(conv?.direction).toBe('OUTGOING');
    expect((await store.statusesOfConversation(conv!.id)).map((s) => s.status)).toEqual(['OPPRETTET']);
    expect(await incoming.getIncoming(r.messageId)).toBeNull();
  });

  it('completes a message half-stored by a crashed attempt when the same receipt is stored again', async () => {
    const r = receipt();
    expect(await incoming.addIncoming(r)).toEqual({ outcome: 'new' });
    // As if the first attempt had died after creating the message, before INNKOMMENDE_MOTTATT.
    const conv = await store.getConversationByMessageId(r.messageId);
    // The status lives in the conversation hash (#I) with an entry in its per-status index (src/store/lua.ts).
    const code = STATUS_CODE.INNKOMMENDE_MOTTATT;
    await h.redis.hdel(`${h.prefix}:conv:${conv!.id}`, `#${code}`);
    await h.redis.zrem(`${h.prefix}:status:by:INNKOMMENDE_MOTTATT`, String(conv!.id));
    await h.redis.hset(`${h.prefix}:in:${r.messageId}`, 'state', 'new');
    await h.redis.zrem(`${h.prefix}:in:ready`, r.messageId);
    expect(await incoming.peek({ messageId: r.messageId }, new Date(), 1000)).toBeNull();

    expect(await incoming.addIncoming(r)).toEqual({ outcome: 'duplicate' });
    expect((await store.statusesOfConversation(conv!.id)).map((s) => s.status)).toEqual([
      'OPPRETTET',
      'INNKOMMENDE_MOTTATT',
    ]);
    expect((await incoming.peek({ messageId: r.messageId }, new Date(), 1000))?.messageId).toBe(r.messageId);
  });

  it('registers one that arrives already expired as LEVETID_UTLOPT and does not keep it', async () => {
    const r = { ...receipt(), expiry: '2020-01-01T00:00:00+01:00' };
    expect(await incoming.addIncoming(r)).toEqual({ outcome: 'new' });
    expect(await incoming.getIncoming(r.messageId)).toBeNull();
    const conv = await store.getConversationByMessageId(r.messageId);
    expect((await store.statusesOfConversation(conv!.id)).map((s) => s.status)).toEqual([
      'OPPRETTET',
      'LEVETID_UTLOPT',
    ]);
  });
});
