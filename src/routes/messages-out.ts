import type { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, Errors } from '../domain/errors.js';
import { parseJsonText } from '../domain/json-text.js';
import { pageQuerySchema, pageSchema, resolvePaging, toPage } from '../domain/page.js';
import { sbdSchema } from '../domain/sbd.js';
import { errorResponses, errorSchema, messageIdParam } from './schemas.js';
import type { RouteDeps } from './types.js';

const sbdPage = pageSchema(sbdSchema, 'PageStandardBusinessDocument');
const passThrough = () => (data: unknown) => ({ value: data });
type SbdOut = z.output<typeof sbdSchema>;
/** Stored SBDs are written in the reference's exact key order, so they are returned as they are. */
const asSbd = (x: Record<string, unknown>) => x as unknown as SbdOut;
const empty = (reply: FastifyReply) => reply.status(200).send();

export const messagesOutRoutes: FastifyPluginAsyncZod<RouteDeps> = async (
  app,
  { outgoing, store, config },
) => {
  app.post(
    '/api/messages/out',
    {
      schema: {
        tags: ['messages out'],
        summary: 'Create an outgoing message (does not send it)',
        description:
          'Validates the SBD, looks up the receiver in the address service and stores the message with status OPPRETTET. Re-posting the same SBD is a safe retry.',
        body: sbdSchema,
        response: { 200: sbdSchema, ...errorResponses },
      },
      // The SBD has reference-specific rules (two keys, type-keyed body); parseSbd checks them with field paths.
      validatorCompiler: passThrough,
    },
    async (request) => asSbd((await outgoing.create(request.body)).sbd),
  );

  app.get(
    '/api/messages/out',
    {
      schema: {
        tags: ['messages out'],
        summary: 'Outgoing messages not yet handed over for transport',
        querystring: pageQuerySchema.extend({
          conversationId: z.string().optional(),
          messageId: z.string().optional(),
          processIdentifier: z.string().optional(),
          receiverIdentifier: z.string().optional(),
          senderIdentifier: z.string().optional(),
          serviceIdentifier: z.string().optional(),
        }),
        response: { 200: sbdPage, ...errorResponses },
      },
    },
    async (request) => {
      const { page, size, sort, ...filter } = request.query;
      const paging = resolvePaging(
        { page, size, sort },
        ['lastUpdated', 'messageId', 'conversationId'],
        null,
      );
      const { items, total } = await store.listMessages(filter, paging);
      return toPage((await outgoing.sbdsOf(items.map((m) => m.messageId))).map(asSbd), total, paging);
    },
  );

  app.get(
    '/api/messages/out/:messageId',
    {
      schema: {
        tags: ['messages out'],
        summary: 'One outgoing message',
        params: messageIdParam,
        response: { 200: sbdSchema, ...errorResponses },
      },
    },
    async (request) => asSbd(await outgoing.get(request.params.messageId)),
  );

  app.delete(
    '/api/messages/out/:messageId',
    {
      schema: {
        tags: ['messages out'],
        summary: 'Delete an outgoing message and its files (conversation and statuses are kept)',
        params: messageIdParam,
        response: errorResponses,
      },
    },
    async (request, reply) => {
      await outgoing.delete(request.params.messageId);
      return empty(reply);
    },
  );

  app.post(
    '/api/messages/out/:messageId',
    {
      schema: {
        tags: ['messages out'],
        summary: 'Send: final checks, then the message is durably queued for the Digital Post adapter',
        params: messageIdParam,
        response: errorResponses,
      },
    },
    async (request, reply) => {
      await outgoing.send(request.params.messageId);
      return empty(reply);
    },
  );

  // Raw uploads: any content type, streamed to disk rather than parsed into memory.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, _payload, done) => done(null));
    raw.withTypeProvider<ZodTypeProvider>().put(
      '/api/messages/out/:messageId',
      {
        schema: {
          tags: ['messages out'],
          summary: 'Upload one file (raw body)',
          description:
            'Headers: Content-Type (the file MIME type) and Content-Disposition with filename and name (the title), e.g. `attachment; name="Vedtak"; filename="vedtak.pdf"`. `?title=` overrides the name. Upload arkivmelding.xml first.',
          params: messageIdParam,
          querystring: z.object({ title: z.string().max(1000).optional() }),
          headers: z.looseObject({
            'content-disposition': z.string().optional(),
            'content-type': z.string().optional(),
          }),
          // 409: a send of the message is in progress (repeat the send to complete it).
          response: { ...errorResponses, 409: errorSchema },
        },
      },
      async (request, reply) => {
        const len = request.headers['content-length'];
        await outgoing.upload({
          messageId: request.params.messageId,
          body: request.raw,
          ...(request.headers['content-type'] ? { contentType: request.headers['content-type'] } : {}),
          ...(request.headers['content-disposition']
            ? { contentDisposition: request.headers['content-disposition'] }
            : {}),
          ...(len !== undefined && /^\d+$/.test(len) ? { contentLength: Number(len) } : {}),
          ...(request.query.title !== undefined ? { title: request.query.title } : {}),
        });
        return empty(reply);
      },
    );
  });

  await app.register(async (mp) => {
    await mp.register(multipart, {
      limits: {
        fileSize: config.MULTIPART_MAX_FILE_SIZE + 1,
        fieldSize: config.JSON_BODY_LIMIT,
        fields: 10,
        files: 200,
        parts: 210,
        headerPairs: 50,
      },
      // The "sbd" part always arrives as a stream of raw bytes, whatever its headers say (Spring's client
      // types it application/json; some clients give it a filename), so it is parsed once, here, by us.
      isPartAFile: (fieldName, contentType, fileName) =>
        fieldName === 'sbd' || fileName !== undefined || contentType === 'application/octet-stream',
    });
    mp.withTypeProvider<ZodTypeProvider>().post(
      '/api/messages/out/multipart',
      {
        schema: {
          tags: ['messages out'],
          summary: 'Create and send in one request (small messages)',
          description: `multipart/form-data: first a part named "sbd" with the SBD JSON (with or without Content-Type application/json and a filename), then one part per file (part name = title, filename = file name, Content-Type = MIME type). At most ${config.MULTIPART_MAX_FILE_SIZE} bytes per file. Nothing is kept when any part is refused.`,
          consumes: ['multipart/form-data'],
          response: { 200: sbdSchema, 400: errorSchema, 401: errorSchema, 503: errorSchema },
        },
      },
      async (request) => {
        if (!request.isMultipart())
          throw Errors.unsupportedMediaType('Content-Type must be multipart/form-data');
        const boundaryProblem = multipartBoundaryProblem(request.headers['content-type'] ?? '');
        if (boundaryProblem) throw Errors.badRequest(boundaryProblem);
        let messageId: string | undefined;
        let created = false;
        let sbd: Record<string, unknown> | undefined;
        const parts = request.parts()[Symbol.asyncIterator]();
        // Set when a part's bytes end badly (truncated or malformed body): what fails after it is the client's input.
        let bodyError: unknown;
        try {
          for (;;) {
            const step = await parts.next().catch((e: unknown) => {
              throw multipartReadError(e, request.log);
            });
            if (step.done) break;
            const part = step.value;
            if (part.type === 'file') {
              const file = part.file;
              if (file.destroyed && !file.readableEnded) {
                // The parser gave up on the body (truncated, malformed) before this part was read.
                throw Errors.badRequest(`The multipart body ends inside part "${part.fieldname}"`);
              }
              file.once('error', (e: unknown) => {
                bodyError ??= e;
              });
              file.once('close', () => {
                if (!file.readableEnded) bodyError ??= new Error('part closed before its end');
              });
            }
            if (part.fieldname === 'sbd' && !sbd) {
              if (part.type !== 'file') throw Errors.badRequest('The "sbd" part could not be read');
              const text = await readText(part.file, config.JSON_BODY_LIMIT, 'part "sbd"');
              const res = await outgoing.create(parseJsonText(text, 'part "sbd"'));
              sbd = res.sbd;
              created = res.created;
              const di = (
                sbd.standardBusinessDocumentHeader as {
                  documentIdentification: { instanceIdentifier: string };
                }
              ).documentIdentification;
              messageId = di.instanceIdentifier;
              continue;
            }
            if (part.fieldname === 'sbd') {
              if (part.type === 'file') part.file.resume();
              throw Errors.validation('The multipart request has more than one "sbd" part');
            }
            if (part.type === 'field') continue;
            if (!messageId) {
              part.file.resume();
              throw Errors.validation('The "sbd" part must come before the file parts');
            }
            await outgoing.addFile(messageId, {
              body: part.file,
              filename: part.filename,
              title: part.fieldname,
              contentType: part.mimetype,
              perFileLimit: config.MULTIPART_MAX_FILE_SIZE,
            });
          }
          if (!messageId || !sbd) throw Errors.validation('The multipart request has no "sbd" part');
          await outgoing.send(messageId);
          return asSbd(sbd);
        } catch (e) {
          if (created && messageId) await outgoing.rollback(messageId);
          if (bodyError !== undefined && !(e instanceof AppError))
            throw multipartReadError(bodyError, request.log);
          throw e;
        }
      },
    );
  });
};

/** RFC 2046 §5.1.1: a boundary is 1–70 characters from a small set, and it must be there. */
const BOUNDARY_RE = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

export function multipartBoundaryProblem(contentType: string): string | undefined {
  const m = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType);
  const boundary = m ? (m[1] ?? m[2] ?? '') : undefined;
  if (boundary === undefined || boundary === '') {
    return 'Content-Type multipart/form-data needs a boundary parameter';
  }
  if (boundary.length > 70) {
    return `The multipart boundary is ${boundary.length} characters long; at most 70 are allowed (RFC 2046)`;
  }
  if (!BOUNDARY_RE.test(boundary))
    return 'The multipart boundary contains characters RFC 2046 does not allow';
  return undefined;
}

/** Errors while reading the next part: the plugin's own (with a 4xx status) pass on; the parser's mean bad input. */
function multipartReadError(e: unknown, log: FastifyBaseLogger): unknown {
  if (e instanceof AppError) return e;
  const code = (e as { code?: unknown }).code;
  switch (code) {
    case 'FST_PROTO_VIOLATION':
      return Errors.badRequest('A multipart part may not be named __proto__ or constructor', {}, e);
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return Errors.badJson('A multipart part typed application/json does not hold valid JSON', {}, e);
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return Errors.payloadTooLarge('The multipart request has more parts than allowed', {}, e);
  }
  const status = (e as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return e;
  log.info({ err: { name: (e as Error).name, message: (e as Error).message } }, 'multipart body refused');
  return Errors.badRequest('The multipart body is malformed', {}, e);
}

/** A stream's bytes as UTF-8 text, refused (413) beyond `limit` bytes. */
async function readText(stream: Readable, limit: number, where: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      stream.resume();
      throw Errors.payloadTooLarge(`The ${where} is larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
