import { z } from 'zod';
import { STATUSES } from '../domain/status.js';

/** Shared API schemas, registered once so OpenAPI gets $refs. */
export const messageIdParam = z.object({ messageId: z.uuid({ message: 'must be a UUID' }) });

export const errorSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string(),
    instance: z.string(),
    timestamp: z.string(),
    error: z.string(),
    exception: z.string().describe('Stable error code, e.g. MessageAlreadyExistsException'),
    message: z.string(),
    path: z.string(),
    description: z.string().optional(),
    errors: z
      .array(
        z.object({
          field: z.string().optional(),
          path: z.string().optional(),
          line: z.number().optional(),
          column: z.number().optional(),
          code: z.string(),
          message: z.string(),
        }),
      )
      .optional(),
    requestId: z.string(),
  })
  .meta({ id: 'Error', description: 'RFC 9457 problem details together with the reference error fields' });

export const statusSchema = z
  .object({
    id: z.number(),
    lastUpdate: z.string(),
    status: z.enum(STATUSES),
    description: z.string().optional(),
    rawReceipt: z.string().optional(),
    conversationId: z.string(),
    messageId: z.string(),
    convId: z.number(),
  })
  .meta({ id: 'MessageStatus' });

export const conversationSchema = z
  .object({
    id: z.number(),
    conversationId: z.string(),
    messageId: z.string(),
    sender: z.string(),
    senderIdentifier: z.string(),
    receiver: z.string(),
    receiverIdentifier: z.string(),
    processIdentifier: z.string(),
    documentIdentifier: z.string(),
    messageReference: z.string(),
    messageTitle: z.string(),
    lastUpdate: z.string(),
    finished: z.boolean(),
    expiry: z.string(),
    direction: z.enum(['OUTGOING', 'INCOMING']),
    serviceIdentifier: z.string(),
    externalSystemReference: z.string().optional(),
    messageStatuses: z.array(
      z.object({
        id: z.number(),
        lastUpdate: z.string(),
        status: z.string(),
        description: z.string().optional(),
      }),
    ),
    warnings: z
      .array(
        z.object({
          field: z.string().optional(),
          path: z.string().optional(),
          code: z.string(),
          message: z.string(),
        }),
      )
      .optional()
      .describe(
        'Problems recorded without refusing the message (e.g. an antallFiler mismatch, a confidential notification text that does not say what access is needed, nobody notified)',
      ),
    notificationOutcome: z
      .string()
      .optional()
      .describe("Digital Post: whether Altinn's e-mail/SMS notification reached anyone, once known"),
  })
  .meta({ id: 'Conversation' });

export const capabilitiesSchema = z
  .object({
    capabilities: z.array(
      z.object({
        process: z.string(),
        serviceIdentifier: z.string(),
        documentTypes: z.array(z.object({ type: z.string().optional(), standard: z.string() })),
      }),
    ),
  })
  .meta({ id: 'Capabilities' });

export const errorResponses = {
  400: errorSchema,
  401: errorSchema,
  429: errorSchema,
  404: errorSchema,
  503: errorSchema,
};
