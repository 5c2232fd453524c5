import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Agent } from 'undici';

/**
 * The HTTP exchanges of the Altinn client, on undici's Node-stream request API over one keep-alive agent: request
 * bodies go out as async iterables (a file is streamed, never held whole), and an answer is read to its end with a
 * bound, since what Altinn answers is small JSON.
 */

export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** Streamed as it is produced. */
  body?: AsyncIterable<Uint8Array>;
  /** One deadline for the whole exchange: connecting, sending, the answer's headers and its body. */
  timeoutMs: number;
}

export interface HttpAnswer {
  status: number;
  /** A response header by its lower-case name (the first value when repeated). */
  header(name: string): string | undefined;
  body: string;
}

export interface HttpTransport {
  send(req: HttpRequest): Promise<HttpAnswer>;
  /** Closes the kept-alive connections; no request may follow. */
  close(): Promise<void>;
}

/** An answer longer than the transport reads: it was cut off, not buffered. */
export class AnswerTooLargeError extends Error {
  constructor(
    readonly status: number,
    readonly limitBytes: number,
  ) {
    super(`answer over ${limitBytes} bytes`);
    this.name = 'AnswerTooLargeError';
  }
}

/** The timeouts undici reports itself (no answer, or a pause in it, as long as the whole deadline). */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** True for a failure that is the exchange running out of time. */
export function isTimeout(e: unknown): boolean {
  const err = e as { name?: string; code?: string };
  return err?.name === 'TimeoutError' || err?.name === 'AbortError' || TIMEOUT_CODES.has(err?.code ?? '');
}

export const DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024;

let undiciModule: Promise<typeof import('undici')> | undefined;
/** undici, loaded with the first exchange: a service that has not sent anything yet does not hold it. */
export const loadUndici = (): Promise<typeof import('undici')> => {
  undiciModule ??= import('undici');
  return undiciModule;
};

export function undiciTransport(opts: { maxAnswerBytes?: number } = {}): HttpTransport {
  const limit = opts.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  let agent: Agent | undefined;
  let closed = false;
  return {
    async send(req) {
      const { Agent, request } = await loadUndici();
      if (closed) throw new Error('the HTTP transport is closed');
      agent ??= new Agent({ keepAliveTimeout: 4000 });
      // undici takes an EventEmitter as the abort signal: one timer per exchange, no AbortSignal machinery.
      const deadline = new EventEmitter();
      const timer = setTimeout(() => deadline.emit('abort'), req.timeoutMs);
      try {
        const res = await request(req.url, {
          dispatcher: agent,
          method: req.method as 'GET',
          headers: req.headers,
          // undici documents async iterables as request bodies; its type declaration lists only the other kinds.
          body: (req.body ?? null) as Readable | null,
          signal: deadline,
          headersTimeout: req.timeoutMs,
          bodyTimeout: req.timeoutMs,
        });
        const { headers, statusCode } = res;
        const declared = Number(headers['content-length']);
        if (declared > limit) {
          res.body.destroy();
          throw new AnswerTooLargeError(statusCode, limit);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res.body) {
          size += (chunk as Buffer).length;
          if (size > limit) {
            res.body.destroy();
            throw new AnswerTooLargeError(statusCode, limit);
          }
          chunks.push(chunk as Buffer);
        }
        const body =
          chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        return {
          status: statusCode,
          header(name) {
            const v = headers[name];
            return Array.isArray(v) ? v[0] : v;
          },
          body,
        };
      } finally {
        clearTimeout(timer);
      }
    },
    close: async () => {
      closed = true;
      await agent?.close();
    },
  };
}
