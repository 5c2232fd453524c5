import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { pushEvent } from '../adapters/webhook-push.js';
import type { Config } from '../config.js';
import { AppError } from '../domain/errors.js';
import { pageQuerySchema, pageSchema, resolvePaging, toPage } from '../domain/page.js';
import { UNREAD_WATCH_ENDS } from '../domain/status.js';
import { EVENTS, RESOURCES, type SubscriptionInput, validateSubscription } from '../domain/subscriptions.js';
import { formatOslo } from '../domain/time.js';
import { Crypto } from '../store/crypto.js';
import { NoticeStore } from '../store/notices.js';
import type { Store } from '../store/store.js';
import { SubscriptionStore } from '../store/subscriptions.js';
import { errorResponses } from './schemas.js';

export interface NoticeRouteOptions {
  config: Config;
  store: Store;
  clock?: () => Date;
}

const subscriptionSchema = z
  .object({
    id: z.number(),
    name: z.string(),
    pushEndpoint: z.string(),
    resource: z.string().describe(RESOURCES.join(' | ')),
    event: z.string().describe(EVENTS.join(' | ')),
    filter: z.string().optional(),
    failing: z
      .boolean()
      .describe('True after an event used up all its delivery attempts; false after the next success'),
    lastDelivery: z
      .object({ ts: z.string(), httpStatus: z.number().optional(), error: z.string().optional() })
      .optional(),
  })
  .meta({ id: 'Subscription' });

// Types are checked here; values (allowed words, URL, filter) in validateSubscription, which names each problem.
const text = z.string().nullish();
const subscriptionInput = z
  .object({
    id: z.unknown().optional().describe('Must be left out: the service assigns it'),
    name: text,
    pushEndpoint: text.describe(
      'http(s) URL the service POSTs events to (called from the service; no credentials in the URL)',
    ),
    resource: text.describe('all | messages'),
    event: text.describe('all | status | unread'),
    filter: text.describe(
      'e.g. status=FEIL,LEVETID_UTLOPT&direction=OUTGOING (names: status, serviceIdentifier, direction)',
    ),
    secret: text.describe(
      'Write-only. Signs each body: X-Eformidling-Signature: sha256=<hex HMAC-SHA256 of the body>',
    ),
  })
  .meta({ id: 'SubscriptionRequest' });

const unreadRow = z
  .object({
    messageId: z.string(),
    conversationId: z.string(),
    receiverIdentifier: z.string(),
    levertTs: z.string(),
    waitedSeconds: z.number(),
    noticesSent: z.number(),
    lastNoticeTs: z.string().nullable(),
  })
  .meta({ id: 'UnreadConfidentialMessage' });

const UNREAD_COLUMNS = [
  'messageId',
  'conversationId',
  'receiverIdentifier',
  'levertTs',
  'waitedSeconds',
  'noticesSent',
  'lastNoticeTs',
] as const;

const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

const empty = (reply: FastifyReply) => reply.status(200).send();
const idParam = z.object({ id: z.coerce.number().int().min(1) });
const notFound = (id: number) =>
  new AppError(404, 'SubscriptionNotFoundException', `Subscription with id = ${id} was not found`);
const duplicate = () =>
  new AppError(
    400,
    'SubscriptionWithSameNameAndPushEndpointAlreadyExists',
    'A subscription with the same name and pushEndpoint already exists',
  );

/** Subscriptions (webhooks) and the unread-confidential report; self-contained so it can sit in any /api scope. */
export const noticeRoutes: FastifyPluginAsyncZod<NoticeRouteOptions> = async (
  app,
  { config, store, clock },
) => {
  const now = clock ?? (() => new Date());
  const crypto = new Crypto(config.DATA_ENCRYPTION_KEY);
  const subs = new SubscriptionStore(store.redis, store.prefix, crypto);
  const notices = new NoticeStore(store.redis, store.prefix);

  const ping = async (endpoint: string, secret: string | null | undefined) => {
    const body = JSON.stringify({ createdTs: formatOslo(now()), event: 'ping' });
    const res = await pushEvent(endpoint, body, secret || null, config.WEBHOOK_TIMEOUT_MS);
    if (!res.ok) {
      throw new AppError(400, 'WebhookPushEndpointPingFailedException', `Ping failed with: ${res.error}.`);
    }
  };

  app.post(
    '/api/subscriptions',
    {
      schema: {
        tags: ['subscriptions'],
        summary: 'Create a webhook subscription (the endpoint is pinged first; a failing ping is a 400)',
        body: subscriptionInput,
        response: { 200: subscriptionSchema, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body as SubscriptionInput;
      validateSubscription(b, 'create');
      const input = {
        name: b.name!,
        pushEndpoint: b.pushEndpoint!,
        resource: b.resource!,
        event: b.event!,
        filter: b.filter || undefined,
        secret: b.secret || undefined,
      };
      if ((await subs.all()).some((s) => s.name === input.name && s.pushEndpoint === input.pushEndpoint)) {
        throw duplicate();
      }
      await ping(input.pushEndpoint, input.secret);
      const created = await subs.create(input);
      if (!created) throw duplicate();
      return created;
    },
  );

  app.get(
    '/api/subscriptions',
    {
      schema: {
        tags: ['subscriptions'],
        summary: 'List subscriptions',
        querystring: pageQuerySchema,
        response: { 200: pageSchema(subscriptionSchema, 'PageSubscription'), ...errorResponses },
      },
    },
    async (request) => {
      const paging = resolvePaging(request.query, ['id'], null);
      const desc = paging.sort?.direction === 'desc';
      const total = await subs.count();
      let items = await subs.list(desc ? 0 : paging.page, desc ? total || 1 : paging.size);
      if (desc)
        items = items.reverse().slice(paging.page * paging.size, paging.page * paging.size + paging.size);
      return toPage(items, total, paging);
    },
  );

  app.get(
    '/api/subscriptions/:id',
    {
      schema: {
        tags: ['subscriptions'],
        summary: 'One subscription',
        params: idParam,
        response: { 200: subscriptionSchema, ...errorResponses },
      },
    },
    async (request) => {
      const s = await subs.get(request.params.id);
      if (!s) throw notFound(request.params.id);
      return s;
    },
  );

  app.put(
    '/api/subscriptions/:id',
    {
      schema: {
        tags: ['subscriptions'],
        summary: 'Update the given fields; a changed pushEndpoint is pinged first',
        params: idParam,
        body: subscriptionInput,
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const b = request.body as SubscriptionInput;
      validateSubscription(b, 'update');
      const cur = await subs.get(id);
      if (!cur) throw notFound(id);
      if (b.pushEndpoint && b.pushEndpoint !== cur.pushEndpoint) {
        const secret = b.secret !== undefined && b.secret !== null ? b.secret : await subs.secretOf(id);
        await ping(b.pushEndpoint, secret);
      }
      const patch = Object.fromEntries(
        (['name', 'pushEndpoint', 'resource', 'event', 'filter', 'secret'] as const)
          .filter((k) => b[k] !== undefined && b[k] !== null)
          .map((k) => [k, b[k] as string]),
      );
      const res = await subs.update(id, patch);
      if (res === 'missing') throw notFound(id);
      if (res === 'duplicate') throw duplicate();
      return empty(reply);
    },
  );

  app.delete(
    '/api/subscriptions/:id',
    {
      schema: {
        tags: ['subscriptions'],
        summary: 'Delete one subscription',
        params: idParam,
        response: errorResponses,
      },
    },
    async (request, reply) => {
      if (!(await subs.delete(request.params.id))) throw notFound(request.params.id);
      return empty(reply);
    },
  );

  app.delete(
    '/api/subscriptions',
    {
      schema: {
        tags: ['subscriptions'],
        summary: 'Delete every subscription',
        response: errorResponses,
      },
    },
    async (_request, reply) => {
      await subs.deleteAll();
      return empty(reply);
    },
  );

  app.get(
    '/api/reports/unread',
    {
      schema: {
        tags: ['reports'],
        summary:
          'Confidential messages LEVERT but not LEST for at least the first UNREAD_ALERT_AFTER age, oldest first (JSON, or CSV with Accept: text/csv or ?format=csv)',
        querystring: z.object({ format: z.enum(['json', 'csv']).optional() }),
        response: {
          200: z.array(unreadRow).describe('As JSON; the CSV has a header row with the same columns'),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const at = now();
      const first = config.UNREAD_ALERT_AFTER[0]!.ms;
      const candidates = await notices.unreadSince(at.getTime() - first);
      // A LEST (or purge, failure) the background has not seen yet still counts: the status set is the truth.
      const read = await Promise.all(
        candidates.map(async (u) => (await store.hasAnyStatus(u.messageId, UNREAD_WATCH_ENDS)) !== false),
      );
      const rows = candidates
        .filter((_u, i) => !read[i])
        .map((u) => ({
          messageId: u.messageId,
          conversationId: u.conversationId,
          receiverIdentifier: u.receiverIdentifier,
          levertTs: u.levertTs,
          waitedSeconds: Math.floor((at.getTime() - u.levertMs) / 1000),
          noticesSent: u.noticesSent,
          lastNoticeTs: u.lastNoticeTs ?? null,
        }));
      const wantsCsv =
        request.query.format === 'csv' ||
        (request.query.format === undefined && /\btext\/csv\b/i.test(request.headers.accept ?? ''));
      if (!wantsCsv) return rows;
      const csv = [
        UNREAD_COLUMNS.join(','),
        ...rows.map((r) => UNREAD_COLUMNS.map((c) => csvCell(r[c])).join(',')),
      ]
        .map((l) => `${l}\r\n`)
        .join('');
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="unread.csv"')
        .send(csv as never);
    },
  );
};
