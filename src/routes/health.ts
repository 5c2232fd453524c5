import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deliveryConfigured } from '../adapters/tokens.js';
import type { RouteDeps } from './types.js';

const health = z.object({
  status: z.enum(['UP', 'DOWN']),
  checks: z.record(z.string(), z.string()).optional(),
});

/**
 * Liveness says the process answers; readiness says it can take messages (Redis reachable). Readiness also says
 * whether delivery to Altinn is configured: without it messages are accepted but wait in the queue.
 */
export const healthRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { store, config }) => {
  const delivery = deliveryConfigured(config) ? 'UP' : 'NOT_CONFIGURED';
  app.get('/health/live', { schema: { tags: ['health'], response: { 200: health } } }, async () => ({
    status: 'UP' as const,
  }));
  const ready = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const redis = await store.ping().catch(() => false);
    return reply
      .status(redis ? 200 : 503)
      .send({ status: redis ? 'UP' : 'DOWN', checks: { redis: redis ? 'UP' : 'DOWN', delivery } });
  };
  app.get('/health/ready', { schema: { tags: ['health'], response: { 200: health, 503: health } } }, ready);
  app.get('/manage/health', { schema: { hide: true } }, ready);
};
