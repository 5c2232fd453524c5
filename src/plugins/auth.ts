import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Errors } from '../domain/errors.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** HTTP Basic on every /api route; constant-time comparison of hashed credentials. */
export function registerBasicAuth(app: FastifyInstance, username: string, password: string): void {
  const expected = digest(`${username}:${password}`);
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/api/') && request.url !== '/api') return;
    const header = request.headers.authorization ?? '';
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    const given = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    if (!m || !timingSafeEqual(digest(given), expected)) {
      reply.header('WWW-Authenticate', 'Basic realm="eformidling-integrasjonspunkt", charset="UTF-8"');
      throw Errors.unauthorized(
        'Authentication required: HTTP Basic with the configured API_USERNAME / API_PASSWORD',
      );
    }
  });
}
