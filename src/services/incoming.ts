import { Errors } from '../domain/errors.js';
import type { Paging } from '../domain/page.js';
import type { IncomingFilter, IncomingStore } from '../store/incoming.js';
import type { Store } from '../store/store.js';

export type PopResult = { kind: 'none' };

/**
 * The fagsystem's side of incoming messages: list, peek (returns and locks), pop (the payload) and delete
 * (acknowledges, INNKOMMENDE_LEVERT). Locks end after `lockMs`; the clock decides when.
 */
export class IncomingService {
  constructor(
    private readonly incoming: IncomingStore,
    private readonly store: Store,
    private readonly lockMs: number,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async list(
    filter: IncomingFilter,
    paging: Paging,
  ): Promise<{ items: Record<string, unknown>[]; total: number }> {
    const { items, total } = await this.incoming.list(filter, paging);
    return { items: items.map((s) => JSON.parse(s) as Record<string, unknown>), total };
  }

  /** The oldest unlocked matching message, now locked for this caller; null when there is none. */
  async peek(filter: IncomingFilter): Promise<Record<string, unknown> | null> {
    const found = await this.incoming.peek(filter, this.clock(), this.lockMs);
    return found ? (JSON.parse(found.sbdJson) as Record<string, unknown>) : null;
  }

  private async requireLocked(messageId: string): Promise<void> {
    const state = await this.incoming.lockState(messageId, this.clock());
    if (state === 'unknown') {
      throw Errors.messageNotFound(`Message with messageId = ${messageId} was not found`);
    }
    if (state === 'unlocked') {
      throw Errors.messageNotLocked(`Message with messageId = ${messageId} was not locked`);
    }
  }

  /**
   * The message's payload. Receipts carry none, and nothing else arrives here yet (this integration point only
   * sends), so every message we hold is answered with no content; the lock stays until delete.
   */
  async pop(messageId: string): Promise<PopResult> {
    await this.requireLocked(messageId);
    return { kind: 'none' };
  }

  /**
   * Acknowledges a locked message: INNKOMMENDE_LEVERT, then it leaves the queue. The status is written first,
   * so a crash in between leaves a message the fagsystem can delete again, never a silent loss.
   */
  async delete(messageId: string): Promise<Record<string, unknown>> {
    await this.requireLocked(messageId);
    const sbdJson = await this.incoming.getSbdJson(messageId);
    if (!sbdJson) throw Errors.messageNotFound(`Message with messageId = ${messageId} was not found`);
    const res = await this.store.addStatus(messageId, 'INNKOMMENDE_LEVERT', { now: this.clock() });
    await this.incoming.remove(messageId);
    if (res.outcome === 'refused') {
      // The conversation already ended (its time to live ran out): the message was no longer deliverable.
      throw Errors.messageNotFound(`Message with messageId = ${messageId} has expired`);
    }
    return JSON.parse(sbdJson) as Record<string, unknown>;
  }
}
