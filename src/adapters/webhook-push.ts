import { createHmac } from 'node:crypto';
import { APP_VERSION_HEADER } from './user-agent.js';

export const SIGNATURE_HEADER = 'X-Eformidling-Signature';

/** `sha256=<hex HMAC-SHA256 of the raw body>`, so a receiver can check the event came from us unchanged. */
export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export type PushResult = { ok: true; httpStatus: number } | { ok: false; httpStatus?: number; error: string };

/** Network failures described by their code only: a receiver's error text is not ours to pass on. */
function describe(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; cause?: { code?: string; name?: string } };
  if (err.name === 'TimeoutError' || err.cause?.name === 'TimeoutError')
    return `no answer within ${timeoutMs} ms`;
  const code = err.cause?.code;
  return code ? `connection failed (${code})` : 'connection failed';
}

/**
 * POSTs one event. Any answer other than 2xx is a failure, redirects are not followed (an endpoint
 * cannot bounce the service to another address), and the whole exchange has one deadline.
 */
export async function pushEvent(
  url: string,
  body: string,
  secret: string | null,
  timeoutMs: number,
): Promise<PushResult> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': APP_VERSION_HEADER,
  };
  if (secret) headers[SIGNATURE_HEADER] = signature(body, secret);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true, httpStatus: res.status };
    return { ok: false, httpStatus: res.status, error: `HTTP ${res.status}` };
  } catch (e) {
    return { ok: false, error: describe(e, timeoutMs) };
  }
}
