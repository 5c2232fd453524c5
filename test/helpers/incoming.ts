import { randomUUID } from 'node:crypto';
import type { NewIncomingMessage } from '../../src/store/incoming.js';

export const RESPONSE_PROCESS = 'urn:no:difi:profile:arkivmelding:response:ver1.0';
export const KVITTERING_STANDARD = 'urn:no:difi:arkivmelding:xsd::arkivmelding_kvittering';

export interface ReceiptOptions {
  messageId?: string;
  conversationId?: string;
  relatedToMessageId?: string;
  sender?: string;
  receiver?: string;
  expectedResponseDateTime?: string;
  receiptType?: 'OK' | 'WARNING' | 'ERROR' | 'NOTSUPPORTED';
}

/** An arkivmelding_kvittering as the Digital Post worker stores it for the fagsystem. */
export function receipt(o: ReceiptOptions = {}): NewIncomingMessage {
  const messageId = o.messageId ?? randomUUID();
  const conversationId = o.conversationId ?? randomUUID();
  const sender = o.sender ?? '910075946';
  const receiver = o.receiver ?? '910077473';
  const sbd = {
    standardBusinessDocumentHeader: {
      headerVersion: '1.0',
      sender: [{ identifier: { authority: 'iso6523-actorid-upis', value: `0192:${sender}` } }],
      receiver: [{ identifier: { authority: 'iso6523-actorid-upis', value: `0192:${receiver}` } }],
      documentIdentification: {
        standard: KVITTERING_STANDARD,
        typeVersion: '2.0',
        instanceIdentifier: messageId,
        type: 'arkivmelding_kvittering',
        creationDateAndTime: '2026-11-30T10:00:00+01:00',
      },
      businessScope: {
        scope: [
          {
            type: 'ConversationId',
            instanceIdentifier: conversationId,
            identifier: RESPONSE_PROCESS,
            ...(o.expectedResponseDateTime
              ? { scopeInformation: [{ expectedResponseDateTime: o.expectedResponseDateTime }] }
              : {}),
          },
        ],
      },
    },
    arkivmelding_kvittering: {
      receiptType: o.receiptType ?? 'OK',
      relatedToMessageId: o.relatedToMessageId ?? randomUUID(),
      messages: [],
    },
  };
  return {
    sbdJson: JSON.stringify(sbd),
    messageId,
    conversationId,
    processIdentifier: RESPONSE_PROCESS,
    documentType: KVITTERING_STANDARD,
    senderIdentifier: sender,
    receiverIdentifier: receiver,
    serviceIdentifier: 'DPV',
  };
}
