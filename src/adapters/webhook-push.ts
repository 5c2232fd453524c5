import { createHmac } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Agent, Dispatcher } from 'undici';
import { isTimeout, loadUndici } from './http-transport.js';
import { APP_VERSION_HEADER } from './user-agent.js';

export const SIGNATURE_HEADER = 'X-Eformidling-Signature';

/** `sha256=<hex HMAC-SHA256 of the raw body>`, so a receiver can check the event came from us unchanged. */
export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export type PushResult = { ok: true; httpStatus: number } | { ok: false; httpStatus?: number; error: string };

/** What is read of an answer (its status decides); past this the connection is dropped instead. */
const MAX_ANSWER_BYTES = 64 * 1024;

// Keep-alive: a busy endpoint gets its events over a few reused connections (idle ones do not hold the process).
// Made with the first push.
let agent: Agent | undefined;

/**
 * POSTs one event. Any answer other than 2xx is a failure, redirects are not followed (an endpoint
 * cannot bounce the service to another address), and the whole exchange has one deadline. Network
 * failures are described by their code only: a receiver's error text is not ours to pass on.
 */
export async function pushEvent(
  url: string,
  body: string,
  secret: string | null,
  timeoutMs: number,
): Promise<PushResult> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': APP_VERSION_HEADER,
  };
  if (secret) headers[SIGNATURE_HEADER] = signature(body, secret);
  const { Agent, request } = await loadUndici();
  agent ??= new Agent({ connections: 64, keepAliveTimeout: 4000 });
  // undici takes an EventEmitter as the abort signal: one timer per push.
  const deadline = new EventEmitter();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    deadline.emit('abort');
  }, timeoutMs);
  const late: PushResult = { ok: false, error: `no answer within ${timeoutMs} ms` };
  try {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        dispatcher: agent,
        method: 'POST',
        headers,
        body,
        signal: deadline,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (e) {
      if (timedOut || isTimeout(e)) return late;
      const code = (e as NodeJS.ErrnoException).code;
      return { ok: false, error: code ? `connection failed (${code})` : 'connection failed' };
    }
    const status = res.statusCode;
    try {
      let read = 0;
      for await (const chunk of res.body) {
        read += (chunk as Buffer).length;
        if (read > MAX_ANSWER_BYTES) {
          res.body.destroy();
          break;
        }
      }
    } catch (e) {
      if (timedOut || isTimeout(e)) return late;
      return { ok: false, httpStatus: status, error: 'connection failed while reading the answer' };
    }
    return status >= 200 && status < 300
      ? { ok: true, httpStatus: status }
      : { ok: false, httpStatus: status, error: `HTTP ${status}` };
  } finally {
    clearTimeout(timer);
  }
}
