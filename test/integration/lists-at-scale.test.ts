import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Status } from '../../src/domain/status.js';
import { Crypto } from '../../src/store/crypto.js';
import { Store } from '../../src/store/store.js';
import { type ConvModel, writeConversations } from '../helpers/bulk.js';
import { type Harness, startHarness } from '../helpers/harness.js';

/**
 * 2,000 conversations written straight through the store, then every list endpoint read over HTTP and compared
 * with a brute-force answer computed from the model of what was written.
 */

type Page<T> = { content: T[]; totalElements: number; totalPages: number; numberOfElements: number };
type ConvRow = { id: number; messageId: string; messageStatuses: { id: number; status: string }[] };
type StatusRow = { id: number; status: string; messageId: string; convId: number; lastUpdate: string };
type SbdRow = { standardBusinessDocumentHeader: { documentIdentification: { instanceIdentifier: string } } };

const N = 2000;
const RECEIVERS = ['910075946', '910075918', '910229028', '991825827', '974760673'];
// 2026-01-10T10:00Z; conversations follow every 5 minutes, three at a time, over about two and a half days.
const BASE = Date.UTC(2026, 0, 10, 10, 0, 0);
const osloDayStart = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d) - 3600_000; // CET in January

let h: Harness;
let models: ConvModel[];
const SIZE = 20;

beforeAll(async () => {
  h = await startHarness();
  const redis = new Redis(inject('redisUrl'), { enableAutoPipelining: true });
  const store = new Store(redis, `${h.prefix}:`, new Crypto(h.config.DATA_ENCRYPTION_KEY));
  try {
    models = await writeConversations(store, N, { baseMs: BASE, receivers: RECEIVERS });
  } finally {
    redis.disconnect();
  }
}, 120_000);
afterAll(() => h.close());

function pageOf<T>(rows: T[], page: number) {
  return { total: rows.length, slice: rows.slice(page * SIZE, page * SIZE + SIZE) };
}
const pagesToCheck = (total: number) => [...new Set([0, 1, 7, Math.max(0, Math.ceil(total / SIZE) - 1)])];

describe('conversations', () => {
  const byLastUpdate = (dir: 1 | -1) => (a: ConvModel, b: ConvModel) =>
    a.lastUpdateMs !== b.lastUpdateMs
      ? dir * (a.lastUpdateMs - b.lastUpdateMs)
      : dir * (String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0);
  const cases: [string, (m: ConvModel) => boolean, string?][] = [
    ['', () => true],
    ['sort=lastUpdate,asc', () => true, 'asc'],
    ['sort=id,desc', () => true, 'id-desc'],
    ['sort=id,asc', () => true, 'id-asc'],
    ['receiverIdentifier=910229028', (m) => m.receiverIdentifier === '910229028'],
    ['finished=true', (m) => m.finished],
    ['finished=false', (m) => !m.finished],
    ['finished=false&pollable=false&direction=OUTGOING', (m) => !m.finished],
    ['direction=INCOMING', () => false],
    ['receiverIdentifier=991825827&finished=true', (m) => m.receiverIdentifier === '991825827' && m.finished],
    [
      'lastUpdateFrom=2026-01-11&lastUpdateTo=2026-01-11',
      (m) => m.lastUpdateMs >= osloDayStart(2026, 1, 11) && m.lastUpdateMs < osloDayStart(2026, 1, 12),
    ],
    [
      'receiverIdentifier=910075946&lastUpdateFrom=2026-01-12',
      (m) => m.receiverIdentifier === '910075946' && m.lastUpdateMs >= osloDayStart(2026, 1, 12),
    ],
    [
      'finished=true&lastUpdateTo=2026-01-10',
      (m) => m.finished && m.lastUpdateMs < osloDayStart(2026, 1, 11),
    ],
    ['sender=0192:910077473&sort=id,asc', () => true, 'id-asc'],
    ['receiver=0192:910229028&finished=false', (m) => m.receiverIdentifier === '910229028' && !m.finished],
    ['senderIdentifier=999999999', () => false],
  ];

  it.each(cases)('GET /api/conversations?%s pages as a full sort would', async (query, match, order) => {
    const expected = models.filter(match);
    if (order === 'id-desc') expected.sort((a, b) => b.id - a.id);
    else if (order === 'id-asc') expected.sort((a, b) => a.id - b.id);
    else expected.sort(byLastUpdate(order === 'asc' ? 1 : -1));
    for (const page of pagesToCheck(expected.length)) {
      const res = await h.json<Page<ConvRow>>('GET', `/api/conversations?${query}&size=${SIZE}&page=${page}`);
      expect(res.status).toBe(200);
      const want = pageOf(expected, page);
      expect(res.body.totalElements).toBe(want.total);
      expect(res.body.content.map((c) => c.id)).toEqual(want.slice.map((m) => m.id));
      for (const [i, c] of res.body.content.entries()) {
        expect(c.messageStatuses.map((s) => [s.id, s.status])).toEqual(
          want.slice[i]!.statuses.map((s) => [s.id, s.status]),
        );
      }
    }
  });

  it('finds by messageId and by a conversationId shared by two messages', async () => {
    const shared = models[51]!;
    expect(shared.conversationId).toBe(models[50]!.conversationId);
    const byCid = await h.json<Page<ConvRow>>(
      'GET',
      `/api/conversations?conversationId=${shared.conversationId}`,
    );
    expect(byCid.body.content.map((c) => c.id)).toEqual(
      [models[50]!, shared].sort((a, b) => b.lastUpdateMs - a.lastUpdateMs || b.id - a.id).map((m) => m.id),
    );
    const both = await h.json<Page<ConvRow>>(
      'GET',
      `/api/conversations?conversationId=${shared.conversationId}&messageId=${shared.messageId}`,
    );
    expect(both.body.content.map((c) => c.id)).toEqual([shared.id]);
    const otherReceiver = RECEIVERS.find((r) => r !== shared.receiverIdentifier)!;
    const none = await h.json<Page<ConvRow>>(
      'GET',
      `/api/conversations?messageId=${shared.messageId}&receiverIdentifier=${otherReceiver}`,
    );
    expect(none.body.totalElements).toBe(0);
  });
});

describe('statuses', () => {
  type Flat = {
    id: number;
    status: Status;
    ms: number;
    messageId: string;
    conversationId: string;
    convId: number;
  };
  const all = (): Flat[] =>
    models.flatMap((m) =>
      m.statuses.map((s) => ({
        ...s,
        messageId: m.messageId,
        conversationId: m.conversationId,
        convId: m.id,
      })),
    );
  const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
  const from = BASE + 24 * 3600_000;
  const to = BASE + 30 * 3600_000;
  const cases: [string, (s: Flat) => boolean, ('id-desc' | 'ms-asc' | 'ms-desc')?][] = [
    ['', () => true],
    ['sort=id,desc', () => true, 'id-desc'],
    ['sort=lastUpdate,desc', () => true, 'ms-desc'],
    ['status=SENDT', (s) => s.status === 'SENDT'],
    ['status=LEVERT&sort=lastUpdate,asc', (s) => s.status === 'LEVERT', 'ms-asc'],
    ['status=LEST&sort=id,desc', (s) => s.status === 'LEST', 'id-desc'],
    [`fromDateTime=${iso(from)}&toDateTime=${iso(to)}`, (s) => s.ms >= from && s.ms <= to],
    [
      `fromDateTime=${iso(from)}&toDateTime=${iso(to)}&status=FEIL&sort=lastUpdate,desc`,
      (s) => s.ms >= from && s.ms <= to && s.status === 'FEIL',
      'ms-desc',
    ],
  ];

  it.each(cases)('GET /api/statuses?%s pages as a full sort would', async (query, match, order) => {
    const expected = all().filter(match);
    if (order === 'id-desc') expected.sort((a, b) => b.id - a.id);
    else if (order === 'ms-asc') expected.sort((a, b) => a.ms - b.ms || a.id - b.id);
    else if (order === 'ms-desc') expected.sort((a, b) => b.ms - a.ms || b.id - a.id);
    else expected.sort((a, b) => a.id - b.id);
    for (const page of pagesToCheck(expected.length)) {
      const res = await h.json<Page<StatusRow>>('GET', `/api/statuses?${query}&size=${SIZE}&page=${page}`);
      expect(res.status).toBe(200);
      const want = pageOf(expected, page);
      expect(res.body.totalElements).toBe(want.total);
      expect(res.body.content.map((s) => [s.id, s.status, s.messageId, s.convId])).toEqual(
        want.slice.map((s) => [s.id, s.status, s.messageId, s.convId]),
      );
    }
  });

  it('answers one message and one status id, and keeps no late LEVERT after LEST', async () => {
    const m = models[20]!; // LEVERT, LEST, then a late LEVERT that was refused
    const res = await h.json<Page<StatusRow>>('GET', `/api/statuses/${m.messageId}`);
    expect(res.body.content.map((s) => s.status)).toEqual(['OPPRETTET', 'LEVERT', 'LEST']);
    const one = m.statuses[1]!;
    const byId = await h.json<Page<StatusRow>>('GET', `/api/statuses?id=${one.id}`);
    expect(byId.body.content.map((s) => [s.id, s.status, s.messageId])).toEqual([
      [one.id, one.status, m.messageId],
    ]);
  });
});

describe('outgoing messages', () => {
  const created = () =>
    [...models].sort((a, b) =>
      a.createdMs !== b.createdMs ? a.createdMs - b.createdMs : a.messageId < b.messageId ? -1 : 1,
    );
  const cases: [string, () => ConvModel[]][] = [
    ['', created],
    ['receiverIdentifier=910075918', () => created().filter((m) => m.receiverIdentifier === '910075918')],
    ['sort=messageId,desc', () => [...models].sort((a, b) => (a.messageId < b.messageId ? 1 : -1))],
    ['sort=lastUpdated,desc', () => created().sort((a, b) => b.createdMs - a.createdMs)],
    [`conversationId=${'x'.repeat(8)}`, () => []],
  ];

  it.each(cases)('GET /api/messages/out?%s pages as a full sort would', async (query, expectedOf) => {
    const expected = expectedOf();
    for (const page of pagesToCheck(expected.length)) {
      const res = await h.json<Page<SbdRow>>('GET', `/api/messages/out?${query}&size=${SIZE}&page=${page}`);
      expect(res.status).toBe(200);
      const want = pageOf(expected, page);
      expect(res.body.totalElements).toBe(want.total);
      expect(
        res.body.content.map(
          (s) => s.standardBusinessDocumentHeader.documentIdentification.instanceIdentifier,
        ),
      ).toEqual(want.slice.map((m) => m.messageId));
    }
  });

  it('filters by conversationId and messageId', async () => {
    const m = models[51]!;
    const res = await h.json<Page<SbdRow>>('GET', `/api/messages/out?conversationId=${m.conversationId}`);
    expect(res.body.totalElements).toBe(2);
    const one = await h.json<Page<SbdRow>>(
      'GET',
      `/api/messages/out?messageId=${m.messageId}&receiverIdentifier=${m.receiverIdentifier}`,
    );
    expect(one.body.totalElements).toBe(1);
  });
});
