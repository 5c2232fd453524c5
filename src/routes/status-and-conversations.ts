import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Errors } from '../domain/errors.js';
import { pageQuerySchema, pageSchema, resolvePaging, toPage } from '../domain/page.js';
import { STATUSES } from '../domain/status.js';
import { parseDateTime } from '../domain/time.js';
import type { ConversationRecord, StatusRecord, Store } from '../store/store.js';
import { conversationSchema, errorResponses, messageIdParam, statusSchema } from './schemas.js';
import type { RouteDeps } from './types.js';

const statusPage = pageSchema(statusSchema, 'PageMessageStatus');
const conversationPage = pageSchema(conversationSchema, 'PageConversation');

const dateTimeParam = z
  .string()
  .refine((v) => parseDateTime(v) !== null, { message: 'must be an ISO-8601 date-time' })
  .transform((v) => parseDateTime(v)!.date.getTime());
const dayParam = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be yyyy-MM-dd');
const boolParam = z.enum(['true', 'false']).transform((v) => v === 'true');

function publicStatus(s: Awaited<ReturnType<Store['listStatuses']>>['items'][number]) {
  const { ms: _ms, ...rest } = s;
  return rest;
}

function withStatuses(c: ConversationRecord, statuses: StatusRecord[]) {
  const { lastUpdateMs: _l, pollable: _p, warnings, notificationOutcome, ...rest } = c;
  return {
    ...rest,
    messageStatuses: statuses.map((s) => ({
      id: s.id,
      lastUpdate: s.lastUpdate,
      status: s.status,
      ...(s.description ? { description: s.description } : {}),
    })),
    ...(warnings.length ? { warnings } : {}),
    ...(notificationOutcome ? { notificationOutcome } : {}),
  };
}

export const statusAndConversationRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { store }) => {
  app.get(
    '/api/statuses',
    {
      schema: {
        tags: ['statuses'],
        summary: 'Find statuses (fromDateTime and toDateTime apply only together, inclusive)',
        querystring: pageQuerySchema.extend({
          id: z.coerce.number().int().optional(),
          messageId: z.string().optional(),
          conversationId: z.string().optional(),
          status: z.enum(STATUSES).optional(),
          fromDateTime: dateTimeParam.optional(),
          toDateTime: dateTimeParam.optional(),
        }),
        response: { 200: statusPage, ...errorResponses },
      },
    },
    async (request) => {
      const { page, size, sort, fromDateTime, toDateTime, ...f } = request.query;
      const paging = resolvePaging({ page, size, sort }, ['id', 'lastUpdate'], {
        property: 'id',
        direction: 'asc',
      });
      const { items, total } = await store.listStatuses(
        {
          ...f,
          ...(fromDateTime !== undefined ? { fromMs: fromDateTime } : {}),
          ...(toDateTime !== undefined ? { toMs: toDateTime } : {}),
        },
        paging,
      );
      return toPage(items.map(publicStatus), total, paging);
    },
  );

  app.get(
    '/api/statuses/:messageId',
    {
      schema: {
        tags: ['statuses'],
        summary: "One message's statuses (an unknown id gives an empty page)",
        params: z.object({ messageId: z.string().min(1).max(100) }),
        querystring: pageQuerySchema,
        response: { 200: statusPage, ...errorResponses },
      },
    },
    async (request) => {
      const paging = resolvePaging(request.query, ['id', 'lastUpdate'], { property: 'id', direction: 'asc' });
      const { items, total } = await store.listStatuses({ messageId: request.params.messageId }, paging);
      return toPage(items.map(publicStatus), total, paging);
    },
  );

  app.get(
    '/api/conversations',
    {
      schema: {
        tags: ['conversations'],
        summary: 'Find conversations (both directions); lastUpdateFrom/To are inclusive days, Europe/Oslo',
        querystring: pageQuerySchema.extend({
          conversationId: z.string().optional(),
          messageId: z.string().optional(),
          receiver: z.string().optional(),
          receiverIdentifier: z.string().optional(),
          sender: z.string().optional(),
          senderIdentifier: z.string().optional(),
          serviceIdentifier: z.string().optional(),
          messageReference: z.string().optional(),
          messageTitle: z.string().optional(),
          pollable: boolParam.optional(),
          finished: boolParam.optional(),
          direction: z.enum(['OUTGOING', 'INCOMING']).optional(),
          lastUpdateFrom: dayParam.optional(),
          lastUpdateTo: dayParam.optional(),
        }),
        response: { 200: conversationPage, ...errorResponses },
      },
    },
    async (request) => {
      const { page, size, sort, lastUpdateFrom, lastUpdateTo, ...f } = request.query;
      const paging = resolvePaging({ page, size, sort }, ['lastUpdate', 'id'], {
        property: 'lastUpdate',
        direction: 'desc',
      });
      const from = lastUpdateFrom ? parseDateTime(`${lastUpdateFrom}T00:00:00`)?.date.getTime() : undefined;
      const to = lastUpdateTo ? parseDateTime(`${lastUpdateTo}T23:59:59.999`)?.date.getTime() : undefined;
      const { items, total, statuses } = await store.listConversations(
        {
          ...f,
          ...(from !== undefined ? { lastUpdateFromMs: from } : {}),
          ...(to !== undefined ? { lastUpdateToMs: to } : {}),
        },
        paging,
      );
      return toPage(
        items.map((c) => withStatuses(c, statuses.get(c.id) ?? [])),
        total,
        paging,
      );
    },
  );

  app.get(
    '/api/conversations/:id',
    {
      schema: {
        tags: ['conversations'],
        summary: 'One outgoing conversation by its numeric id',
        params: z.object({ id: z.coerce.number().int().min(1) }),
        response: { 200: conversationSchema, ...errorResponses },
      },
    },
    async (request) => {
      const found = await store.getConversationWithStatuses(request.params.id);
      if (found?.conversation.direction !== 'OUTGOING') {
        throw Errors.conversationNotFound(`Conversation with id = ${request.params.id} was not found`);
      }
      return withStatuses(found.conversation, found.statuses);
    },
  );

  app.get(
    '/api/conversations/messageId/:messageId',
    {
      schema: {
        tags: ['conversations'],
        summary: 'One outgoing conversation by messageId',
        params: messageIdParam,
        response: { 200: conversationSchema, ...errorResponses },
      },
    },
    async (request) => {
      const id = await store.conversationIdOfMessage(request.params.messageId);
      const found = id === null ? null : await store.getConversationWithStatuses(id);
      if (found?.conversation.direction !== 'OUTGOING') {
        throw Errors.messageNotFound(`Message with messageId = ${request.params.messageId} was not found`);
      }
      return withStatuses(found.conversation, found.statuses);
    },
  );
};
