/**
 * The arkivmelding_kvittering we hand the fagsystem when Altinn has published a message: Altinn has no
 * receipts of its own, so the integration point makes one (receiptType OK), as the reference does. Pure.
 */
import { createHash } from 'node:crypto';
import { formatOslo } from './time.js';

export const RESPONSE_PROCESS = 'urn:no:difi:profile:arkivmelding:response:ver1.0';
export const KVITTERING_STANDARD = 'urn:no:difi:arkivmelding:xsd::arkivmelding_kvittering';
export const ARKIVMELDING_STANDARD = 'urn:no:difi:arkivmelding:xsd::arkivmelding';

export interface KvitteringInput {
  /** The message being acknowledged. */
  relatedToMessageId: string;
  conversationId: string;
  /** The original message's receiver (the kvittering's sender), bare organisation number. */
  originalReceiver: string;
  /** The original message's sender as the conversation shows it (0192:orgnr[:part]). */
  originalSender: string;
  now: Date;
  ttlHours?: number;
}

/** One kvittering per message: its id is derived from the message's, so a repeated attempt is recognised as the same. */
export function kvitteringMessageId(relatedToMessageId: string): string {
  const h = createHash('sha256').update(`arkivmelding_kvittering:${relatedToMessageId}`).digest('hex');
  // RFC 9562 version 8 (custom) layout.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface Kvittering {
  messageId: string;
  sbd: Record<string, unknown>;
}

export function buildKvittering(k: KvitteringInput): Kvittering {
  const messageId = kvitteringMessageId(k.relatedToMessageId);
  const expiry = new Date(k.now.getTime() + (k.ttlHours ?? 24) * 3_600_000);
  const sbd = {
    standardBusinessDocumentHeader: {
      headerVersion: '1.0',
      sender: [{ identifier: { authority: 'iso6523-actorid-upis', value: `0192:${k.originalReceiver}` } }],
      receiver: [{ identifier: { authority: 'iso6523-actorid-upis', value: k.originalSender } }],
      documentIdentification: {
        standard: KVITTERING_STANDARD,
        typeVersion: '2.0',
        instanceIdentifier: messageId,
        type: 'arkivmelding_kvittering',
        creationDateAndTime: formatOslo(k.now),
      },
      businessScope: {
        scope: [
          {
            type: 'ConversationId',
            instanceIdentifier: k.conversationId,
            identifier: RESPONSE_PROCESS,
            scopeInformation: [{ expectedResponseDateTime: formatOslo(expiry) }],
          },
        ],
      },
    },
    arkivmelding_kvittering: {
      receiptType: 'OK',
      relatedToMessageId: k.relatedToMessageId,
      messages: [],
    },
  };
  return { messageId, sbd };
}
