import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

const PREFIX = '/api-docs';

/**
 * The docs UI (@fastify/swagger-ui) under /api-docs, loaded on the first request for it: serving messages never
 * needs it, so start-up does not import it. It runs in its own small Fastify instance that answers through
 * `inject`, reading the OpenAPI document from `documented` (the app's documentation instance, itself built on
 * demand).
 */
export const docsRoutes: FastifyPluginAsync<{ documented: () => Promise<FastifyInstance> }> = async (
  app,
  { documented },
) => {
  let docs: Promise<FastifyInstance> | undefined;
  const load = async (): Promise<FastifyInstance> => {
    const { default: swaggerUi } = await import('@fastify/swagger-ui');
    const documentation = await documented();
    const ui = Fastify({ logger: false });
    // The UI asks for its document from the plugin it depends on by name; this one hands over the app's.
    await ui.register(
      fp(
        async (inner) => {
          inner.decorate('swagger', ((opts?: { yaml?: boolean }) =>
            documentation.swagger(opts as never)) as never);
        },
        { name: '@fastify/swagger' },
      ),
    );
    await ui.register(swaggerUi, { routePrefix: PREFIX });
    await ui.ready();
    return ui;
  };
  app.addHook('onClose', async () => {
    if (docs) await (await docs.catch(() => null))?.close();
  });
  const handler = async (request: FastifyRequest, reply: import('fastify').FastifyReply) => {
    docs ??= load();
    const ui = await docs;
    const res = await ui.inject({
      method: 'GET',
      url: request.url,
      headers: request.headers.accept ? { accept: request.headers.accept } : {},
    });
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined && name !== 'content-length' && name !== 'connection')
        reply.header(name, value);
    }
    return reply.status(res.statusCode).send(res.rawPayload);
  };
  app.get(PREFIX, { schema: { hide: true } }, handler);
  app.get(`${PREFIX}/*`, { schema: { hide: true } }, handler);
};
