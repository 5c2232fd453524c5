import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageSchema } from '../../src/domain/page.js';
import { sbdSchema } from '../../src/domain/sbd.js';
import { errorSchema } from '../../src/routes/schemas.js';
import { Crypto } from '../../src/store/crypto.js';
import { IncomingStore, type NewIncomingMessage } from '../../src/store/incoming.js';
import { Store } from '../../src/store/store.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { receipt } from '../helpers/incoming.js';

const LOCK_MS = 60_000;
const sbdPage = pageSchema(sbdSchema, 'PageStandardBusinessDocument');
type Sbd = { standardBusinessDocumentHeader: { documentIdentification: { instanceIdentifier: string } } };
type Page = { content: Sbd[]; totalElements: number; numberOfElements: number; totalPages: number };
const idOf = (s: Sbd) => s.standardBusinessDocumentHeader.documentIdentification.instanceIdentifier;

let h: Harness;
let incoming: IncomingStore;
let store: Store;
let now = new Date('2026-11-30T09:00:00Z');
const tick = (ms: number) => {
  now = new Date(now.getTime() + ms);
};

async function add(o: Partial<NewIncomingMessage> = {}, r = receipt()): Promise<NewIncomingMessage> {
  tick(1000);
  const msg = { ...r, ...o, now };
  expect(await incoming.addIncoming(msg)).toEqual({ outcome: 'new' });
  return msg;
}

async function statusesOf(messageId: string): Promise<string[]> {
  const conv = await store.getConversationByMessageId(messageId);
  return (await store.statusesOfConversation(conv!.id)).map((s) => s.status);
}

beforeAll(async () => {
  h = await startHarness({ IN_LOCK_TIMEOUT_MS: String(LOCK_MS) }, {}, () => now);
  const crypto = new Crypto(h.config.DATA_ENCRYPTION_KEY);
  incoming = new IncomingStore(h.redis, `${h.prefix}:`, crypto);
  store = new Store(h.redis, `${h.prefix}:`, crypto);
});
afterAll(() => h.close());

describe('GET /api/messages/in', () => {
  it('pages the reference Page JSON with every filter, oldest first, and sorts by lastUpdated', async () => {
    const sender = '911111111';
    const conversationId = randomUUID();
    const a = await add({ senderIdentifier: sender, conversationId });
    const b = await add({ senderIdentifier: sender });
    const c = await add({ senderIdentifier: sender, serviceIdentifier: 'DPO' });
    const d = await add({ senderIdentifier: sender, processIdentifier: 'urn:other:process' });

    const all = await h.json<Page>('GET', `/api/messages/in?senderIdentifier=${sender}`);
    expect(all.status).toBe(200);
    sbdPage.parse(all.body);
    expect(all.body.content.map(idOf)).toEqual([a, b, c, d].map((m) => m.messageId));
    expect(all.body.content[0]).toEqual(JSON.parse(a.sbdJson));
    expect(all.body).toMatchObject({ totalElements: 4, totalPages: 1, numberOfElements: 4, first: true });
    expect((all.body as unknown as { sort: unknown }).sort).toEqual({
      sorted: false,
      unsorted: true,
      empty: true,
    });

    const page2 = await h.json<Page>(
      'GET',
      `/api/messages/in?senderIdentifier=${sender}&size=3&page=1&sort=lastUpdated,desc`,
    );
    expect(page2.body.content.map(idOf)).toEqual([a.messageId]);
    expect(page2.body).toMatchObject({ totalElements: 4, totalPages: 2, number: 1, last: true });

    const cases: [string, string[]][] = [
      [`conversationId=${conversationId}`, [a.messageId]],
      [`messageId=${b.messageId}`, [b.messageId]],
      [`senderIdentifier=${sender}&serviceIdentifier=DPO`, [c.messageId]],
      [`senderIdentifier=${sender}&serviceIdentifier=DPV`, [a, b, d].map((m) => m.messageId)],
      [`senderIdentifier=${sender}&process=urn:other:process`, [d.messageId]],
      [`senderIdentifier=${sender}&receiverIdentifier=910077473&messageId=${d.messageId}`, [d.messageId]],
      [`senderIdentifier=${sender}&receiverIdentifier=999999999`, []],
      [`messageId=${randomUUID()}`, []],
    ];
    for (const [q, expected] of cases) {
      const res = await h.json<Page>('GET', `/api/messages/in?${q}`);
      expect(res.body.content.map(idOf), q).toEqual(expected);
      expect(res.body.totalElements, q).toBe(expected.length);
    }
    // Several filters page through the matches, not the index.
    const two = await h.json<Page>(
      'GET',
      `/api/messages/in?senderIdentifier=${sender}&serviceIdentifier=DPV&size=2&page=1`,
    );
    expect(two.body.content.map(idOf)).toEqual([d.messageId]);
    expect(two.body.totalElements).toBe(3);
  });

  it('refuses bad filters and sorts with a 400 naming the field', async () => {
    const bad = await h.json<{ exception: string; message: string }>(
      'GET',
      '/api/messages/in?serviceIdentifier=DPX',
    );
    expect(bad.status).toBe(400);
    errorSchema.parse(bad.body);
    expect(bad.body.exception).toBe('ConstraintViolationException');
    expect(bad.body.message).toContain('serviceIdentifier');
    const sort = await h.json<{ message: string }>('GET', '/api/messages/in?sort=title,asc');
    expect(sort.status).toBe(400);
    expect(sort.body.message).toContain('sort');
    const peek = await h.json<{ message: string }>('GET', '/api/messages/in/peek?serviceIdentifier=nope');
    expect(peek.status).toBe(400);
    expect(peek.body.message).toContain('serviceIdentifier');
    const pop = await h.json<{ message: string }>('GET', '/api/messages/in/pop/not-a-uuid');
    expect(pop.status).toBe(400);
    expect(pop.body.message).toContain('messageId');
  });
});

describe('peek, pop, delete', () => {
  it('peek returns and locks the oldest matching message; 204 when none is left', async () => {
    const receiver = '922222222';
    const first = await add({ receiverIdentifier: receiver });
    const second = await add({ receiverIdentifier: receiver });
    const p1 = await h.json<Sbd>('GET', `/api/messages/in/peek?receiverIdentifier=${receiver}`);
    expect(p1.status).toBe(200);
    sbdSchema.parse(p1.body);
    expect(p1.body).toEqual(JSON.parse(first.sbdJson));
    const p2 = await h.json<Sbd>('GET', `/api/messages/in/peek?receiverIdentifier=${receiver}`);
    expect(idOf(p2.body)).toBe(second.messageId);
    const none = await h.fetch(`/api/messages/in/peek?receiverIdentifier=${receiver}`);
    expect(none.status).toBe(204);
    expect(await none.text()).toBe('');
    // Locked messages are still listed.
    const list = await h.json<Page>('GET', `/api/messages/in?receiverIdentifier=${receiver}`);
    expect(list.body.totalElements).toBe(2);
  });

  it('pop: 404 unknown, 400 MessageNotLockedException before peek, 204 for a locked receipt', async () => {
    const unknown = randomUUID();
    const nf = await h.json<{ exception: string; message: string }>('GET', `/api/messages/in/pop/${unknown}`);
    expect(nf.status).toBe(404);
    expect(nf.body.exception).toBe('MessageNotFoundException');

    const m = await add({ senderIdentifier: '933333333' });
    const nl = await h.json<{ exception: string; message: string }>(
      'GET',
      `/api/messages/in/pop/${m.messageId}`,
    );
    expect(nl.status).toBe(400);
    errorSchema.parse(nl.body);
    expect(nl.body.exception).toBe('MessageNotLockedException');
    expect(nl.body.message).toBe(`Message with messageId = ${m.messageId} was not locked`);

    expect((await h.fetch(`/api/messages/in/peek?messageId=${m.messageId}`)).status).toBe(200);
    const popped = await h.fetch(`/api/messages/in/pop/${m.messageId}`);
    expect(popped.status).toBe(204);
    expect(await popped.text()).toBe('');
    // Pop keeps the lock and the message.
    expect((await h.fetch(`/api/messages/in/pop/${m.messageId}`)).status).toBe(204);
  });

  it('delete needs the lock, registers INNKOMMENDE_LEVERT, returns the SBD and removes the message', async () => {
    const m = await add({ senderIdentifier: '944444444' });
    const early = await h.json<{ exception: string }>('DELETE', `/api/messages/in/${m.messageId}`);
    expect(early.status).toBe(400);
    expect(early.body.exception).toBe('MessageNotLockedException');
    expect(await statusesOf(m.messageId)).toEqual(['OPPRETTET', 'INNKOMMENDE_MOTTATT']);

    expect((await h.fetch(`/api/messages/in/peek?senderIdentifier=944444444`)).status).toBe(200);
    const del = await h.json<Sbd>('DELETE', `/api/messages/in/${m.messageId}`);
    expect(del.status).toBe(200);
    expect(del.body).toEqual(JSON.parse(m.sbdJson));
    expect(await statusesOf(m.messageId)).toEqual(['OPPRETTET', 'INNKOMMENDE_MOTTATT', 'INNKOMMENDE_LEVERT']);
    const conv = await store.getConversationByMessageId(m.messageId);
    expect(conv).toMatchObject({ finished: true, direction: 'INCOMING' });

    const list = await h.json<Page>('GET', `/api/messages/in?messageId=${m.messageId}`);
    expect(list.body.totalElements).toBe(0);
    const again = await h.json<{ exception: string }>('DELETE', `/api/messages/in/${m.messageId}`);
    expect(again.status).toBe(404);
    expect(again.body.exception).toBe('MessageNotFoundException');
    expect((await h.fetch(`/api/messages/in/peek?senderIdentifier=944444444`)).status).toBe(204);
    // A retried store of the same receipt does not bring it back.
    expect(await incoming.addIncoming({ ...m, now })).toEqual({ outcome: 'duplicate' });
    expect((await h.fetch(`/api/messages/in/peek?senderIdentifier=944444444`)).status).toBe(204);
  });

  it('a lock ends after IN_LOCK_TIMEOUT_MS: pop is refused and the message can be peeked again', async () => {
    const m = await add({ senderIdentifier: '955555555' });
    const peek = () => h.fetch(`/api/messages/in/peek?senderIdentifier=955555555`);
    expect((await peek()).status).toBe(200);
    tick(LOCK_MS - 1);
    expect((await peek()).status).toBe(204);
    expect((await h.fetch(`/api/messages/in/pop/${m.messageId}`)).status).toBe(204);
    tick(1);
    const pop = await h.json<{ exception: string }>('GET', `/api/messages/in/pop/${m.messageId}`);
    expect(pop.status).toBe(400);
    expect(pop.body.exception).toBe('MessageNotLockedException');
    const again = await h.json<Sbd>('GET', '/api/messages/in/peek?senderIdentifier=955555555');
    expect(again.status).toBe(200);
    expect(idOf(again.body)).toBe(m.messageId);
    expect((await h.json('DELETE', `/api/messages/in/${m.messageId}`)).status).toBe(200);
  });
});

describe('concurrent peeks', () => {
  let fresh: Harness;
  let freshIncoming: IncomingStore;
  beforeAll(async () => {
    fresh = await startHarness();
    freshIncoming = new IncomingStore(
      fresh.redis,
      `${fresh.prefix}:`,
      new Crypto(fresh.config.DATA_ENCRYPTION_KEY),
    );
  });
  afterAll(() => fresh.close());

  async function race(path: string, n: number): Promise<{ ids: string[]; empty: number }> {
    const results = await Promise.all(
      Array.from({ length: n }, async () => {
        const res = await fresh.fetch(path);
        return { status: res.status, text: await res.text() };
      }),
    );
    const ids = results.filter((r) => r.status === 200).map((r) => idOf(JSON.parse(r.text) as Sbd));
    const empty = results.filter((r) => r.status === 204).length;
    expect(ids.length + empty).toBe(n);
    return { ids, empty };
  }

  it('20 parallel peeks over HTTP on 5 messages get 5 distinct messages and 15 times 204', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) {
      const r = receipt();
      await freshIncoming.addIncoming(r);
      ids.push(r.messageId);
    }
    const { ids: got, empty } = await race('/api/messages/in/peek', 20);
    expect([...got].sort()).toEqual([...ids].sort());
    expect(empty).toBe(15);
  });

  it('the same with a filter, among messages that do not match', async () => {
    const ids = [];
    for (let i = 0; i < 10; i++) {
      const r = receipt({ sender: i % 2 ? '966666666' : '977777777' });
      await freshIncoming.addIncoming(r);
      if (i % 2) ids.push(r.messageId);
    }
    const { ids: got, empty } = await race(
      '/api/messages/in/peek?senderIdentifier=966666666&serviceIdentifier=DPV',
      20,
    );
    expect([...got].sort()).toEqual([...ids].sort());
    expect(empty).toBe(15);
  });
});
