import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { loadJose } from './jose.js';

/**
 * Access tokens: a Maskinporten JWT grant signed with our key, and the Altinn token exchanged from it.
 * Tokens are cached until shortly before they expire; a caller that sees a 401 invalidates and asks again.
 */

/** A token failure: the token endpoint or the exchange refused or could not be reached. */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TokenError';
  }
}

export interface TokenSource {
  /** A bearer token, from cache when still fresh. */
  get(): Promise<string>;
  /** Forget `token` (it answered 401), so the next get() fetches a new one. */
  invalidate(token: string): void;
}

export interface MaskinportenOptions {
  tokenUrl: string;
  clientId: string;
  /** PEM (PKCS#8), a JWK as JSON, or a path to a file holding either. */
  key: string;
  kid?: string;
  /** The `aud` of the grant; Maskinporten's issuer, by default the token URL without its `/token`, with a trailing slash. */
  audience?: string;
  timeoutMs: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/** Tokens are renewed this long before they expire. */
const EARLY_RENEWAL_MS = 60_000;
const GRANT_LIFETIME_S = 100;

interface Cached {
  token: string;
  expiresAt: number;
}

type SigningKey = Awaited<ReturnType<typeof import('jose').importPKCS8>>;

function looksLikeKey(raw: string): boolean {
  const t = raw.trim();
  return t.startsWith('-----BEGIN') || t.startsWith('{');
}

/** Loads MASKINPORTEN_KEY: the value itself, or the file it names. */
export async function loadSigningKey(raw: string): Promise<{ key: SigningKey; alg: string; kid?: string }> {
  const { importJWK, importPKCS8 } = await loadJose();
  const text = looksLikeKey(raw) ? raw.trim() : readFileSync(raw.trim(), 'utf8').trim();
  if (text.startsWith('{')) {
    const jwk = JSON.parse(text) as JWK;
    const alg = jwk.alg ?? (jwk.kty === 'EC' ? 'ES256' : 'RS256');
    const key = (await importJWK(jwk, alg)) as SigningKey;
    return { key, alg, ...(jwk.kid ? { kid: jwk.kid } : {}) };
  }
  return { key: await importPKCS8(text, 'RS256'), alg: 'RS256' };
}

/** When a JWT-shaped token expires, else `fallbackMs` from now (Altinn tokens live about 30 minutes). */
async function expiryOf(token: string, now: number, fallbackMs: number): Promise<number> {
  const { decodeJwt } = await loadJose();
  try {
    const { exp } = decodeJwt(token);
    if (typeof exp === 'number') return exp * 1000;
  } catch {
    // Opaque token: fall back.
  }
  return now + fallbackMs;
}

async function readBody(res: Response): Promise<string> {
  try {
    return await res.text();
  } catch (e) {
    throw new TokenError('the token answer was cut short', res.status, { cause: e });
  }
}

export class MaskinportenClient {
  private signing: Promise<{ key: SigningKey; alg: string; kid?: string }> | undefined;
  private readonly cache = new Map<string, Cached>();
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly http: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly opts: MaskinportenOptions) {
    this.http = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
  }

  private audience(): string {
    if (this.opts.audience) return this.opts.audience;
    // https://test.maskinporten.no/token → https://test.maskinporten.no/ (the issuer).
    const u = new URL(this.opts.tokenUrl);
    return `${u.origin}${u.pathname.replace(/\/token\/?$/, '')}/`.replace(/\/+$/, '/');
  }

  private async grant(scope: string): Promise<string> {
    this.signing ??= loadSigningKey(this.opts.key);
    const { key, alg, kid } = await this.signing;
    const { SignJWT } = await loadJose();
    const keyId = this.opts.kid ?? kid;
    const iat = Math.floor(this.now() / 1000);
    return new SignJWT({ scope })
      .setProtectedHeader({ alg, ...(keyId ? { kid: keyId } : {}) })
      .setIssuer(this.opts.clientId)
      .setAudience(this.audience())
      .setIssuedAt(iat)
      .setExpirationTime(iat + GRANT_LIFETIME_S)
      .setJti(randomUUID())
      .sign(key);
  }

  /** A Maskinporten access token for `scope` (space-separated scopes). */
  accessToken(scope: string): Promise<string> {
    const hit = this.cache.get(scope);
    if (hit && hit.expiresAt - EARLY_RENEWAL_MS > this.now()) return Promise.resolve(hit.token);
    let pending = this.inFlight.get(scope);
    if (!pending) {
      pending = this.fetchToken(scope).finally(() => this.inFlight.delete(scope));
      this.inFlight.set(scope, pending);
    }
    return pending;
  }

  invalidate(scope: string, token: string): void {
    if (this.cache.get(scope)?.token === token) this.cache.delete(scope);
  }

  private async fetchToken(scope: string): Promise<string> {
    const assertion = await this.grant(scope);
    let res: Response;
    try {
      res = await this.http(this.opts.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          assertion,
        }).toString(),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (e) {
      throw new TokenError(`Maskinporten could not be reached: ${(e as Error).message}`, undefined, {
        cause: e,
      });
    }
    const body = await readBody(res);
    if (res.status !== 200) {
      let reason = `HTTP ${res.status}`;
      try {
        const j = JSON.parse(body) as { error?: string; error_description?: string };
        if (j.error) reason += ` ${j.error}${j.error_description ? `: ${j.error_description}` : ''}`;
      } catch {
        // Not JSON: the status says enough.
      }
      throw new TokenError(`Maskinporten refused the token request (${reason})`, res.status);
    }
    let parsed: { access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch (e) {
      throw new TokenError('Maskinporten answered with a body that is not JSON', res.status, { cause: e });
    }
    if (typeof parsed.access_token !== 'string' || !parsed.access_token) {
      throw new TokenError('Maskinporten answered without an access_token', res.status);
    }
    const now = this.now();
    const expiresAt =
      typeof parsed.expires_in === 'number'
        ? now + parsed.expires_in * 1000
        : await expiryOf(parsed.access_token, now, 120_000);
    this.cache.set(scope, { token: parsed.access_token, expiresAt });
    return parsed.access_token;
  }

  /** A TokenSource for one scope (e.g. the address service's). */
  source(scope: string): TokenSource {
    return {
      get: () => this.accessToken(scope),
      invalidate: (token) => this.invalidate(scope, token),
    };
  }
}

/** A token given in configuration: used as is. */
export function staticToken(token: string): TokenSource {
  return { get: async () => token, invalidate: () => {} };
}

export interface AltinnExchangeOptions {
  maskinporten: MaskinportenClient;
  scope: string;
  exchangeUrl: string;
  timeoutMs: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/** Altinn tokens: a Maskinporten token exchanged at Altinn's exchange endpoint (the body is the token). */
export class AltinnTokenExchange implements TokenSource {
  private cached: Cached | undefined;
  private inFlight: Promise<string> | undefined;
  private mpToken: string | undefined;
  private readonly http: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly opts: AltinnExchangeOptions) {
    this.http = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
  }

  get(): Promise<string> {
    if (this.cached && this.cached.expiresAt - EARLY_RENEWAL_MS > this.now()) {
      return Promise.resolve(this.cached.token);
    }
    this.inFlight ??= this.exchange().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  invalidate(token: string): void {
    if (this.cached?.token !== token) return;
    this.cached = undefined;
    // The Maskinporten token behind it may be the stale one too.
    if (this.mpToken) this.opts.maskinporten.invalidate(this.opts.scope, this.mpToken);
  }

  private async exchange(): Promise<string> {
    const mp = await this.opts.maskinporten.accessToken(this.opts.scope);
    this.mpToken = mp;
    let res: Response;
    try {
      res = await this.http(this.opts.exchangeUrl, {
        method: 'GET',
        headers: { authorization: `Bearer ${mp}`, accept: 'text/plain, application/json' },
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (e) {
      throw new TokenError(
        `Altinn's token exchange could not be reached: ${(e as Error).message}`,
        undefined,
        {
          cause: e,
        },
      );
    }
    const body = (await readBody(res)).trim();
    if (res.status !== 200) {
      if (res.status === 401) this.opts.maskinporten.invalidate(this.opts.scope, mp);
      throw new TokenError(`Altinn's token exchange answered HTTP ${res.status}`, res.status);
    }
    // The body is the token itself; some proxies wrap it in JSON quotes.
    const token = body.replace(/^"(.*)"$/s, '$1');
    if (!/^[A-Za-z0-9._~+/=-]+$/.test(token)) {
      throw new TokenError("Altinn's token exchange answered with something that is not a token", res.status);
    }
    this.cached = { token, expiresAt: await expiryOf(token, this.now(), 25 * 60_000) };
    return token;
  }
}
