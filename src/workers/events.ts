import { unreadDescription } from '../domain/subscriptions.js';
import type { UnreadNotice } from '../store/notices.js';
import type { Store } from '../store/store.js';

/** The reference's status event (null fields left out); built from the stored status when delivered. */
export async function statusEvent(store: Store, statusId: number): Promise<Record<string, unknown> | null> {
  const h = await store.redis.hgetall(`${store.prefix}status:${statusId}`);
  if (!h.id) return null;
  const [direction, serviceIdentifier] = await store.redis.hmget(
    `${store.prefix}conv:${h.convId}`,
    'direction',
    'serviceIdentifier',
  );
  return {
    createdTs: h.lastUpdate,
    resource: 'messages',
    event: 'status',
    messageId: h.messageId,
    conversationId: h.conversationId,
    ...(direction ? { direction } : {}),
    ...(serviceIdentifier ? { serviceIdentifier } : {}),
    status: h.status,
    ...(h.description ? { description: h.description } : {}),
  };
}

export function unreadEvent(n: UnreadNotice, confidentialResource: string): Record<string, unknown> {
  return {
    createdTs: n.createdTs,
    resource: 'messages',
    event: 'unread',
    messageId: n.messageId,
    conversationId: n.conversationId,
    direction: 'OUTGOING',
    serviceIdentifier: n.serviceIdentifier,
    receiverIdentifier: n.receiverIdentifier,
    levertTs: n.levertTs,
    waitedSeconds: n.waitedSeconds,
    threshold: n.threshold,
    description: unreadDescription(n.waitedSeconds * 1000, n.receiverIdentifier, confidentialResource),
  };
}
