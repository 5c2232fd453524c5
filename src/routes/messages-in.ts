import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { pageQuerySchema, pageSchema, resolvePaging, toPage } from '../domain/page.js';
import { sbdSchema } from '../domain/sbd.js';
import type { IncomingFilter } from '../store/incoming.js';
import { errorResponses, messageIdParam } from './schemas.js';
import type { RouteDeps } from './types.js';

/** The reference's ServiceIdentifier names; anything else is refused with the field named. */
export const SERVICE_IDENTIFIERS = ['DPO', 'DPV', 'DPI', 'DPF', 'DPFIO', 'DPE', 'DPH', 'UNKNOWN'] as const;

const text = z.string().min(1).max(200);
const filterQuery = z.object({
  messageId: text.optional(),
  conversationId: text.optional(),
  receiverIdentifier: text.optional(),
  senderIdentifier: text.optional(),
  serviceIdentifier: z.enum(SERVICE_IDENTIFIERS).optional(),
  process: text.optional().describe('Matches the processIdentifier'),
});
type FilterQuery = z.output<typeof filterQuery>;

const sbdPage = pageSchema(sbdSchema, 'PageStandardBusinessDocument');
type SbdOut = z.output<typeof sbdSchema>;
/** Stored SBDs keep the reference's key order, so they are returned as they are. */
const asSbd = (x: Record<string, unknown>) => x as unknown as SbdOut;
const noContent = z.null().describe('No content');

function toFilter(q: FilterQuery): IncomingFilter {
  const { process, ...rest } = q;
  const f: IncomingFilter = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) f[k as keyof IncomingFilter] = v;
  if (process !== undefined) f.processIdentifier = process;
  return f;
}

/** Incoming messages for the fagsystem: list, peek (returns and locks), pop, delete (acknowledge). */
export const messagesInRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { incoming }) => {
  app.get(
    '/api/messages/in',
    {
      schema: {
        tags: ['messages in'],
        summary: 'Incoming messages waiting for the fagsystem (locked ones too)',
        description: 'Unsorted by default (oldest first); `sort=lastUpdated,asc|desc`.',
        querystring: pageQuerySchema.extend(filterQuery.shape),
        response: { 200: sbdPage, ...errorResponses },
      },
    },
    async (request) => {
      const { page, size, sort, ...filter } = request.query;
      const paging = resolvePaging({ page, size, sort }, ['lastUpdated'], null);
      const { items, total } = await incoming.list(toFilter(filter), paging);
      return toPage(items.map(asSbd), total, paging);
    },
  );

  app.get(
    '/api/messages/in/peek',
    {
      schema: {
        tags: ['messages in'],
        summary: 'Return and lock the oldest unlocked matching message',
        description:
          'The lock lasts IN_LOCK_TIMEOUT_MS; within it only pop and delete apply to the message, and no other peek returns it. 204 when no unlocked message matches.',
        querystring: filterQuery,
        response: { 200: sbdSchema, 204: noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      const sbd = await incoming.peek(toFilter(request.query));
      if (!sbd) return reply.status(204).send(null);
      return asSbd(sbd);
    },
  );

  app.get(
    '/api/messages/in/pop/:messageId',
    {
      schema: {
        tags: ['messages in'],
        summary: "A locked message's payload",
        description:
          'Receipts (arkivmelding_kvittering) carry no payload: 204. Only receipts arrive at this integration point today, so every message is answered 204; the lock is kept until delete. 400 MessageNotLockedException when the message is not locked (peek it first).',
        params: messageIdParam,
        response: { 204: noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      await incoming.pop(request.params.messageId);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/api/messages/in/:messageId',
    {
      schema: {
        tags: ['messages in'],
        summary: 'Acknowledge a locked message: INNKOMMENDE_LEVERT, removed from the queue',
        description: 'Returns the SBD of the removed message. 400 MessageNotLockedException when not locked.',
        params: messageIdParam,
        response: { 200: sbdSchema, ...errorResponses },
      },
    },
    async (request) => asSbd(await incoming.delete(request.params.messageId)),
  );
};
