import { z } from 'zod';
import {
  type IdentifierResource,
  type InfoRecord,
  identifierResourceSchema,
  infoRecordSchema,
} from '../domain/capabilities.js';
import { type AppError, Errors } from '../domain/errors.js';
import { LONE_SURROGATE } from '../domain/json-text.js';
import { loadJose } from './jose.js';

export type { IdentifierResource, InfoRecord, ServiceRecord, SrService } from '../domain/capabilities.js';

/**
 * Client for the address service (service registry, SR): the lookup the integration point makes before it
 * accepts or sends a message, with JWS verification of SR's answers and a short per-parameter cache.
 */

export interface AddressServiceOptions {
  baseUrl: string;
  verify: boolean;
  timeoutMs: number;
  cacheSeconds: number;
  fetch?: typeof fetch;
  log?: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
  /** Clock for cache expiry, in ms; tests inject one. */
  now?: () => number;
  /** Most cached answers kept; the oldest is dropped first. */
  maxCacheEntries?: number;
  /** Bearer token (e.g. a Maskinporten access token) the address service requires; wins over URL credentials. */
  bearerToken?: string;
  /** Fetches the bearer token per request (Maskinporten, cached there); used when bearerToken is not given. */
  tokenSource?: { get(): Promise<string>; invalidate(token: string): void };
}

export interface LookupParams {
  /** Bare 9-digit organisation number or 11-digit person id. */
  identifier: string;
  process?: string;
  securityLevel?: number;
  conversationId?: string;
}

/** SR has no service record for the parameters (its 404), or refuses them (its 400, e.g. security level 4). */
export class ServiceRecordNotFound extends Error {
  constructor(
    readonly description: string,
    readonly status: number,
    readonly params: LookupParams,
  ) {
    super(description);
    this.name = 'ServiceRecordNotFound';
  }
}

/** 4xx answers that say something about us (credentials, rate, timing), not about the client's input. */
const OUR_FAULT_4XX = new Set([401, 403, 407, 408, 409, 421, 425, 429]);

const DEFAULT_MAX_CACHE_ENTRIES = 10_000;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_DESCRIPTION_CHARS = 300;

// jose error codes that mean "this answer is not signed by SR's published key" rather than "SR or its key set is down".
const SIGNATURE_ERRORS = [
  'JWSSignatureVerificationFailed',
  'JWKSNoMatchingKey',
  'JWKSMultipleMatchingKeys',
  'JOSEAlgNotAllowed',
  'JOSENotSupported',
  'JWSInvalid',
  'JWKInvalid',
] as const;

type Jose = typeof import('jose');

/** What verification needs from jose, loaded with the first answer to verify. */
interface Verifier {
  compactVerify: Jose['compactVerify'];
  jwks: ReturnType<Jose['createRemoteJWKSet']>;
  signatureErrorCodes: ReadonlySet<string>;
  timeoutCode: string;
}

// /info answers with the info record and an empty or absent list of service records.
const infoResponseSchema = z.looseObject({ infoRecord: infoRecordSchema });

interface CacheEntry {
  expiresAt: number;
  value: unknown;
}

/**
 * Splits user:password off the base URL: fetch refuses URLs with credentials, and they must never reach a message.
 * They are sent as Basic authorization instead, as a browser or curl would.
 */
function splitBaseUrl(baseUrl: string): { base: string; authorization?: string } {
  const trimmed = baseUrl.replace(/\/+$/, '');
  let u: URL;
  try {
    u = new URL(trimmed);
  } catch {
    return { base: trimmed };
  }
  if (!u.username && !u.password) return { base: trimmed };
  const user = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return {
    base: u.toString().replace(/\/+$/, ''),
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  };
}

/** A process URN goes in as a raw path segment (colons unescaped), as the reference sends it. */
function pathSegment(value: string, keepColons: boolean): string {
  // encodeURIComponent throws a URIError on an unpaired surrogate: that is the caller's input, not our fault.
  if (LONE_SURROGATE.test(value)) {
    throw Errors.validation(
      'An identifier sent to the address service contains an unpaired UTF-16 surrogate',
    );
  }
  const enc = encodeURIComponent(value);
  return keepColons ? enc.replace(/%3A/gi, ':') : enc;
}

function reasonOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    if (cause instanceof Error && cause.message) return cause.message;
    if (typeof cause === 'object' && cause && 'code' in cause)
      return String((cause as { code: unknown }).code);
    return err.message || err.name;
  }
  return String(err);
}

/** SR's error text from `{error_code, error_description}`, `{message}` or plain text; undefined for an empty body. */
function errorDescriptionOf(body: string): string | undefined {
  const text = body.trim();
  if (!text) return undefined;
  try {
    const json: unknown = JSON.parse(text);
    if (json && typeof json === 'object') {
      const o = json as Record<string, unknown>;
      for (const k of ['error_description', 'message', 'error']) {
        const v = o[k];
        if (typeof v === 'string' && v.trim()) return v.trim().slice(0, MAX_DESCRIPTION_CHARS);
      }
      return undefined;
    }
  } catch {
    // Not JSON: fall through to the text itself.
  }
  return text.startsWith('<') ? undefined : text.slice(0, MAX_DESCRIPTION_CHARS);
}

export class AddressServiceClient {
  readonly stats = { requests: 0, cacheHits: 0 };

  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly http: typeof fetch;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** SR's key set (fetched and cached by jose), made with the first answer to verify. */
  private verifier: Promise<Verifier> | undefined;

  constructor(private readonly opts: AddressServiceOptions) {
    const { base, authorization } = splitBaseUrl(opts.baseUrl);
    this.base = base;
    const auth = opts.bearerToken ? `Bearer ${opts.bearerToken}` : authorization;
    this.headers = auth ? { authorization: auth } : {};
    this.http = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
    this.maxEntries = Math.max(1, opts.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES);
  }

  private loadVerifier(): Promise<Verifier> {
    this.verifier ??= loadJose().then((jose) => {
      const http = this.http;
      return {
        compactVerify: jose.compactVerify,
        jwks: jose.createRemoteJWKSet(new URL(`${this.base}/jwk`), {
          timeoutDuration: this.opts.timeoutMs,
          headers: this.headers,
          [jose.customFetch]: (url, init) => http(url, init),
        }),
        signatureErrorCodes: new Set(SIGNATURE_ERRORS.map((name) => jose.errors[name].code)),
        timeoutCode: jose.errors.JWKSTimeout.code,
      };
    });
    return this.verifier;
  }

  /** GET {base}/identifier/{id}[/process/{process}]?securityLevel=&conversationId= */
  async lookup(p: LookupParams): Promise<IdentifierResource> {
    let path = `/identifier/${pathSegment(p.identifier, false)}`;
    if (p.process) path += `/process/${pathSegment(p.process, true)}`;
    const query = new URLSearchParams();
    if (p.securityLevel !== undefined) query.set('securityLevel', String(p.securityLevel));
    if (p.conversationId) query.set('conversationId', p.conversationId);
    const url = query.size ? `${path}?${query}` : path;
    // conversationId only feeds SR's logging, so it is not part of the cache key.
    const key = `identifier|${p.identifier}|${p.process ?? ''}|${p.securityLevel ?? ''}`;
    return this.cached(key, () => this.fetchVerified(url, p, identifierResourceSchema));
  }

  /** GET {base}/info/{id}: the info record only. */
  async info(identifier: string): Promise<InfoRecord> {
    const key = `info|${identifier}`;
    const res = await this.cached(key, () =>
      this.fetchVerified(`/info/${pathSegment(identifier, false)}`, { identifier }, infoResponseSchema),
    );
    return res.infoRecord;
  }

  /** Serves a fresh cached answer, joins an identical request in flight, or makes the request and caches success. */
  private async cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.cache.get(key);
    if (hit) {
      if (hit.expiresAt > this.now()) {
        this.stats.cacheHits++;
        this.opts.log?.debug({ key }, 'address service answer served from cache');
        return structuredClone(hit.value) as T;
      }
      this.cache.delete(key);
    }
    let pending = this.inFlight.get(key) as Promise<T> | undefined;
    if (pending) {
      this.stats.cacheHits++;
    } else {
      pending = load().then((value) => {
        this.remember(key, value);
        return value;
      });
      this.inFlight.set(key, pending);
      // Cleared whether it succeeded or failed, so failures are never reused.
      const clear = () => this.inFlight.delete(key);
      pending.then(clear, clear);
    }
    // Each caller gets its own copy, so one caller's edits never leak into another's answer.
    return structuredClone(await pending);
  }

  private remember(key: string, value: unknown): void {
    if (this.opts.cacheSeconds <= 0) return;
    this.cache.delete(key);
    this.cache.set(key, { expiresAt: this.now() + this.opts.cacheSeconds * 1000, value });
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }

  private unavailable(reason: string): AppError {
    return Errors.addressServiceUnavailable(`Address service at ${this.base} ${reason}`);
  }

  private async fetchVerified<S extends z.ZodType>(
    pathAndQuery: string,
    params: LookupParams,
    schema: S,
  ): Promise<z.output<S>> {
    const url = `${this.base}${pathAndQuery}`;
    const accept = this.opts.verify ? 'application/jose, application/json' : 'application/json';
    this.stats.requests++;
    const started = this.now();
    let status = 0;
    let body = '';
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const token =
          this.opts.tokenSource && !this.opts.bearerToken ? await this.opts.tokenSource.get() : undefined;
        const res = await this.http(url, {
          method: 'GET',
          headers: { ...this.headers, ...(token ? { authorization: `Bearer ${token}` } : {}), accept },
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
        status = res.status;
        body = await res.text();
        // A stale Maskinporten token: drop it and ask once more with a fresh one.
        if (status !== 401 || !token) break;
        this.opts.tokenSource?.invalidate(token);
      }
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const e = timedOut
        ? this.unavailable(`did not answer within the timeout of ${this.opts.timeoutMs} ms`)
        : this.unavailable(`is unreachable: ${reasonOf(err)}`);
      this.opts.log?.warn({ path: pathAndQuery, reason: e.message }, 'address service request failed');
      throw e;
    }
    this.opts.log?.debug(
      { path: pathAndQuery, status, ms: this.now() - started },
      'address service answered',
    );

    if (status === 404 || status === 400) {
      const description =
        errorDescriptionOf(body) ??
        `Address service found no service record for identifier ${params.identifier}${params.process ? ` and process ${params.process}` : ''}`;
      throw new ServiceRecordNotFound(description, status, params);
    }
    if (status >= 400 && status < 500 && !OUR_FAULT_4XX.has(status)) {
      // The address service refused what we passed on (an over-long or malformed identifier or process):
      // the client's input, so the client's 400 rather than an outage.
      this.opts.log?.warn({ path: pathAndQuery.slice(0, 200), status }, 'address service refused the input');
      throw Errors.validation(
        `The address service refused the receiver or process as given (HTTP ${status})${params.process ? `; process: ${params.process.slice(0, 200)}` : ''}`,
        { description: errorDescriptionOf(body) ?? `HTTP ${status}` },
      );
    }
    if (status !== 200) {
      const detail = status >= 500 ? errorDescriptionOf(body) : undefined;
      const e = this.unavailable(`answered HTTP ${status}${detail ? `: ${detail}` : ''}`);
      this.opts.log?.warn({ path: pathAndQuery, status }, 'address service request failed');
      throw e;
    }

    const json = this.opts.verify ? await this.verifiedPayload(body) : body;
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw this.unavailable('answered with a body that is not JSON');
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
      const issue = result.error.issues[0];
      const where = issue?.path.length ? issue.path.join('.') : '(root)';
      throw this.unavailable(`answered with an unexpected shape at ${where}: ${issue?.message ?? 'invalid'}`);
    }
    return result.data;
  }

  /** The JSON inside SR's compact JWS, once its RS256 signature checks out against SR's published key set. */
  private async verifiedPayload(body: string): Promise<string> {
    const jws = body.trim();
    if (!COMPACT_JWS.test(jws)) {
      this.opts.log?.warn({}, 'address service answer was not signed');
      throw Errors.addressServiceBadSignature(
        `Address service at ${this.base} answered without a signature (expected a JWS, application/jose); the answer was rejected.`,
      );
    }
    const v = await this.loadVerifier();
    try {
      const { payload } = await v.compactVerify(jws, v.jwks, { algorithms: ['RS256'] });
      return new TextDecoder().decode(payload);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && v.signatureErrorCodes.has(code)) {
        this.opts.log?.warn({ code }, 'address service signature rejected');
        throw Errors.addressServiceBadSignature(
          `Address service at ${this.base} answered with a signature that does not verify against its key set at /jwk (${code}); the answer was rejected.`,
        );
      }
      const timedOut = code === v.timeoutCode;
      throw this.unavailable(
        timedOut
          ? `did not serve its signing key set within the timeout of ${this.opts.timeoutMs} ms`
          : `could not serve its signing key set: ${reasonOf(err)}`,
      );
    }
  }
}
