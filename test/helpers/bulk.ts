import { createHash, randomUUID } from 'node:crypto';
import { conversationEffects, type Status, transition } from '../../src/domain/status.js';
import { formatOslo } from '../../src/domain/time.js';
import type { Store } from '../../src/store/store.js';
import { sbd, TAUSHETSBELAGT } from './messages.js';

/** What a conversation written by writeConversations should look like, kept outside the store. */
export interface ConvModel {
  id: number;
  messageId: string;
  conversationId: string;
  receiverIdentifier: string;
  createdMs: number;
  lastUpdateMs: number;
  finished: boolean;
  statuses: { id: number; status: Status; ms: number }[];
}

export interface BulkOptions {
  /** Creation time of the first conversation; the others follow in steps, three at a time (ties). */
  baseMs: number;
  stepMs?: number;
  receivers: string[];
  /** Conversations written at once (each is one script call, pipelined). */
  concurrency?: number;
}

/** The statuses written after OPPRETTET for conversation i, with their delay after creation. */
function laterStatuses(i: number): [Status, number][] {
  const out: [Status, number][] = [];
  if (i % 4 !== 0) out.push(['SENDT', 60_000]);
  if (i % 13 === 0) out.push(['FEIL', 90_000]);
  if (i % 5 === 0) out.push(['LEVERT', 120_000]);
  if (i % 10 === 0) out.push(['LEST', 180_000]);
  if (i % 20 === 0) out.push(['LEVERT', 240_000]); // late LEVERT after LEST: refused
  return out;
}

/**
 * Writes n outgoing conversations straight through the store (not over HTTP), with statuses decided by the
 * transition table, and returns the model the lists are checked against. Every 50th conversation shares the
 * conversationId of the one before.
 */
export async function writeConversations(store: Store, n: number, o: BulkOptions): Promise<ConvModel[]> {
  const step = o.stepMs ?? 300_000;
  const models: ConvModel[] = new Array(n);
  const cids: string[] = [];
  for (let i = 0; i < n; i++) cids.push(i % 50 === 1 ? cids[i - 1]! : randomUUID());
  const one = async (i: number) => {
    const messageId = randomUUID();
    const conversationId = cids[i]!;
    const receiverIdentifier = o.receivers[(i * 7 + (i >> 3)) % o.receivers.length]!;
    const createdMs = o.baseMs + Math.floor(i / 3) * step;
    const now = new Date(createdMs);
    const expiry = new Date(createdMs + 24 * 3600_000);
    const json = JSON.stringify(sbd({ messageId, conversationId, receiver: receiverIdentifier }));
    const id = await store.createOutgoing(
      {
        conversationId,
        messageId,
        sender: '0192:910077473',
        senderIdentifier: '910077473',
        receiver: `0192:${receiverIdentifier}`,
        receiverIdentifier,
        processIdentifier: TAUSHETSBELAGT,
        documentIdentifier: 'urn:no:difi:arkivmelding:xsd::arkivmelding',
        messageReference: conversationId,
        messageTitle: '',
        lastUpdate: formatOslo(now),
        expiry: formatOslo(expiry),
        direction: 'OUTGOING',
        serviceIdentifier: 'DPV',
      },
      {
        messageId,
        conversationId,
        processIdentifier: TAUSHETSBELAGT,
        receiverIdentifier,
        senderIdentifier: '910077473',
        serviceIdentifier: 'DPV',
        documentType: 'urn:no:difi:arkivmelding:xsd::arkivmelding',
        type: 'arkivmelding',
        resource: 'eformidling-dpv-taushetsbelagt',
        confidential: true,
        expiry: formatOslo(expiry),
        expiryMs: expiry.getTime(),
        lastUpdated: formatOslo(now),
        lastUpdatedMs: createdMs,
        inputHash: createHash('sha256').update(json).digest('hex'),
      },
      json,
      now,
    );
    if (id === null) throw new Error(`messageId ${messageId} taken`);
    const m: ConvModel = {
      id,
      messageId,
      conversationId,
      receiverIdentifier,
      createdMs,
      lastUpdateMs: createdMs,
      finished: false,
      statuses: [],
    };
    models[i] = m;
    const [opprettet] = (
      await store.listStatuses({ messageId }, { page: 0, size: 1, sort: null, sorted: false })
    ).items;
    m.statuses.push({ id: opprettet!.id, status: 'OPPRETTET', ms: createdMs });
    for (const [status, delay] of laterStatuses(i)) {
      const expected = transition(new Set(m.statuses.map((s) => s.status)), status);
      const ms = createdMs + delay;
      const r = await store.addStatus(messageId, status, { now: new Date(ms) });
      if (r.outcome !== expected)
        throw new Error(`${status} on #${i}: store ${r.outcome}, table ${expected}`);
      if (r.outcome === 'new') {
        m.statuses.push({ id: r.id, status, ms });
        m.lastUpdateMs = ms;
        if (conversationEffects(status).finished) m.finished = true;
      }
    }
  };
  const width = o.concurrency ?? 64;
  for (let start = 0; start < n; start += width) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(n, start + width); i++) batch.push(one(i));
    await Promise.all(batch);
  }
  return models;
}
