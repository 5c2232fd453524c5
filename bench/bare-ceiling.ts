import { createCipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Queue } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Config } from '../src/config.js';

/**
 * The practical ceiling: the same four HTTP requests per message, doing only the storage work ours does
 * (Redis hash + index on create, AES-256-GCM file on disk + one hash write per upload, one BullMQ job on
 * send), with no validation, no address-service lookup and no sealing of fields.
 */

const IV_BYTES = 12;
// Ours keeps roughly 2 KB per message in Redis (conversation, status and message hashes), so the bare one does too.
const META_PAD = 'x'.repeat(1200);

export async function buildBareServer(config: Config): Promise<FastifyInstance> {
  const p = `${config.REDIS_PREFIX}:`;
  const key = config.DATA_ENCRYPTION_KEY;
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 });
  const queue = new Queue<{ messageId: string }>('send', { connection: redis, prefix: `${p}bull` });
  const app = Fastify({
    logger: { level: config.LOG_LEVEL },
    bodyLimit: config.JSON_BODY_LIMIT,
    forceCloseConnections: true,
  });
  app.addHook('onClose', async () => {
    await queue.close();
    await redis.quit().catch(() => redis.disconnect());
  });

  app.post('/api/messages/out', async (request) => {
    const body = request.body as {
      standardBusinessDocumentHeader?: { documentIdentification?: { instanceIdentifier?: string } };
    };
    const id =
      body.standardBusinessDocumentHeader?.documentIdentification?.instanceIdentifier ?? randomUUID();
    const now = Date.now();
    await redis
      .multi()
      .hset(`${p}out:${id}`, 'state', 'created', 'blob', JSON.stringify({ sbd: body, meta: META_PAD }))
      .zadd(`${p}out:index`, now, id)
      .exec();
    return body;
  });

  app.post('/api/messages/out/:messageId', async (request, reply) => {
    const { messageId } = request.params as { messageId: string };
    await queue.add('send', { messageId }, { jobId: `send-${messageId}` });
    return reply.status(200).send();
  });

  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, _payload, done) => done(null));
    raw.put('/api/messages/out/:messageId', async (request, reply) => {
      const { messageId } = request.params as { messageId: string };
      const dir = join(config.DATA_DIR, 'out', messageId);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const fileId = randomUUID();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      let size = 0;
      // iv | ciphertext | tag, as ours lays the file out; the tag exists once the cipher has flushed.
      const frame = async function* (source: AsyncIterable<Buffer>) {
        yield iv;
        for await (const chunk of source) {
          size += chunk.length;
          yield chunk;
        }
        yield cipher.getAuthTag();
      };
      await pipeline(
        request.raw as Readable,
        cipher,
        frame,
        createWriteStream(join(dir, `${fileId}.bin`), { mode: 0o600 }),
      );
      await redis.hset(
        `${p}out:${messageId}:files`,
        fileId,
        JSON.stringify({ fileId, size, name: request.headers['content-disposition'] ?? '' }),
      );
      return reply.status(200).send();
    });
  });
  return app;
}
