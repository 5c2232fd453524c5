import type { Queue } from 'bullmq';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import {
  type FastifyPluginAsyncZod,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { Redis } from 'ioredis';
import { AddressServiceClient } from './adapters/address-service.js';
import { addressServiceTokens, maskinportenOf } from './adapters/tokens.js';
import type { Config } from './config.js';
import { guardApiRoutes, protectedApi } from './plugins/auth.js';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from './plugins/errors.js';
import { registerUnreadBodyHandling } from './plugins/unread-body.js';
import { createSendQueue, type SendJobData } from './queues/send-queue.js';
import { createTtlQueue, scheduleExpiry, type TtlJobData } from './queues/ttl-queue.js';
import { capabilitiesRoutes } from './routes/capabilities.js';
import { docsRoutes } from './routes/docs.js';
import { healthRoutes } from './routes/health.js';
import { messagesInRoutes } from './routes/messages-in.js';
import { messagesOutRoutes } from './routes/messages-out.js';
import { noticeRoutes } from './routes/notices.js';
import { statusAndConversationRoutes } from './routes/status-and-conversations.js';
import type { RouteDeps } from './routes/types.js';
import { IncomingService } from './services/incoming.js';
import { type AddressLookup, OutgoingService } from './services/outgoing.js';
import { Crypto } from './store/crypto.js';
import { FileStore, startPartialSweeper } from './store/files.js';
import { IncomingStore } from './store/incoming.js';
import { createRedis } from './store/redis.js';
import { Store } from './store/store.js';

export interface AppDeps {
  redis: Redis;
  addressService: AddressLookup;
  clock: () => Date;
  /** The send queue; defaults to a BullMQ queue on the app's Redis connection. */
  queue: Queue<SendJobData>;
  /** pino destination for tests that inspect log lines. */
  logStream: NodeJS.WritableStream;
}

/**
 * The API's route plugins, in registration order. Each is registered inside `protectedApi`, so its routes
 * answer only authenticated requests. A new /api route plugin is added here and nowhere else.
 */
export const API_ROUTES: readonly FastifyPluginAsyncZod<RouteDeps>[] = [
  capabilitiesRoutes,
  messagesOutRoutes,
  messagesInRoutes,
  statusAndConversationRoutes,
  noticeRoutes,
];

/** How much of a refused request's unread body is read and discarded to keep the connection usable. */
export const UNREAD_BODY_DRAIN_LIMIT = 8 * 1024 * 1024;

export const APP_VERSION = '0.1.0';

/** Everything a log line must never carry: credentials and confidential text. */
export const LOG_REDACT = [
  'req.headers.authorization',
  'req.headers["content-disposition"]',
  '*.password',
  '*.token',
  '*.bearerToken',
  '*.title',
  '*.tittel',
  '*.varselTekst',
  '*.taushetsbelagtVarselTekst',
];

/** One log line per request, when it is answered, carrying what Fastify's 'incoming request' line did. */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    const line = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}

/** Responses are written as built (the SBD's key order matters); zod schemas document them. */
const serializeAsBuilt = () => (data: unknown) => JSON.stringify(data);

/**
 * Fastify's schema compilers from the start: zod's for requests, serializeAsBuilt for responses. Without them Fastify
 * loads its own JSON-schema compilers (ajv and fast-json-stringify, ~55 ms of start-up) only to have them replaced.
 */
const zodCompilers = {
  compilersFactory: { buildValidator: () => validatorCompiler, buildSerializer: () => serializeAsBuilt },
} as unknown as FastifyServerOptions['schemaController'];

/** Fastify (made with zodCompilers) typed by its zod schemas. */
function withZod(app: FastifyInstance) {
  return app.withTypeProvider<ZodTypeProvider>();
}

/** The routes the service serves and documents: public health, and everything under /api in the protected scope. */
async function registerRoutes(app: FastifyInstance, config: Config, routeDeps: RouteDeps): Promise<void> {
  // Public: liveness and readiness only.
  await app.register(healthRoutes, routeDeps);
  // Everything under /api: registered inside the one protected scope (the start fails otherwise).
  await app.register(protectedApi, {
    auth:
      config.API_AUTH === 'basic'
        ? {
            username: config.API_USERNAME!,
            password: config.API_PASSWORD!,
            failureLimit: config.AUTH_FAILURE_LIMIT,
            failureWindowMs: config.AUTH_FAILURE_WINDOW_MS,
            lockoutMs: config.AUTH_LOCKOUT_MS,
          }
        : undefined,
    routes: API_ROUTES,
    deps: routeDeps,
  });
}

/**
 * A documentation-only instance: @fastify/swagger and the same routes as the service, registered with inert
 * dependencies (a Redis client that never connects; nothing here answers a request). Its `swagger()` is the
 * service's OpenAPI document. Serving messages never needs it, so it is built on demand.
 */
export async function buildDocumentationApp(config: Config): Promise<FastifyInstance> {
  const { default: swagger } = await import('@fastify/swagger');
  const app = withZod(Fastify({ logger: false, schemaController: zodCompilers }));
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'eFormidling integration point for confidential post',
        version: APP_VERSION,
        description:
          'NextMove-compatible REST API for sending taushetsbelagt arkivmelding over Altinn Digital Post (DPV).',
      },
      components: { securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } } },
      security: config.API_AUTH === 'basic' ? [{ basicAuth: [] }] : [],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  // Route plugins build their stores on registration; this client never connects and no command is sent.
  const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  app.addHook('onClose', async () => redis.disconnect());
  const inert = {} as never;
  await registerRoutes(app, config, {
    config,
    store: new Store(redis, `${config.REDIS_PREFIX}:`, new Crypto(config.DATA_ENCRYPTION_KEY)),
    outgoing: inert,
    incoming: inert,
    addressService: inert,
    queue: inert,
  });
  await app.ready();
  return app;
}

/** Builds the service; never listens. Whoever opens a resource here closes it on app close. */
export async function buildApp(config: Config, deps: Partial<AppDeps> = {}): Promise<FastifyInstance> {
  const base = Fastify({
    schemaController: zodCompilers,
    logger: {
      level: config.LOG_LEVEL,
      redact: { paths: LOG_REDACT, censor: '[redacted]' },
      serializers: {
        // Query strings can carry titles (?title=), so only the path is logged.
        req: (req: { method: string; url: string; id: string }) => ({
          method: req.method,
          path: req.url.split('?')[0],
          id: req.id,
        }),
      },
      ...(deps.logStream ? { stream: deps.logStream } : {}),
    },
    bodyLimit: config.JSON_BODY_LIMIT,
    logController: new OneLinePerRequest(),
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    forceCloseConnections: true,
    // A client that stops sending (a stalled upload, a vanished peer) is cut off, and the abort path then removes
    // its partial file: nothing waits for ever.
    connectionTimeout: config.HTTP_IDLE_TIMEOUT_MS,
    // Errors raised before routing (bad percent-encoding, over-long path parameters) and by Node's HTTP
    // parser (header overflow, malformed requests) get the same documented body as every other error.
    frameworkErrors: frameworkErrorHandler(config.ERROR_EXCEPTION_STYLE),
    clientErrorHandler: clientErrorHandler(config.ERROR_EXCEPTION_STYLE),
  });
  const app = withZod(base);
  guardApiRoutes(app);

  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });

  const redis = deps.redis ?? createRedis(config.REDIS_URL, 'api');
  // Without a listener ioredis prints every failed reconnect as an unhandled error; requests already answer 503.
  if (!deps.redis)
    redis.on('error', (err: Error) => app.log.warn({ err: err.message }, 'Redis connection error'));
  const prefix = `${config.REDIS_PREFIX}:`;
  const sealing = new Crypto(config.DATA_ENCRYPTION_KEY);
  const store = new Store(redis, prefix, sealing);
  const files = new FileStore(config.DATA_DIR, sealing.fileKey);
  // Without a configured token the address service gets a Maskinporten token (SERVICE_REGISTRY_SCOPE), if set up.
  const srTokens = addressServiceTokens(config, maskinportenOf(config));
  const addressService =
    deps.addressService ??
    new AddressServiceClient({
      baseUrl: config.SERVICE_REGISTRY_URL,
      verify: config.SERVICE_REGISTRY_VERIFY,
      timeoutMs: config.SERVICE_REGISTRY_TIMEOUT_MS,
      cacheSeconds: config.SERVICE_REGISTRY_CACHE_SECONDS,
      ...(config.SERVICE_REGISTRY_TOKEN ? { bearerToken: config.SERVICE_REGISTRY_TOKEN } : {}),
      ...(srTokens && !config.SERVICE_REGISTRY_TOKEN ? { tokenSource: srTokens } : {}),
      log: app.log,
    });
  // The queues get a connection of their own: BullMQ defines its scripts on the connection it is given, and ioredis
  // copies every defined script onto each (auto-)pipeline the connection makes, which on the store's connection is
  // every batch of commands.
  // Opened with the app, so a queue first used while Redis is away finds a connection that was ready before.
  const queueRedis = deps.redis ? undefined : createRedis(config.REDIS_URL, 'api');
  queueRedis?.on('error', (err: Error) =>
    app.log.warn({ err: err.message }, 'Redis connection error (queues)'),
  );
  const queueConnection = queueRedis ?? redis;
  const queue = deps.queue ?? createSendQueue(queueConnection, prefix);
  // Opened on the first send, so building the app (and the OpenAPI document) touches no queue.
  // A queue first opened while Redis is down stays broken, so a failed schedule drops it for the next send.
  let ttlQueue: Queue<TtlJobData> | undefined;
  const scheduleTtl = async (messageId: string, expiryMs: number, nowMs: number) => {
    ttlQueue ??= createTtlQueue(queueConnection, prefix);
    const q = ttlQueue;
    try {
      await scheduleExpiry(q, messageId, expiryMs, nowMs);
    } catch (e) {
      if (ttlQueue === q) ttlQueue = undefined;
      await q.close().catch(() => {});
      throw e;
    }
  };
  const outgoing = new OutgoingService(
    config,
    store,
    files,
    addressService,
    queue,
    deps.clock,
    scheduleTtl,
    app.log,
  );
  const incoming = new IncomingService(
    new IncomingStore(redis, prefix, sealing),
    store,
    config.IN_LOCK_TIMEOUT_MS,
    deps.clock,
  );
  let stopSweeper: (() => void) | undefined;
  app.addHook('onReady', async () => {
    stopSweeper = await startPartialSweeper(files, {
      maxAgeMs: config.PARTIAL_FILE_MAX_AGE_MS,
      intervalMs: config.PARTIAL_FILE_SWEEP_INTERVAL_MS,
      onSwept: (removed) => app.log.info({ removed }, 'removed abandoned partial uploads'),
      onError: (err) => app.log.error({ err }, 'sweeping partial uploads failed'),
    });
  });
  app.addHook('onClose', async () => {
    stopSweeper?.();
    // A queue closed while its connection is still starting reports that failure later, with no listener
    // left: the process would crash. Let it finish starting first.
    // Bounded: with Redis away the connection keeps retrying and never finishes starting (the queue's error
    // listener takes what it reports after the close).
    if (!deps.queue) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        queue.waitUntilReady().catch(() => undefined),
        new Promise((r) => {
          timer = setTimeout(r, 2000);
        }),
      ]);
      clearTimeout(timer);
      await queue.close();
    }
    await ttlQueue?.close();
    if (!deps.redis) await redis.quit().catch(() => redis.disconnect());
    if (queueRedis) await queueRedis.quit().catch(() => queueRedis.disconnect());
  });

  registerErrorHandling(app, config.ERROR_EXCEPTION_STYLE);
  registerUnreadBodyHandling(app, UNREAD_BODY_DRAIN_LIMIT);
  if (config.API_AUTH === 'none')
    app.log.warn('API_AUTH=none: the /api routes are open to anyone who can reach this port');

  // The OpenAPI document (and @fastify/swagger with it) is built on the first request for it or the docs UI.
  let documentation: Promise<FastifyInstance> | undefined;
  const documented = (): Promise<FastifyInstance> => {
    documentation ??= buildDocumentationApp(config).catch((e: unknown) => {
      documentation = undefined;
      throw e;
    });
    return documentation;
  };
  app.addHook('onClose', async () => {
    if (documentation) await (await documentation.catch(() => null))?.close();
  });
  await app.register(docsRoutes, { documented });
  app.get('/openapi.json', { schema: { hide: true } }, async () => (await documented()).swagger());

  const routeDeps: RouteDeps = {
    config,
    store,
    outgoing,
    incoming,
    addressService,
    queue,
    ...(deps.clock ? { clock: deps.clock } : {}),
  };
  await registerRoutes(app, config, routeDeps);
  return app;
}
