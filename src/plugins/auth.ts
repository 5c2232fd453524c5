import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Errors } from '../domain/errors.js';
import type { RouteDeps } from '../routes/types.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export interface BasicAuthOptions {
  username: string;
  password: string;
  /** Failed attempts from one address within `failureWindowMs` that start a lockout; 0 turns throttling off. */
  failureLimit: number;
  failureWindowMs: number;
  lockoutMs: number;
  now?: () => number;
}

interface FailureRecord {
  windowStart: number;
  failures: number;
  lockedUntil: number;
}

/** Addresses tracked at most; beyond it the oldest records are dropped (the map cannot grow without bound). */
const MAX_TRACKED_ADDRESSES = 10_000;

/**
 * Counts failed logins per client address, in this process's memory only (each process counts its own).
 * A burst of `limit` failures within `windowMs` locks the address out for `lockoutMs`.
 */
export class FailedLoginLimiter {
  private readonly records = new Map<string, FailureRecord>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly lockoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.limit > 0 && this.lockoutMs > 0;
  }

  /** Milliseconds until the address may try again; 0 when it is not locked out. */
  lockedFor(address: string): number {
    if (!this.enabled) return 0;
    const r = this.records.get(address);
    if (!r) return 0;
    const left = r.lockedUntil - this.now();
    return Math.max(left, 0);
  }

  /** Records a failure; returns the lockout in milliseconds it starts (0 when none). */
  fail(address: string): number {
    if (!this.enabled) return 0;
    const now = this.now();
    let r = this.records.get(address);
    if (!r || now - r.windowStart >= this.windowMs) {
      this.records.delete(address);
      this.prune(now, MAX_TRACKED_ADDRESSES - 1);
      r = { windowStart: now, failures: 0, lockedUntil: 0 };
      this.records.set(address, r);
    }
    r.failures++;
    if (r.failures >= this.limit) {
      r.lockedUntil = now + this.lockoutMs;
      r.failures = 0;
      r.windowStart = now;
      return this.lockoutMs;
    }
    return 0;
  }

  /** A successful login forgets the address's failures. */
  succeed(address: string): void {
    if (this.records.size) this.records.delete(address);
  }

  /** Makes room: records no longer locked go first, then the oldest. */
  private prune(now: number, keep: number): void {
    if (this.records.size <= keep) return;
    for (const [addr, r] of this.records) {
      if (this.records.size <= keep) break;
      if (r.lockedUntil <= now) this.records.delete(addr);
    }
    while (this.records.size > keep) {
      const oldest = this.records.keys().next().value;
      if (oldest === undefined) break;
      this.records.delete(oldest);
    }
  }
}

const CHALLENGE = 'Basic realm="eformidling-integrasjonspunkt", charset="UTF-8"';

/** An onRequest hook for HTTP Basic: constant-time comparison of hashed credentials, failures throttled per address. */
export function basicAuthHook(opts: BasicAuthOptions) {
  const expected = digest(`${opts.username}:${opts.password}`);
  const limiter = new FailedLoginLimiter(
    opts.failureLimit,
    opts.failureWindowMs,
    opts.lockoutMs,
    opts.now ?? Date.now,
  );
  const tooMany = (reply: FastifyReply, ms: number) => {
    const seconds = Math.max(1, Math.ceil(ms / 1000));
    reply.header('Retry-After', String(seconds));
    return Errors.tooManyAuthenticationFailures(
      `Too many failed authentication attempts from this address; try again in ${seconds} s`,
    );
  };
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const address = request.ip;
    const locked = limiter.lockedFor(address);
    if (locked > 0) throw tooMany(reply, locked);
    const header = request.headers.authorization ?? '';
    const m = /^Basic[ \t]+([A-Za-z0-9+/=]+)$/i.exec(header);
    const given = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    if (m && timingSafeEqual(digest(given), expected)) {
      limiter.succeed(address);
      return;
    }
    // A request without any credentials is how clients discover the challenge; only wrong ones count.
    if (header) {
      const lockout = limiter.fail(address);
      if (lockout > 0) {
        request.log.warn({ ip: address }, 'authentication locked out after repeated failures');
        throw tooMany(reply, lockout);
      }
    }
    reply.header('WWW-Authenticate', CHALLENGE);
    throw Errors.unauthorized(
      'Authentication required: HTTP Basic with the configured API_USERNAME / API_PASSWORD',
    );
  };
}

/** Anything registered inside `protectedApi` is marked; the guard below refuses to start if an /api route is not. */
const PROTECTED = Symbol('protectedApi');
type MarkedRoute = RouteOptions & { [PROTECTED]?: true };

export interface ProtectedApiOptions {
  /** HTTP Basic settings; undefined when API_AUTH=none. */
  auth: BasicAuthOptions | undefined;
  /** The route plugins that make up the API; each is registered inside the protected scope with `deps`. */
  routes: readonly FastifyPluginAsyncZod<RouteDeps>[];
  deps: RouteDeps;
}

/**
 * One encapsulated scope for every protected route. Its onRequest hook runs for every request the router
 * sends to a route registered here, whatever the raw URL looked like (`/%61pi/…` included): the check
 * belongs to where the route lives, not to a string test on the URL.
 */
export async function protectedApi(app: FastifyInstance, opts: ProtectedApiOptions): Promise<void> {
  app.addHook('onRoute', (route) => {
    (route as MarkedRoute)[PROTECTED] = true;
  });
  if (opts.auth) app.addHook('onRequest', basicAuthHook(opts.auth));
  for (const routes of opts.routes) await app.register(routes, opts.deps);
}

/** True for paths that must only be served from inside `protectedApi`. */
export const isApiPath = (url: string) => url === '/api' || url.startsWith('/api/');

/**
 * Fails the start (not a request) when an /api route was registered outside `protectedApi`. Install on the
 * root instance before any route is registered.
 */
export function guardApiRoutes(app: FastifyInstance): void {
  const seen: MarkedRoute[] = [];
  app.addHook('onRoute', (route) => {
    seen.push(route as MarkedRoute);
  });
  app.addHook('onReady', async () => {
    // Child scopes' onRoute hooks run after this one on the same object, so the marks are in place by now.
    const open = seen.filter((r) => isApiPath(r.url) && !r[PROTECTED]);
    if (open.length) {
      const list = open.map((r) => `${String(r.method)} ${r.url}`).join(', ');
      throw new Error(`Routes under /api registered outside the protected scope: ${list}`);
    }
  });
}
