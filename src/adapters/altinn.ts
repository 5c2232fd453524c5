import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import {
  AnswerTooLargeError,
  type HttpAnswer,
  type HttpTransport,
  isTimeout,
  undiciTransport,
} from './http-transport.js';
import { TokenError, type TokenSource } from './maskinporten.js';

/**
 * HTTP client for Altinn 3 Correspondence: the upload (multipart, streamed from disk), the overview and
 * details reads, and the search by idempotent key. It classifies every failure so the worker can decide
 * between retrying and giving up; it never logs titles, texts or file names. Its requests go over one keep-alive
 * connection pool of its own (undici), closed by close().
 */

export type AltinnFailureKind =
  /** Worth retrying: 5xx, 408, 429, timeouts, connection errors, answers cut short or unreadable. */
  | 'transient'
  /** The request itself is wrong (other 4xx): retrying will not help. */
  | 'permanent'
  /** 409: the idempotent key is known, an earlier attempt got through. */
  | 'conflict';

export class AltinnError extends Error {
  constructor(
    readonly kind: AltinnFailureKind,
    message: string,
    readonly details: { status?: number; code?: string; detail?: string; retryAfterMs?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AltinnError';
  }
}

export interface UploadFile {
  filename: string;
  contentType: string;
  /** Opens the plaintext; called once per attempt, so a retried request streams it again. */
  open(): Promise<Readable>;
}

export interface AltinnClientOptions {
  /** Base ending in /correspondence/api/v1. */
  baseUrl: string;
  tokens: TokenSource;
  timeoutMs: number;
  uploadTimeoutMs: number;
  /** How the requests are made (default: undici over a keep-alive agent); the client closes it. */
  transport?: HttpTransport;
}

/** Timestamps: Altinn sometimes leaves the offset out; those are UTC. */
const altinnTime = z
  .string()
  .nullish()
  .transform((v) => {
    if (!v) return null;
    const withZone = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(v) ? v : `${v}Z`;
    const d = new Date(withZone);
    return Number.isNaN(d.getTime()) ? null : d;
  });

const uploadResponseSchema = z.looseObject({
  correspondences: z
    .array(z.looseObject({ correspondenceId: z.string().min(1), status: z.string().nullish() }))
    .min(1),
});

export const overviewSchema = z.looseObject({
  correspondenceId: z.string().nullish(),
  status: z.string().nullish(),
  statusText: z.string().nullish(),
  statusChanged: altinnTime,
  created: altinnTime,
  published: altinnTime,
  read: altinnTime,
});
export type CorrespondenceOverview = z.output<typeof overviewSchema>;

const notificationDetailSchema = z.looseObject({
  succeeded: z.boolean().nullish(),
  sendStatus: z.looseObject({ status: z.string().nullish(), description: z.string().nullish() }).nullish(),
});

const notificationSchema = z.looseObject({
  isReminder: z.boolean().nullish(),
  processingStatus: z
    .looseObject({ status: z.string().nullish(), description: z.string().nullish() })
    .nullish(),
  notificationStatusDetails: z
    .looseObject({
      email: notificationDetailSchema.nullish(),
      sms: notificationDetailSchema.nullish(),
      emails: z.array(notificationDetailSchema).nullish(),
      smses: z.array(notificationDetailSchema).nullish(),
    })
    .nullish(),
});
export type NotificationDetails = z.output<typeof notificationSchema>;

export const detailsSchema = overviewSchema.extend({
  notifications: z.array(notificationSchema).nullish(),
  statusHistory: z
    .array(z.looseObject({ status: z.string().nullish(), statusText: z.string().nullish() }))
    .nullish(),
});
export type CorrespondenceDetails = z.output<typeof detailsSchema>;

const searchSchema = z.looseObject({ ids: z.array(z.string()) });

const TRANSIENT_STATUSES = new Set([408, 429]);

function retryAfterMs(res: HttpAnswer): number | undefined {
  const h = res.header('retry-after');
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A short readable reason from a ProblemDetails body (business or validation shape); never the raw body. */
export function problemOf(body: string): { code?: string; detail?: string } {
  try {
    const j = JSON.parse(body) as Record<string, unknown>;
    if (typeof j !== 'object' || j === null)
      return typeof j === 'string' ? { detail: String(j).slice(0, 300) } : {};
    const code =
      typeof j.code === 'string' ? j.code : typeof j.errorCode === 'number' ? String(j.errorCode) : undefined;
    let detail = typeof j.detail === 'string' ? j.detail : undefined;
    if (!detail && j.errors && typeof j.errors === 'object') {
      detail = Object.entries(j.errors as Record<string, unknown>)
        .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`)
        .join('; ');
    }
    if (!detail && typeof j.title === 'string') detail = j.title;
    return { ...(code ? { code } : {}), ...(detail ? { detail: detail.slice(0, 500) } : {}) };
  } catch {
    return {};
  }
}

function networkReason(e: unknown): string {
  const err = e as Error & { code?: string; cause?: { code?: string; message?: string } };
  if (isTimeout(err)) return 'no answer within the timeout';
  return err.cause?.code ?? err.code ?? err.cause?.message ?? err.message ?? String(e);
}

/** Escapes a multipart header parameter value (quotes and line breaks cannot appear raw). */
function quoteParam(v: string): string {
  return v.replace(/["\r\n\\]/g, (c) => encodeURIComponent(c));
}

export class AltinnClient {
  private readonly base: string;
  private readonly http: HttpTransport;

  constructor(private readonly opts: AltinnClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.http = opts.transport ?? undiciTransport();
  }

  /** Closes the kept-alive connections (after the last request). */
  close(): Promise<void> {
    return this.http.close();
  }

  /**
   * One request with the bearer token; a 401 invalidates the token and the request is made once more
   * with a fresh one. `makeBody` is called per attempt so streamed bodies start over.
   */
  private async call(
    operation: string,
    method: string,
    url: string,
    timeoutMs: number,
    extra: { headers?: Record<string, string>; makeBody?: () => Promise<AsyncIterable<Uint8Array>> } = {},
  ): Promise<{ res: HttpAnswer; body: string }> {
    for (let attempt = 0; ; attempt++) {
      let token: string;
      try {
        token = await this.opts.tokens.get();
      } catch (e) {
        const status = e instanceof TokenError ? e.status : undefined;
        throw new AltinnError(
          'transient',
          `no Altinn token: ${(e as Error).message}`,
          status ? { status } : {},
          {
            cause: e,
          },
        );
      }
      let res: HttpAnswer;
      try {
        res = await this.http.send({
          method,
          url,
          headers: { accept: 'application/json', authorization: `Bearer ${token}`, ...extra.headers },
          ...(extra.makeBody ? { body: await extra.makeBody() } : {}),
          timeoutMs,
        });
      } catch (e) {
        if (e instanceof AnswerTooLargeError) {
          throw new AltinnError(
            'transient',
            `Altinn ${operation} answered HTTP ${e.status} with a body over ${e.limitBytes} bytes`,
            { status: e.status },
            { cause: e },
          );
        }
        throw new AltinnError(
          'transient',
          `Altinn ${operation} failed: ${networkReason(e)}`,
          {},
          { cause: e },
        );
      }
      if (res.status === 401 && attempt === 0) {
        this.opts.tokens.invalidate(token);
        continue;
      }
      return { res, body: res.body };
    }
  }

  private failure(operation: string, res: HttpAnswer, body: string): AltinnError {
    const { code, detail } = problemOf(body);
    const status = res.status;
    const reason = `Altinn ${operation} answered HTTP ${status}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}`;
    const details = {
      status,
      ...(code ? { code } : {}),
      ...(detail ? { detail } : {}),
      ...(retryAfterMs(res) !== undefined ? { retryAfterMs: retryAfterMs(res)! } : {}),
    };
    if (status === 409) return new AltinnError('conflict', reason, details);
    if (status >= 500 || TRANSIENT_STATUSES.has(status)) return new AltinnError('transient', reason, details);
    if (status >= 400) return new AltinnError('permanent', reason, details);
    // A 1xx/3xx or other surprise: try again later rather than guess.
    return new AltinnError('transient', reason, details);
  }

  /** Parses a 200's JSON; anything unreadable is transient (the next attempt recovers through the 409 path). */
  private parse<S extends z.ZodType>(
    operation: string,
    res: HttpAnswer,
    body: string,
    schema: S,
  ): z.output<S> {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (e) {
      const type = res.header('content-type') ?? 'no content type';
      throw new AltinnError(
        'transient',
        `Altinn ${operation} answered HTTP ${res.status} with a body that is not JSON (${type.split(';')[0]})`,
        { status: res.status },
        { cause: e },
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AltinnError(
        'transient',
        `Altinn ${operation} answered HTTP ${res.status} without the expected content (${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'})`,
        { status: res.status },
      );
    }
    return parsed.data;
  }

  /** POST {base}/correspondence/upload: the fields as form parts, then one `attachments` part per file. */
  async upload(fields: [string, string][], files: UploadFile[]): Promise<{ correspondenceId: string }> {
    const boundary = `----eip${randomBytes(16).toString('hex')}`;
    const makeBody = async () => multipartBody(boundary, fields, files);
    const { res, body } = await this.call(
      'upload',
      'POST',
      `${this.base}/correspondence/upload`,
      this.opts.uploadTimeoutMs,
      {
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        makeBody,
      },
    );
    if (res.status !== 200 && res.status !== 201) throw this.failure('upload', res, body);
    const parsed = this.parse('upload', res, body, uploadResponseSchema);
    return { correspondenceId: parsed.correspondences[0]!.correspondenceId };
  }

  /** GET {base}/correspondence/{id}; null when Altinn says it is gone (404/410). */
  async overview(correspondenceId: string): Promise<CorrespondenceOverview | null> {
    const { res, body } = await this.call(
      'overview',
      'GET',
      `${this.base}/correspondence/${encodeURIComponent(correspondenceId)}`,
      this.opts.timeoutMs,
    );
    if (res.status === 404 || res.status === 410) return null;
    if (res.status !== 200) throw this.failure('overview', res, body);
    return this.parse('overview', res, body, overviewSchema);
  }

  /** GET {base}/correspondence/{id}/details: the heavy call, with notifications. */
  async details(correspondenceId: string): Promise<CorrespondenceDetails | null> {
    const { res, body } = await this.call(
      'details',
      'GET',
      `${this.base}/correspondence/${encodeURIComponent(correspondenceId)}/details`,
      this.opts.timeoutMs,
    );
    if (res.status === 404 || res.status === 410) return null;
    if (res.status !== 200) throw this.failure('details', res, body);
    return this.parse('details', res, body, detailsSchema);
  }

  /** The correspondence an idempotent key created, as sender on `resourceId`. */
  async findByIdempotentKey(resourceId: string, idempotentKey: string): Promise<string | null> {
    const q = new URLSearchParams({ resourceId, role: 'Sender', idempotentKey });
    const { res, body } = await this.call(
      'search',
      'GET',
      `${this.base}/correspondence?${q}`,
      this.opts.timeoutMs,
    );
    if (res.status !== 200) throw this.failure('search', res, body);
    return this.parse('search', res, body, searchSchema).ids[0] ?? null;
  }
}

/** The multipart body as a stream: text parts first, then each file streamed from its source, never buffered whole. */
async function* multipartBody(
  boundary: string,
  fields: [string, string][],
  files: UploadFile[],
): AsyncGenerator<Uint8Array> {
  for (const [name, value] of fields) {
    yield Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${quoteParam(name)}"\r\n\r\n${value}\r\n`,
    );
  }
  for (const f of files) {
    yield Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="${quoteParam(f.filename)}"\r\n` +
        `Content-Type: ${f.contentType}\r\n\r\n`,
    );
    const stream = await f.open();
    for await (const chunk of stream) yield chunk as Buffer;
    yield Buffer.from('\r\n');
  }
  yield Buffer.from(`--${boundary}--\r\n`);
}
