import type { InfoRecord } from '../domain/capabilities.js';
import type { AddressLookup } from '../services/outgoing.js';

/** The logger the workers use (pino's shape); child loggers bind messageId. */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Log;
}

/** The address service as the worker needs it: the receiver's service record and the sender's name. */
export interface AddressBook extends AddressLookup {
  info(identifier: string): Promise<InfoRecord>;
}

/** Where a generated kvittering goes: the incoming-message store (`IncomingStore.addIncoming`). */
export interface IncomingInput {
  /** The kvittering's SBD as JSON text. */
  sbdJson: string;
  messageId: string;
  conversationId: string;
  processIdentifier: string;
  documentType: string;
  senderIdentifier: string;
  receiverIdentifier: string;
  serviceIdentifier: string;
}

export interface IncomingSink {
  addIncoming(input: IncomingInput): Promise<{ outcome: 'new' | 'duplicate' }>;
}
