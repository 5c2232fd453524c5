import { unreadDescription } from '../domain/subscriptions.js';
import type { UnreadNotice } from '../store/notices.js';
import type { Store } from '../store/store.js';

/** The reference's status event (null fields left out); built from the stored status when delivered. */
export async function statusEvent(store: Store, statusId: number): Promise<Record<string, unknown> | null> {
  const [found] = await store.getStatusesWithConversations([statusId]);
  if (!found) return null;
  const { status: s, conversation: conv } = found;
  return {
    createdTs: s.lastUpdate,
    resource: 'messages',
    event: 'status',
    messageId: s.messageId,
    conversationId: s.conversationId,
    direction: conv.direction,
    ...(conv.serviceIdentifier ? { serviceIdentifier: conv.serviceIdentifier } : {}),
    status: s.status,
    ...(s.description ? { description: s.description } : {}),
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
