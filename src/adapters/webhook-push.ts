import { createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { APP_VERSION_HEADER } from './user-agent.js';

export const SIGNATURE_HEADER = 'X-Eformidling-Signature';

/** `sha256=<hex HMAC-SHA256 of the raw body>`, so a receiver can check the event came from us unchanged. */
export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export type PushResult = { ok: true; httpStatus: number } | { ok: false; httpStatus?: number; error: string };

// Keep-alive: a busy endpoint gets its events over a few reused connections.
const agents = {
  'http:': new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  'https:': new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
};

/**
 * POSTs one event. Any answer other than 2xx is a failure, redirects are not followed (an endpoint
 * cannot bounce the service to another address), and the whole exchange has one deadline. Network
 * failures are described by their code only: a receiver's error text is not ours to pass on.
 */
export function pushEvent(
  url: string,
  body: string,
  secret: string | null,
  timeoutMs: number,
): Promise<PushResult> {
  const target = new URL(url);
  const protocol = target.protocol as 'http:' | 'https:';
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'user-agent': APP_VERSION_HEADER,
  };
  if (secret) headers[SIGNATURE_HEADER] = signature(body, secret);
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: PushResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = (protocol === 'https:' ? httpsRequest : httpRequest)(
      target,
      { method: 'POST', headers, agent: agents[protocol] },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on('end', () =>
          finish(
            status >= 200 && status < 300
              ? { ok: true, httpStatus: status }
              : { ok: false, httpStatus: status, error: `HTTP ${status}` },
          ),
        );
        res.on('error', () =>
          finish({ ok: false, httpStatus: status, error: 'connection failed while reading the answer' }),
        );
      },
    );
    const timer = setTimeout(() => {
      finish({ ok: false, error: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) =>
      finish({ ok: false, error: e.code ? `connection failed (${e.code})` : 'connection failed' }),
    );
    req.end(body);
  });
}
