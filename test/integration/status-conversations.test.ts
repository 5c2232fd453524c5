import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crypto } from '../../src/store/crypto.js';
import { Store } from '../../src/store/store.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { sbd } from '../helpers/messages.js';

type Page<T> = {
  content: T[];
  totalElements: number;
  totalPages: number;
  number: number;
  size: number;
  first: boolean;
  last: boolean;
  numberOfElements: number;
};
type StatusRow = {
  id: number;
  status: string;
  messageId: string;
  conversationId: string;
  convId: number;
  lastUpdate: string;
  description?: string;
};

let h: Harness;
let store: Store;
const ids: string[] = [];

beforeAll(async () => {
  h = await startHarness();
  store = new Store(h.redis, `${h.prefix}:`, new Crypto(h.config.DATA_ENCRYPTION_KEY));
  for (let i = 0; i < 3; i++) {
    const messageId = randomUUID();
    expect((await h.json('POST', '/api/messages/out', sbd({ messageId }))).status).toBe(200);
    ids.push(messageId);
  }
});
afterAll(() => h.close());

describe('statuses', () => {
  it('writes each status once per message, whatever the number of writes', async () => {
    const [a] = ids as [string];
    const first = await store.addStatus(a, 'SENDT');
    const again = await store.addStatus(a, 'SENDT');
    expect(first.outcome).toBe('new');
    expect(again).toEqual({ outcome: 'duplicate', id: (first as { id: number }).id });
    const both = await Promise.all([store.addStatus(a, 'LEVERT'), store.addStatus(a, 'LEVERT')]);
    expect(both.map((r) => r.outcome).sort()).toEqual(['duplicate', 'new']);
    const page = await h.json<Page<StatusRow>>('GET', `/api/statuses/${a}`);
    expect(page.body.content.map((s) => s.status)).toEqual(['OPPRETTET', 'SENDT', 'LEVERT']);
    expect(Object.keys(page.body.content[0]!)).toEqual([
      'id',
      'lastUpdate',
      'status',
      'conversationId',
      'messageId',
      'convId',
    ]);
  });

  it('refuses what the transition table forbids and ignores unknown messages', async () => {
    const [, b] = ids as [string, string];
    expect((await store.addStatus(b, 'LEST')).outcome).toBe('refused');
    expect((await store.addStatus(randomUUID(), 'SENDT')).outcome).toBe('unknown');
  });

  it('filters by status, message, conversation and time range, and pages', async () => {
    const bySent = await h.json<Page<StatusRow>>('GET', '/api/statuses?status=SENDT');
    expect(bySent.body.content.map((s) => s.messageId)).toEqual([ids[0]]);
    const all = await h.json<Page<StatusRow>>('GET', '/api/statuses?size=2&page=1');
    expect(all.body).toMatchObject({
      totalElements: 5,
      totalPages: 3,
      number: 1,
      size: 2,
      numberOfElements: 2,
      first: false,
      last: false,
    });
    const desc = await h.json<Page<StatusRow>>('GET', '/api/statuses?sort=id,desc&size=1');
    expect(desc.body.content[0]!.status).toBe('LEVERT');
    const conv = (await h.json<Record<string, string>>('GET', `/api/conversations/messageId/${ids[1]}`)).body;
    const byConv = await h.json<Page<StatusRow>>(
      'GET',
      `/api/statuses?conversationId=${conv.conversationId}`,
    );
    expect(byConv.body.content.map((s) => s.messageId)).toEqual([ids[1]]);
    const from = encodeURIComponent(new Date(Date.now() - 60_000).toISOString());
    const to = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
    const inRange = await h.json<Page<StatusRow>>(
      'GET',
      `/api/statuses?fromDateTime=${from}&toDateTime=${to}`,
    );
    expect(inRange.body.totalElements).toBe(5);
    const past = encodeURIComponent('2020-01-01T00:00:00Z');
    const none = await h.json<Page<StatusRow>>(
      'GET',
      `/api/statuses?fromDateTime=${past}&toDateTime=${past}`,
    );
    expect(none.body.totalElements).toBe(0);
    const unknown = await h.json<Page<StatusRow>>('GET', `/api/statuses/${randomUUID()}`);
    expect(unknown.status).toBe(200);
    expect(unknown.body.content).toEqual([]);
    const bad = await h.json('GET', '/api/statuses?status=NOPE');
    expect(bad.status).toBe(400);
  });
});

describe('conversations', () => {
  it('lists newest first with filters, and finishes a conversation on LEVERT', async () => {
    const list = await h.json<Page<Record<string, unknown>>>('GET', '/api/conversations');
    expect(list.body.totalElements).toBe(3);
    expect(list.body.content[0]!.messageId).toBe(ids[0]); // last updated by the status writes above
    const finished = await h.json<Page<Record<string, unknown>>>('GET', '/api/conversations?finished=true');
    expect(finished.body.content.map((c) => c.messageId)).toEqual([ids[0]]);
    const byReceiver = await h.json<Page<Record<string, unknown>>>(
      'GET',
      '/api/conversations?receiverIdentifier=910075946&direction=OUTGOING',
    );
    expect(byReceiver.body.totalElements).toBe(3);
    const today = new Date().toISOString().slice(0, 10);
    const byDay = await h.json<Page<Record<string, unknown>>>(
      'GET',
      `/api/conversations?lastUpdateFrom=${today}&lastUpdateTo=${today}`,
    );
    expect(byDay.body.totalElements).toBeGreaterThanOrEqual(1);
    const c = list.body.content[0]!;
    expect(Object.keys(c)).toEqual([
      'id',
      'conversationId',
      'messageId',
      'sender',
      'senderIdentifier',
      'receiver',
      'receiverIdentifier',
      'processIdentifier',
      'documentIdentifier',
      'messageReference',
      'messageTitle',
      'lastUpdate',
      'finished',
      'expiry',
      'direction',
      'serviceIdentifier',
      'messageStatuses',
    ]);
    const byId = await h.json<Record<string, unknown>>('GET', `/api/conversations/${c.id}`);
    expect(byId.body.messageId).toBe(ids[0]);
  });

  it('answers 404 with the reference codes for unknown ids', async () => {
    const byId = await h.json<{ exception: string }>('GET', '/api/conversations/999999');
    expect([byId.status, byId.body.exception]).toEqual([404, 'ConversationNotFoundException']);
    const byMid = await h.json<{ exception: string }>('GET', `/api/conversations/messageId/${randomUUID()}`);
    expect([byMid.status, byMid.body.exception]).toEqual([404, 'MessageNotFoundException']);
  });
});

describe('outgoing messages list', () => {
  it('returns SBDs in the Page JSON with filters, and forgets a deleted message but keeps its history', async () => {
    const page = await h.json<Page<Record<string, unknown>>>('GET', `/api/messages/out?messageId=${ids[2]}`);
    expect(page.body.totalElements).toBe(1);
    expect(page.body.content[0]).toHaveProperty('standardBusinessDocumentHeader');
    const byReceiver = await h.json<Page<unknown>>(
      'GET',
      '/api/messages/out?receiverIdentifier=910075946&size=2',
    );
    expect(byReceiver.body).toMatchObject({ totalElements: 3, numberOfElements: 2, totalPages: 2 });
    expect((await h.fetch(`/api/messages/out/${ids[2]}`, { method: 'DELETE' })).status).toBe(200);
    expect((await h.fetch(`/api/messages/out/${ids[2]}`, { method: 'DELETE' })).status).toBe(200);
    expect((await h.json('GET', `/api/messages/out/${ids[2]}`)).status).toBe(404);
    expect((await h.json('GET', `/api/conversations/messageId/${ids[2]}`)).status).toBe(200);
  });
});
