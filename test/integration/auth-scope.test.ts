import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardApiRoutes, protectedApi } from '../../src/plugins/auth.js';
import type { RouteDeps } from '../../src/routes/types.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { type RawResponse, rawRequest } from '../helpers/raw-http.js';

const openapi = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
};

const SAMPLE: Record<string, string> = {
  receiverIdentifier: '910075946',
  messageId: randomUUID(),
  id: '1',
};

/** Every documented /api operation, with sample path parameters filled in. */
const operations = Object.entries(openapi.paths)
  .filter(([p]) => p.startsWith('/api/'))
  .flatMap(([p, methods]) =>
    Object.keys(methods).map((m) => ({
      method: m.toUpperCase(),
      path: p.replace(/\{(\w+)\}/g, (_, name: string) => SAMPLE[name] ?? 'x'),
    })),
  );
const apiPaths = [...new Set(operations.map((o) => o.path))];

/** The path with the character at index i percent-encoded (the router decodes it; a prefix test would not). */
function encodedAt(path: string, i: number): string {
  const hex = path.charCodeAt(i).toString(16).toUpperCase().padStart(2, '0');
  return `${path.slice(0, i)}%${hex}${path.slice(i + 1)}`;
}

/** Paths a confused or hostile client might send for the same route. */
function mangled(path: string): string[] {
  const out = new Set<string>();
  const slashes = [...path.matchAll(/\//g)].map((m) => m.index);
  for (const i of slashes) {
    if (i > 0) out.add(`${path.slice(0, i)}%2F${path.slice(i + 1)}`);
    out.add(`${path.slice(0, i)}//${path.slice(i + 1)}`);
    out.add(`${path.slice(0, i)}/.${path.slice(i)}`);
    out.add(`${path.slice(0, i)}/x/..${path.slice(i)}`);
  }
  out.add(`${path}/`);
  out.add(`${path}/.`);
  out.add(path.toUpperCase());
  out.add(path.replace(/\/(\w)/g, (_, c: string) => `/${c.toUpperCase()}`));
  out.add(`${path.replace(/^\/api/, '/%2561pi')}`);
  out.add(`${path}%00`);
  out.add(`${path};x=1`);
  return [...out];
}

const WRONG = `Basic ${Buffer.from('fagsystem:wrong-password').toString('base64')}`;

function expect401(res: RawResponse, method: string): void {
  expect(res.status, `${method}`).toBe(401);
  expect(res.headers['www-authenticate']).toContain('Basic');
  if (method === 'HEAD') return;
  const body = JSON.parse(res.text);
  expect(body).toMatchObject({ status: 401, exception: 'UnauthorizedException', error: 'Unauthorized' });
  expect(body.type).toBeTypeOf('string');
}

function expectGeneric404(res: RawResponse, method: string): void {
  expect(res.status).toBe(404);
  if (method === 'HEAD') return;
  const body = JSON.parse(res.text);
  expect(body).toMatchObject({ status: 404, exception: 'NotFoundException', message: 'No such endpoint' });
}

describe('every /api route is inside the protected scope', () => {
  let h: Harness;
  beforeAll(async () => {
    // Throttling off here: this suite sends hundreds of wrong passwords on purpose.
    h = await startHarness({ AUTH_FAILURE_LIMIT: '0' });
  });
  afterAll(() => h.close());

  it('covers at least the routes the API documents', () => {
    expect(operations.length).toBeGreaterThanOrEqual(12);
  });

  it('answers 401 to every documented operation without or with wrong credentials', async () => {
    for (const { method, path } of operations) {
      expect401(await rawRequest(h.base, method, path), `${method} ${path}`);
      expect401(await rawRequest(h.base, method, path, { authorization: WRONG }), `${method} ${path}`);
      expect401(await rawRequest(h.base, method, path, { authorization: 'Bearer x' }), `${method} ${path}`);
    }
  });

  it('answers 401 with the path percent-encoded in any position', async () => {
    for (const { method, path } of operations) {
      for (let i = 0; i < path.length; i++) {
        if (path[i] === '/') continue;
        const p = encodedAt(path, i);
        expect401(await rawRequest(h.base, method, p), `${method} ${p}`);
        expect401(
          await rawRequest(h.base, method, `${p}?x=%2Fapi`, { authorization: WRONG }),
          `${method} ${p}`,
        );
      }
    }
  });

  it('HEAD on a protected GET is 401; OPTIONS and unknown methods reach no route', async () => {
    for (const path of apiPaths) {
      // HEAD mirrors GET: what an authenticated GET reaches, an anonymous HEAD must be refused at.
      const authedGet = await rawRequest(h.base, 'GET', path, { authorization: h.auth });
      const head = await rawRequest(h.base, 'HEAD', path);
      // An empty answer (204, e.g. peek with nothing to give) is a reached route too.
      if (authedGet.text && JSON.parse(authedGet.text).exception === 'NotFoundException')
        expectGeneric404(head, 'HEAD');
      else expect401(head, 'HEAD');
      expectGeneric404(await rawRequest(h.base, 'OPTIONS', path), 'OPTIONS');
      expectGeneric404(await rawRequest(h.base, 'PATCH', path), 'PATCH');
    }
  });

  it('any method on any documented path: 401 wherever an authenticated request reaches a route', async () => {
    let refused = 0;
    for (const path of apiPaths) {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) {
        const authed = await rawRequest(h.base, method, path, { authorization: h.auth });
        const unmatched = authed.status === 404 && JSON.parse(authed.text).exception === 'NotFoundException';
        for (const headers of [{}, { authorization: WRONG }] as Record<string, string>[]) {
          const res = await rawRequest(h.base, method, path, headers);
          if (unmatched) expectGeneric404(res, method);
          else {
            expect401(res, `${method} ${path}`);
            refused++;
          }
        }
      }
    }
    expect(refused).toBeGreaterThanOrEqual(operations.length * 2);
  });

  it('a mangled path is refused (401) or matches nothing (the same 404 as with credentials)', async () => {
    let refused = 0;
    let unmatched = 0;
    for (const { method, path } of operations) {
      for (const p of mangled(path)) {
        const authed = await rawRequest(h.base, method, p, { authorization: h.auth });
        const anon = await rawRequest(h.base, method, p);
        const wrong = await rawRequest(h.base, method, p, { authorization: WRONG });
        const isUnmatched =
          authed.status === 404 && JSON.parse(authed.text).exception === 'NotFoundException';
        for (const res of [anon, wrong]) {
          if (isUnmatched) expectGeneric404(res, method);
          else expect401(res, `${method} ${p}`);
        }
        if (isUnmatched) unmatched++;
        else refused++;
      }
    }
    // Both kinds occur, so neither branch above is vacuous.
    expect(refused).toBeGreaterThan(0);
    expect(unmatched).toBeGreaterThan(0);
  });

  it('unmatched paths get one 404 that names nothing, with or without credentials', async () => {
    for (const p of [
      '/api',
      '/api/',
      '/api/nothing',
      '/api/messages/nothing',
      '/%61pi/nothing',
      '/nothing',
    ]) {
      const anon = await rawRequest(h.base, 'GET', p);
      const authed = await rawRequest(h.base, 'GET', p, { authorization: h.auth });
      expectGeneric404(anon, 'GET');
      expectGeneric404(authed, 'GET');
      const comparable = (text: string) => {
        const { instance: _i, timestamp: _t, requestId: _r, ...rest } = JSON.parse(text);
        return rest;
      };
      expect(comparable(anon.text)).toEqual(comparable(authed.text));
      expect(anon.headers['www-authenticate']).toBeUndefined();
    }
  });

  it('keeps health and the API description public', async () => {
    expect((await rawRequest(h.base, 'GET', '/health/live')).status).toBe(200);
    expect((await rawRequest(h.base, 'GET', '/openapi.json')).status).toBe(200);
  });
});

describe('the protected scope guard', () => {
  const deps = {} as RouteDeps;
  it('refuses to start when an /api route is registered outside the protected scope', async () => {
    const app = Fastify();
    guardApiRoutes(app);
    await app.register(protectedApi, { auth: undefined, routes: [], deps });
    app.get('/api/open', async () => 'x');
    await expect(app.ready()).rejects.toThrow(/outside the protected scope: GET \/api\/open/);
    await app.close();
  });
  it('starts when every /api route is inside it', async () => {
    const app = Fastify();
    guardApiRoutes(app);
    app.get('/health', async () => 'ok');
    await app.register(protectedApi, {
      auth: undefined,
      routes: [async (scope) => void scope.get('/api/inside', async () => 'x')],
      deps,
    });
    await app.ready();
    await app.close();
  });
});
