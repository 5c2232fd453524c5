import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { decodeJwt, decodeProtectedHeader, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import {
  ORG_DPO,
  ORG_DPV_ORDINARY_ONLY,
  ORG_DPV_TAUSHETSBELAGT,
  ORG_NO_CONFIDENTIAL_ROLES,
  ORG_SENDER,
  SANDBOX_ORGS,
} from './address-service-seed.js';
import {
  AltinnProblem,
  appendTo,
  E,
  lacksRolesStatusText,
  plainProblem,
  validationProblem,
} from './altinn-problems.js';
import {
  CORRESPONDENCE_STATUSES,
  CorrespondenceRecord,
  type CorrespondenceStatus,
  detailsJson,
  notificationAtPublish,
  overviewJson,
  type SandboxAttachment,
  type SandboxCorrespondence,
  type SandboxParty,
  uuidv7,
} from './altinn-state.js';
import {
  type CorrespondenceRequest,
  checkBusinessRules,
  matchFiles,
  orgnrOf,
  readCorrespondenceRequest,
  type Tree,
  treeFromForm,
  treeFromJson,
  type UploadedFile,
} from './altinn-validation.js';

/**
 * A stand-in for Altinn 3 Correspondence (and the Maskinporten grant and token exchange in front of it): the same
 * paths, JSON names, enum strings and error bodies, a publish step after a delay, seeded parties and resources, and
 * controls for tests and demos — faults queued per operation, a record of every upload, and recipient actions
 * (read, fail, purge, publish now) in process or over HTTP under `/__fake/`.
 */

export type {
  NotificationOutcome,
  SandboxCorrespondence,
  SandboxParty,
  StatusEntry,
} from './altinn-state.js';

export type FaultOperation = 'upload' | 'overview' | 'details' | 'search' | 'purge' | 'exchange' | 'token';

export type FaultAnswer =
  | { status: number; body?: string; contentType?: string; headers?: Record<string, string> }
  | { kind: 'cut' }
  | { kind: 'timeout'; ms: number }
  | { kind: 'no-id' }
  | { kind: 'crash-after' };

export interface RecordedUpload {
  at: string;
  authorization?: string;
  /** What the sandbox answered; 0 when it answered nothing (timeout, crash-after). */
  status: number;
  fields: Record<string, string[]>;
  attachments: { fieldName: string; filename: string; contentType: string; size: number; sha256: string }[];
  correspondenceIds: string[];
}

export interface AltinnSandboxOptions {
  port?: number;
  host?: string;
  /** Time from initialisation to the publish step (default 200 ms); a later requestedPublishTime is honoured. */
  publishDelayMs?: number;
  /** Bearer tokens accepted on correspondence endpoints as they are. */
  staticTokens?: string[];
  /** Maskinporten clients: client_id → public JWK that verifies its grant assertions. */
  maskinportenClients?: Record<string, JWK>;
  resources?: { id: string; confidential: boolean }[];
  parties?: SandboxParty[];
  clock?: () => Date;
}

export interface AltinnSandbox {
  url: string;
  correspondenceUrl: string;
  tokenUrl: string;
  exchangeUrl: string;
  /** The audience a Maskinporten grant assertion must name (the stand-in's issuer identifier). */
  maskinportenAudience: string;
  uploads: RecordedUpload[];
  correspondences(): SandboxCorrespondence[];
  fault(operation: FaultOperation, ...answers: FaultAnswer[]): void;
  expireTokens(): void;
  read(correspondenceId: string): Promise<void>;
  fail(correspondenceId: string, statusText?: string): Promise<void>;
  purge(correspondenceId: string): Promise<void>;
  publishNow(correspondenceId: string): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_RESOURCES: readonly { id: string; confidential: boolean }[] = [
  { id: 'eformidling-dpv-taushetsbelagt', confidential: true },
  { id: 'eformidling-dpv', confidential: false },
  { id: 'eformidling-dpv-administrasjon', confidential: false },
  { id: 'eformidling-dpv-helsesosialogomsorg', confidential: false },
];

const DEFAULT_NOTIFICATION: Record<string, SandboxParty['notification']> = {
  [ORG_DPV_TAUSHETSBELAGT]: { email: 'sent' },
  [ORG_DPV_ORDINARY_ONLY]: { email: 'sent', sms: 'sent' },
  [ORG_DPO]: { email: 'failed' },
  [ORG_SENDER]: {},
  [ORG_NO_CONFIDENTIAL_ROLES]: {},
};

/** The address-service sandbox's organisations; all but ORG_NO_CONFIDENTIAL_ROLES hold the confidential roles. */
export const DEFAULT_PARTIES: readonly SandboxParty[] = SANDBOX_ORGS.map((o) => ({
  orgnr: o.identifier,
  name: o.organizationName,
  hasConfidentialRoles: o.identifier !== ORG_NO_CONFIDENTIAL_ROLES,
  notification: DEFAULT_NOTIFICATION[o.identifier] ?? {},
}));

/** Scopes that let an exchanged token create and read correspondences (directly, or through eFormidling's proxy). */
const WRITE_SCOPES = ['altinn:correspondence.write', 'eformidling:dpv'];
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const MASKINPORTEN_TOKEN_SECONDS = 120;
const ALTINN_TOKEN_SECONDS = 1800;
const MAX_ASSERTION_LIFETIME_SECONDS = 120;
const MAX_TIMER_MS = 2_147_483_647;

interface IssuedToken {
  kind: 'maskinporten' | 'altinn' | 'static';
  scopes: string[];
  expiresAt: number;
  expired: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    altinnFault?: FaultAnswer;
    altinnUpload?: RecordedUpload;
  }
  interface FastifyContextConfig {
    altinnOperation?: FaultOperation;
  }
}

const faultAnswerSchema = z.union([
  z.object({
    status: z.number().int().min(100).max(599),
    body: z.string().optional(),
    contentType: z.string().min(1).optional(),
    headers: z.record(z.string(), z.string()).optional(),
  }),
  z.object({ kind: z.literal('cut') }),
  z.object({ kind: z.literal('timeout'), ms: z.number().int().min(0).max(600_000) }),
  z.object({ kind: z.literal('no-id') }),
  z.object({ kind: z.literal('crash-after') }),
]);
const faultRequestSchema = z.object({
  operation: z.enum(['upload', 'overview', 'details', 'search', 'purge', 'exchange', 'token']),
  answers: z.array(faultAnswerSchema).min(1).max(100),
});

class ControlError extends Error {
  constructor(
    readonly status: 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

function displayHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function bearerOf(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m?.[1];
}

/** Altinn answers 406 when an Accept header allows neither application/json nor a wildcard covering it. */
function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    const refused = params.some((p) => /^q=0(\.0*)?$/.test(p));
    return !refused && (type === 'application/json' || type === 'application/*' || type === '*/*');
  });
}

function unauthorized(reply: FastifyReply): FastifyReply {
  return reply.code(401).header('www-authenticate', 'Bearer').send();
}

/** Flattens a JSON body to dotted form keys, so JSON creates are recorded like multipart ones. */
function flatten(value: unknown, prefix: string, out: Record<string, string[]>): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      flatten(v, `${prefix}[${i}]`, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== null && value !== undefined) {
    appendTo(out, prefix, String(value));
  }
}

export async function startAltinnSandbox(opts: AltinnSandboxOptions = {}): Promise<AltinnSandbox> {
  const clock = opts.clock ?? (() => new Date());
  const publishDelayMs = opts.publishDelayMs ?? 200;
  const resources = new Map((opts.resources ?? DEFAULT_RESOURCES).map((r) => [r.id.toLowerCase(), r]));
  const parties = new Map((opts.parties ?? DEFAULT_PARTIES).map((p) => [p.orgnr, p]));
  const clients = opts.maskinportenClients ?? {};
  const tokens = new Map<string, IssuedToken>();
  for (const t of opts.staticTokens ?? []) {
    tokens.set(t, {
      kind: 'static',
      scopes: WRITE_SCOPES,
      expiresAt: Number.POSITIVE_INFINITY,
      expired: false,
    });
  }
  const tokenSecret = randomBytes(32);
  const faults = new Map<FaultOperation, FaultAnswer[]>();
  const uploads: RecordedUpload[] = [];
  const records = new Map<string, CorrespondenceRecord>();
  const idempotentKeys = new Map<string, string>();
  const closing = new AbortController();

  let base = '';
  const maskinportenIssuer = () => `${base}/maskinporten/`;

  const takeFault = (op: FaultOperation): FaultAnswer | undefined => {
    const queue = faults.get(op);
    const next = queue?.shift();
    if (queue && queue.length === 0) faults.delete(op);
    return next;
  };

  const tokenState = (token: string | undefined): IssuedToken | undefined => {
    if (!token) return undefined;
    const t = tokens.get(token);
    if (!t || t.expired || clock().getTime() >= t.expiresAt) return undefined;
    return t;
  };

  const issue = async (
    kind: 'maskinporten' | 'altinn',
    scopes: string[],
    claims: Record<string, unknown>,
  ) => {
    const now = Math.floor(clock().getTime() / 1000);
    const seconds = kind === 'maskinporten' ? MASKINPORTEN_TOKEN_SECONDS : ALTINN_TOKEN_SECONDS;
    const token = await new SignJWT({ ...claims, scope: scopes.join(' ') })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(kind === 'maskinporten' ? maskinportenIssuer() : `${base}/authentication/api/v1/openid/`)
      .setIssuedAt(now)
      .setExpirationTime(now + seconds)
      .setJti(randomUUID())
      .sign(tokenSecret);
    tokens.set(token, { kind, scopes, expiresAt: (now + seconds) * 1000, expired: false });
    return { token, seconds };
  };

  // ---------------------------------------------------------------------------------------------------------------
  // The state machine

  const timers = new Set<NodeJS.Timeout>();

  const publish = (rec: CorrespondenceRecord): void => {
    if (rec.publishTimer) {
      clearTimeout(rec.publishTimer);
      timers.delete(rec.publishTimer);
      rec.publishTimer = undefined;
    }
    if (rec.purged() || rec.has('Failed') || rec.has('Published')) return;
    const now = clock();
    if (!rec.has('ReadyForPublish')) rec.add('ReadyForPublish', now);
    const orgnr = orgnrOf(rec.recipient);
    const party = orgnr ? parties.get(orgnr) : undefined;
    if (orgnr && !party) {
      rec.add('Failed', now, `Recipient of ${rec.id} was not found in the register`);
      return;
    }
    if (rec.request.correspondence.isConfidential && party && !party.hasConfidentialRoles) {
      rec.add('Failed', now, lacksRolesStatusText(rec.id));
      return;
    }
    rec.dialogId = randomUUID();
    rec.add('Published', now);
    const n = rec.request.correspondence.notification;
    if (n) rec.notifications.push(notificationAtPublish(n, party, now));
  };

  const schedulePublish = (rec: CorrespondenceRecord): void => {
    const wait = Math.max(publishDelayMs, rec.requestedPublishTime().getTime() - clock().getTime());
    if (wait > MAX_TIMER_MS) return; // far future: only publishNow moves it
    const timer = setTimeout(() => {
      timers.delete(timer);
      rec.publishTimer = undefined;
      publish(rec);
    }, wait);
    timer.unref();
    timers.add(timer);
    rec.publishTimer = timer;
  };

  const cancelPublish = (rec: CorrespondenceRecord): void => {
    if (rec.publishTimer) {
      clearTimeout(rec.publishTimer);
      timers.delete(rec.publishTimer);
      rec.publishTimer = undefined;
    }
  };

  /** A correspondence by its id or, for the controls' convenience, by the sender's reference (the messageId). */
  const recordOf = (id: string): CorrespondenceRecord => {
    const rec =
      records.get(id.toLowerCase()) ??
      [...records.values()].reverse().find((r) => r.request.correspondence.sendersReference === id);
    if (!rec) throw new ControlError(404, `No correspondence ${id}`);
    return rec;
  };

  const control = {
    async read(id: string) {
      const rec = recordOf(id);
      const cur = rec.current().status;
      if (rec.purged() || !rec.has('Published') || cur === 'Failed') {
        throw new ControlError(
          409,
          `Correspondence ${id} is ${cur}: only a published correspondence can be read`,
        );
      }
      if (rec.has('Read')) return;
      const now = clock();
      rec.add('Fetched', now);
      rec.add('Read', now);
    },
    async fail(id: string, statusText?: string) {
      const rec = recordOf(id);
      cancelPublish(rec);
      rec.add('Failed', clock(), statusText ?? 'Failed by the sandbox control');
    },
    async purge(id: string) {
      const rec = recordOf(id);
      cancelPublish(rec);
      if (!rec.purged()) rec.add('PurgedByRecipient', clock());
    },
    async publishNow(id: string) {
      publish(recordOf(id));
    },
  };

  // ---------------------------------------------------------------------------------------------------------------
  // Faults

  /** Answers a queued fault; returns the status the client saw (0: none). */
  const answerFault = async (
    op: FaultOperation,
    f: Exclude<FaultAnswer, { kind: 'crash-after' }>,
    reply: FastifyReply,
  ): Promise<number> => {
    if ('status' in f) {
      reply.code(f.status);
      if (f.status === 429 && !f.headers?.['retry-after'] && !f.headers?.['Retry-After'])
        reply.header('retry-after', '1');
      for (const [k, v] of Object.entries(f.headers ?? {})) reply.header(k, v);
      reply.header('content-type', f.contentType ?? 'text/plain; charset=utf-8');
      await reply.send(f.body ?? '');
      return f.status;
    }
    if (f.kind === 'no-id') {
      const body =
        op === 'upload'
          ? { correspondences: [], attachmentIds: [] }
          : op === 'search'
            ? {}
            : op === 'token'
              ? { token_type: 'Bearer' }
              : {};
      if (op === 'exchange') await reply.code(200).type('text/plain; charset=utf-8').send('');
      else await reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify(body));
      return 200;
    }
    reply.hijack();
    const res = reply.raw;
    if (f.kind === 'cut') {
      const body = JSON.stringify({
        correspondences: [
          { correspondenceId: uuidv7(), status: 'Initialized', recipient: '', notifications: null },
        ],
      });
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
      });
      res.write(body.slice(0, Math.floor(body.length / 2)));
      await sleep(20, undefined, { signal: closing.signal }).catch(() => undefined);
      res.socket?.destroy();
      return 200;
    }
    await sleep(f.ms, undefined, { signal: closing.signal }).catch(() => undefined);
    res.socket?.destroy();
    return 0;
  };

  const crash = (reply: FastifyReply): void => {
    reply.hijack();
    reply.raw.socket?.destroy();
  };

  // ---------------------------------------------------------------------------------------------------------------
  // Creating correspondences

  const create = (
    req: CorrespondenceRequest,
    files: { meta: UploadedFile; contentType: string; sha256: string }[] | undefined,
  ): { response: Record<string, unknown>; ids: string[] } => {
    const now = clock();
    const c = req.correspondence;
    const resource = resources.get(c.resourceId.toLowerCase());
    if (req.idempotentKey !== undefined && idempotentKeys.has(req.idempotentKey.toLowerCase())) {
      throw AltinnProblem.of(E.idempotentKeyReused);
    }
    checkBusinessRules(req, {
      now,
      resourceConfidential: resource?.confidential,
      ...(files && { files: files.map((f) => f.meta) }),
    });
    const newAttachments = c.content.attachments.filter(
      (a) => a.dataLocationType === 'NewCorrespondenceAttachment',
    );
    let attachments: SandboxAttachment[] = [];
    if (files) {
      const match = matchFiles(
        newAttachments,
        files.map((f) => f.meta),
      );
      if (!match) throw AltinnProblem.of(E.filesMismatch);
      attachments = newAttachments.map((a, i) => {
        const f = files[match[i]!]!;
        return {
          id: uuidv7(now.getTime()),
          fileName: a.fileName ?? f.meta.filename,
          ...(a.displayName !== undefined && { displayName: a.displayName }),
          sendersReference: a.sendersReference,
          isEncrypted: a.isEncrypted,
          contentType: f.contentType,
          size: f.meta.size,
          sha256: f.sha256,
        };
      });
    } else {
      attachments = newAttachments.map((a) => ({
        id: uuidv7(now.getTime()),
        fileName: a.fileName ?? '',
        ...(a.displayName !== undefined && { displayName: a.displayName }),
        sendersReference: a.sendersReference,
        isEncrypted: a.isEncrypted,
        contentType: 'application/octet-stream',
        size: 0,
        sha256: '',
      }));
    }
    const created = req.recipients.map((recipient) => {
      const rec = new CorrespondenceRecord(uuidv7(now.getTime()), recipient, req, attachments, now);
      rec.add('Initialized', now);
      if (attachments.length === 0) rec.add('ReadyForPublish', now);
      records.set(rec.id, rec);
      schedulePublish(rec);
      return rec;
    });
    if (req.idempotentKey !== undefined) idempotentKeys.set(req.idempotentKey.toLowerCase(), created[0]!.id);
    return {
      ids: created.map((r) => r.id),
      response: {
        correspondences: created.map((r) => ({
          correspondenceId: r.id,
          status: r.current().status,
          recipient: r.recipient,
          notifications: null,
        })),
        attachmentIds: attachments.map((a) => a.id),
      },
    };
  };

  // ---------------------------------------------------------------------------------------------------------------
  // HTTP

  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: 16 * 1024 * 1024,
    forceCloseConnections: true,
    routerOptions: { maxParamLength: 200 },
  });

  app.decorateRequest('altinnFault', undefined);
  app.decorateRequest('altinnUpload', undefined);

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 64 * 1024 },
    (_req, body, done) => {
      const form: Record<string, string> = {};
      for (const [k, v] of new URLSearchParams(String(body))) if (!(k in form)) form[k] = v;
      done(null, form);
    },
  );

  app.setErrorHandler(async (error, _req, reply) => {
    if (error instanceof AltinnProblem) {
      return reply.code(error.status).type('application/problem+json; charset=utf-8').send(error.body);
    }
    if (error instanceof ControlError) return reply.code(error.status).send({ error: error.message });
    const e = error as { statusCode?: number; code?: string; message?: string };
    const status =
      typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    if (status === 400 && typeof e.code === 'string' && e.code.startsWith('FST_ERR_CTP')) {
      return reply
        .code(400)
        .type('application/problem+json; charset=utf-8')
        .send(validationProblem([{ path: '$', message: 'The request body is not valid JSON.' }]));
    }
    const detail =
      status === 500 ? 'An unexpected error occurred in the sandbox.' : (e.message ?? 'Bad request');
    return reply
      .code(status)
      .type('application/problem+json; charset=utf-8')
      .send(plainProblem(status, detail));
  });

  app.setNotFoundHandler(async (_req, reply) => reply.code(404).send());

  // Maskinporten stand-in: the JWT-bearer grant.
  app.post('/maskinporten/token', async (req, reply) => {
    const fault = takeFault('token');
    if (fault) {
      if ('kind' in fault && fault.kind === 'crash-after') {
        crash(reply);
        return reply;
      }
      await answerFault('token', fault as Exclude<FaultAnswer, { kind: 'crash-after' }>, reply);
      return reply;
    }
    const form = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<
      string,
      unknown
    >;
    const bad = (error: string, description: string) =>
      reply.code(400).type('application/json; charset=utf-8').send({ error, error_description: description });
    if (form.grant_type !== JWT_BEARER) {
      return bad('invalid_grant', `grant_type must be ${JWT_BEARER}`);
    }
    const assertion = typeof form.assertion === 'string' ? form.assertion : '';
    if (!assertion) return bad('invalid_grant', 'assertion is missing');
    let clientId: string;
    let alg: string | undefined;
    try {
      const claims = decodeJwt(assertion);
      alg = decodeProtectedHeader(assertion).alg;
      clientId = typeof claims.iss === 'string' ? claims.iss : '';
    } catch {
      return bad('invalid_grant', 'assertion is not a JWT');
    }
    const jwk = clients[clientId];
    if (!jwk) return bad('invalid_grant', `unknown client_id '${clientId}'`);
    let payload: Record<string, unknown>;
    try {
      const key = await importJWK(jwk, jwk.alg ?? alg);
      const verified = await jwtVerify(assertion, key, {
        issuer: clientId,
        audience: [maskinportenIssuer(), `${base}/maskinporten`, `${base}/maskinporten/token`],
        requiredClaims: ['exp', 'iat'],
        currentDate: clock(),
        clockTolerance: 10,
      });
      payload = verified.payload as Record<string, unknown>;
    } catch (cause) {
      const reason = (cause as { code?: string }).code ?? 'ERR_JWT_INVALID';
      return bad(
        'invalid_grant',
        `assertion refused (${reason}): signature, aud, iss, exp and iat are checked`,
      );
    }
    const iat = Number(payload.iat);
    const exp = Number(payload.exp);
    if (exp - iat > MAX_ASSERTION_LIFETIME_SECONDS) {
      return bad(
        'invalid_grant',
        `assertion lifetime (exp - iat) must be at most ${MAX_ASSERTION_LIFETIME_SECONDS} seconds`,
      );
    }
    const scope = typeof payload.scope === 'string' ? payload.scope.trim() : '';
    if (!scope) return bad('invalid_scope', 'the assertion has no scope claim');
    const scopes = scope.split(/\s+/);
    const { token, seconds } = await issue('maskinporten', scopes, { client_id: clientId });
    return reply
      .code(200)
      .header('cache-control', 'no-store')
      .send({ access_token: token, token_type: 'Bearer', expires_in: seconds, scope: scopes.join(' ') });
  });

  // Token exchange: a Maskinporten token in, the Altinn token out as the raw body.
  app.get('/authentication/api/v1/exchange/maskinporten', async (req, reply) => {
    const fault = takeFault('exchange');
    if (fault) {
      if ('kind' in fault && fault.kind === 'crash-after') {
        crash(reply);
        return reply;
      }
      await answerFault('exchange', fault as Exclude<FaultAnswer, { kind: 'crash-after' }>, reply);
      return reply;
    }
    const mp = tokenState(bearerOf(req));
    if (mp?.kind !== 'maskinporten') return unauthorized(reply);
    const { token } = await issue('altinn', mp.scopes, {});
    return reply.code(200).type('text/plain; charset=utf-8').send(token);
  });

  await app.register(async (api) => {
    await api.register(multipart, {
      throwFileSizeLimit: false,
      limits: {
        fileSize: 2_000_000_000,
        fieldSize: 1024 * 1024,
        fields: 5000,
        files: 200,
        parts: 5200,
        headerPairs: 100,
      },
    });

    // Faults first (they stand for what sits in front of Altinn), then the bearer token: fail closed.
    api.addHook('onRequest', async (req, reply) => {
      const op = req.routeOptions.config.altinnOperation;
      if (op === 'upload') {
        const { authorization } = req.headers;
        const rec: RecordedUpload = {
          at: clock().toISOString(),
          ...(typeof authorization === 'string' && { authorization }),
          status: 0,
          fields: {},
          attachments: [],
          correspondenceIds: [],
        };
        uploads.push(rec);
        req.altinnUpload = rec;
      }
      const fault = op ? takeFault(op) : undefined;
      if (fault) {
        req.altinnFault = fault;
        if (!('kind' in fault && fault.kind === 'crash-after')) return;
      }
      const t = tokenState(bearerOf(req));
      if (!t || t.kind === 'maskinporten') return unauthorized(reply);
      if (!t.scopes.some((s) => WRITE_SCOPES.includes(s))) return reply.code(403).send();
      if (!acceptsJson(req.headers.accept)) {
        return reply
          .code(406)
          .type('text/plain; charset=utf-8')
          .send('Not Acceptable: this endpoint answers application/json');
      }
    });

    api.addHook('onSend', async (req, reply, payload) => {
      if (req.altinnUpload) req.altinnUpload.status = reply.statusCode;
      return payload;
    });

    /** A queued fault other than crash-after: answer it; true when answered. */
    const faulted = async (
      req: FastifyRequest,
      reply: FastifyReply,
      op: FaultOperation,
    ): Promise<boolean> => {
      const f = req.altinnFault;
      if (!f || ('kind' in f && f.kind === 'crash-after')) return false;
      const status = await answerFault(op, f, reply);
      if (req.altinnUpload) req.altinnUpload.status = status;
      return true;
    };
    const crashing = (req: FastifyRequest) => {
      const f = req.altinnFault;
      return f !== undefined && 'kind' in f && f.kind === 'crash-after';
    };
    const finish = (req: FastifyRequest, reply: FastifyReply, body: unknown) => {
      if (crashing(req)) {
        if (req.altinnUpload) req.altinnUpload.status = 0;
        crash(reply);
        return reply;
      }
      return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify(body));
    };

    const prefix = '/correspondence/api/v1/correspondence';

    api.post(`${prefix}/upload`, { config: { altinnOperation: 'upload' } }, async (req, reply) => {
      const rec = req.altinnUpload!;
      if (!req.isMultipart()) {
        throw new AltinnProblem(415, plainProblem(415, 'Content-Type must be multipart/form-data'));
      }
      const files: { meta: UploadedFile; contentType: string; sha256: string }[] = [];
      try {
        for await (const part of req.parts()) {
          if (part.type === 'field') {
            appendTo(rec.fields, part.fieldname, String(part.value));
            continue;
          }
          const hash = createHash('sha256');
          let size = 0;
          for await (const chunk of part.file) {
            hash.update(chunk as Buffer);
            size += (chunk as Buffer).length;
          }
          const sha256 = hash.digest('hex');
          rec.attachments.push({
            fieldName: part.fieldname,
            filename: part.filename,
            contentType: part.mimetype,
            size,
            sha256,
          });
          if (part.fieldname.toLowerCase() === 'attachments') {
            files.push({
              meta: { filename: part.filename, size, truncated: part.file.truncated },
              contentType: part.mimetype,
              sha256,
            });
          }
        }
      } catch (cause) {
        const status = (cause as { statusCode?: number }).statusCode;
        const code = typeof status === 'number' && status >= 400 && status < 500 ? status : 400;
        throw new AltinnProblem(code, plainProblem(code, 'The multipart body could not be read'), { cause });
      }
      if (await faulted(req, reply, 'upload')) return reply;
      const request = readCorrespondenceRequest(treeFromForm(rec.fields));
      const { response, ids } = create(request, files);
      rec.correspondenceIds = ids;
      return finish(req, reply, response);
    });

    api.post(prefix, { config: { altinnOperation: 'upload' } }, async (req, reply) => {
      const rec = req.altinnUpload!;
      const body = req.body;
      if (typeof body === 'object' && body !== null) flatten(body, '', rec.fields);
      if (await faulted(req, reply, 'upload')) return reply;
      const type = String(req.headers['content-type'] ?? '');
      if (!/^application\/([a-z.+-]*\+)?json/i.test(type)) {
        throw new AltinnProblem(415, plainProblem(415, 'Content-Type must be application/json'));
      }
      const tree = treeFromJson(body);
      if (typeof tree !== 'object' || tree === null || Array.isArray(tree)) {
        throw AltinnProblem.model([{ path: '$', message: 'The request body must be a JSON object.' }]);
      }
      const request = readCorrespondenceRequest(tree as { [k: string]: Tree });
      const { response, ids } = create(request, undefined);
      rec.correspondenceIds = ids;
      return finish(req, reply, response);
    });

    api.get<{ Querystring: Record<string, string | string[] | undefined> }>(
      prefix,
      { config: { altinnOperation: 'search' } },
      async (req, reply) => {
        if (await faulted(req, reply, 'search')) return reply;
        const q = req.query;
        const one = (k: string): string | undefined => {
          const entry = Object.entries(q).find(([name]) => name.toLowerCase() === k.toLowerCase())?.[1];
          return Array.isArray(entry) ? entry[0] : entry;
        };
        const problems: { path: string; message: string }[] = [];
        const resourceId = one('resourceId')?.trim();
        const role = one('role')?.trim();
        if (!resourceId) problems.push({ path: 'resourceId', message: 'The resourceId field is required.' });
        if (!role) problems.push({ path: 'role', message: 'The role field is required.' });
        else if (!['recipient', 'sender', 'recipientandsender'].includes(role.toLowerCase())) {
          problems.push({ path: 'role', message: `The value '${role}' is not valid for role.` });
        }
        const statusRaw = one('status');
        const status = statusRaw
          ? (CORRESPONDENCE_STATUSES.find((s) => s.toLowerCase() === statusRaw.toLowerCase()) ??
            CORRESPONDENCE_STATUSES[Number(statusRaw)])
          : undefined;
        if (statusRaw && !status)
          problems.push({ path: 'status', message: `The value '${statusRaw}' is not valid for status.` });
        const dateOf = (k: string) => {
          const v = one(k);
          if (!v) return undefined;
          const d = new Date(v);
          if (Number.isNaN(d.getTime()))
            problems.push({ path: k, message: `The value '${v}' is not valid for ${k}.` });
          return d;
        };
        const from = dateOf('from');
        const to = dateOf('to');
        if (problems.length > 0) throw AltinnProblem.model(problems);
        const resource = resourceId!.replace(/^urn:altinn:resource:/i, '').toLowerCase();
        const sendersReference = one('sendersReference');
        const idempotentKey = one('idempotentKey')?.toLowerCase();
        const ids: string[] = [];
        for (const rec of records.values()) {
          const c = rec.request.correspondence;
          if (c.resourceId.toLowerCase() !== resource) continue;
          if (sendersReference !== undefined && c.sendersReference !== sendersReference) continue;
          if (idempotentKey !== undefined && rec.request.idempotentKey?.toLowerCase() !== idempotentKey)
            continue;
          if (status && rec.current().status !== status) continue;
          if (from && rec.created < from) continue;
          if (to && rec.created > to) continue;
          ids.push(rec.id);
          if (ids.length >= 1000) break;
        }
        return finish(req, reply, { ids });
      },
    );

    api.get<{ Params: { id: string } }>(
      `${prefix}/:id`,
      { config: { altinnOperation: 'overview' } },
      async (req, reply) => {
        if (await faulted(req, reply, 'overview')) return reply;
        const rec = records.get(req.params.id.toLowerCase());
        if (!rec || rec.purged()) throw AltinnProblem.of(E.notFound);
        return finish(req, reply, overviewJson(rec));
      },
    );

    api.get<{ Params: { id: string } }>(
      `${prefix}/:id/details`,
      { config: { altinnOperation: 'details' } },
      async (req, reply) => {
        if (await faulted(req, reply, 'details')) return reply;
        const rec = records.get(req.params.id.toLowerCase());
        if (!rec) throw AltinnProblem.of(E.notFound);
        return finish(req, reply, detailsJson(rec));
      },
    );

    api.delete<{ Params: { id: string } }>(
      `${prefix}/:id/purge`,
      { config: { altinnOperation: 'purge' } },
      async (req, reply) => {
        if (await faulted(req, reply, 'purge')) return reply;
        const rec = records.get(req.params.id.toLowerCase());
        if (!rec) throw AltinnProblem.of(E.notFound);
        if (rec.purged()) throw AltinnProblem.of(E.alreadyPurged);
        const cur: CorrespondenceStatus = rec.current().status;
        if (!['Initialized', 'ReadyForPublish', 'Failed'].includes(cur))
          throw AltinnProblem.of(E.purgeAfterPublish);
        cancelPublish(rec);
        rec.add('PurgedByAltinn', clock());
        return finish(req, reply, rec.id);
      },
    );
  });

  // Controls for tests, demos and curl: not part of Altinn's API.
  await app.register(
    async (fake) => {
      type IdRoute = { Params: { id: string } };
      fake.post<IdRoute>('/correspondence/:id/read', async (req, reply) => {
        await control.read(req.params.id);
        return reply.send(recordOf(req.params.id).snapshot());
      });
      fake.post<IdRoute & { Body: unknown; Querystring: { reason?: string; statusText?: string } }>(
        '/correspondence/:id/fail',
        async (req, reply) => {
          const body = req.body as { statusText?: unknown } | undefined;
          const text =
            (typeof body?.statusText === 'string' ? body.statusText : undefined) ??
            req.query.statusText ??
            req.query.reason;
          await control.fail(req.params.id, text);
          return reply.send(recordOf(req.params.id).snapshot());
        },
      );
      fake.post<IdRoute>('/correspondence/:id/purge', async (req, reply) => {
        await control.purge(req.params.id);
        return reply.send(recordOf(req.params.id).snapshot());
      });
      fake.post<IdRoute>('/correspondence/:id/publish-now', async (req, reply) => {
        await control.publishNow(req.params.id);
        return reply.send(recordOf(req.params.id).snapshot());
      });
      fake.get<IdRoute>('/state/:id', async (req, reply) => reply.send(recordOf(req.params.id).snapshot()));
      fake.get('/state', async (_req, reply) => reply.send([...records.values()].map((r) => r.snapshot())));
      fake.post('/tokens/expire', async (_req, reply) => {
        sandbox.expireTokens();
        return reply.code(204).send();
      });
      fake.post('/faults', async (req, reply) => {
        const parsed = faultRequestSchema.safeParse(req.body);
        if (!parsed.success) {
          return reply.code(400).send({
            error:
              'Expected {"operation": "upload|overview|details|search|purge|exchange|token", "answers": [...]}',
            issues: parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`),
          });
        }
        sandbox.fault(parsed.data.operation, ...(parsed.data.answers as FaultAnswer[]));
        return reply.code(204).send();
      });
      fake.get('/uploads', async (_req, reply) => reply.send(uploads));
    },
    { prefix: '/__fake' },
  );

  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  base = `http://${displayHost(host)}:${port}`;

  const sandbox: AltinnSandbox = {
    url: base,
    correspondenceUrl: `${base}/correspondence/api/v1`,
    tokenUrl: `${base}/maskinporten/token`,
    exchangeUrl: `${base}/authentication/api/v1/exchange/maskinporten`,
    maskinportenAudience: maskinportenIssuer(),
    uploads,
    correspondences: () => [...records.values()].map((r) => r.snapshot()),
    fault(operation, ...answers) {
      const queue = faults.get(operation) ?? [];
      queue.push(...answers);
      faults.set(operation, queue);
    },
    expireTokens() {
      for (const t of tokens.values()) t.expired = true;
    },
    read: control.read,
    fail: control.fail,
    purge: control.purge,
    publishNow: control.publishNow,
    async close() {
      closing.abort();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await app.close();
    },
  };
  return sandbox;
}
