import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ORG_DPV_ORDINARY_ONLY,
  ORG_DPV_TAUSHETSBELAGT,
  ORG_UNKNOWN,
} from '../../src/sandbox/address-service-seed.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { arkivmeldingXml, sbd } from '../helpers/messages.js';
import { multipartBody, type RawPart } from '../helpers/multipart.js';
import { rawRequest } from '../helpers/raw-http.js';

/**
 * Mutated requests against the real service (real Redis, the sandbox address service over HTTP):
 * whatever a client sends, the answer is never a 5xx while Redis and the sandbox are healthy, the
 * process keeps answering, and nothing is written outside DATA_DIR. FUZZ_RUNS raises the budget locally.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 6000);

let h: Harness;
let parent: string;
let dataDir: string;
const known: string[] = [];

beforeAll(async () => {
  // DATA_DIR inside a folder of its own, so a write beside it (a ../ escape) would show.
  parent = mkdtempSync(join(tmpdir(), 'eip-fuzz-'));
  dataDir = join(parent, 'data');
  h = await startHarness({ DATA_DIR: dataDir, AUTH_FAILURE_LIMIT: '0' });
  for (let i = 0; i < 3; i++) {
    const res = await h.json('POST', '/api/messages/out', sbd({ hoveddokument: 'brev.pdf' }));
    known.push(
      (
        res.body as {
          standardBusinessDocumentHeader: { documentIdentification: { instanceIdentifier: string } };
        }
      ).standardBusinessDocumentHeader.documentIdentification.instanceIdentifier,
    );
  }
});
afterAll(async () => {
  await h.close();
  rmSync(parent, { recursive: true, force: true });
});

// ---- building blocks ---------------------------------------------------------------------------------

/** Header-safe text (what an HTTP client can put in a header at all). */
const headerText = fc.string({
  unit: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
    { weight: 1, arbitrary: fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)) },
  ),
  maxLength: 120,
});

/** Strings that are hard on parsers: surrogates, control characters, traversal, very long. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '\ud800',
    '\udfff x',
    '../../etc/passwd',
    '..\\..\\x',
    'a/b',
    'C:x',
    '\u0000',
    '__proto__',
    '',
  ),
  fc.nat({ max: 70_000 }).map((n) => 'x'.repeat(n)),
  fc.constantFrom('2026-11-20T10:75:00+01:00', '2026-11-20T10:00:00+25:99', '9999-12-31T23:59:59Z'),
);

const jsonish: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant({ toString: 'x' }),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
);

/** Every path in a JSON value (objects and arrays), for targeted mutations. */
function pathsOf(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (!v || typeof v !== 'object') return [prefix];
  const entries = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v);
  return [prefix, ...entries.flatMap(([k, x]) => pathsOf(x, [...prefix, k]))];
}

type Mutation = { kind: 'set' | 'delete' | 'proto'; pick: number; value: unknown };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('set', 'set', 'set', 'delete', 'proto'),
  pick: fc.nat(),
  value: jsonish,
});

function mutate(doc: Record<string, unknown>, mutations: Mutation[]): string {
  for (const m of mutations) {
    const paths = pathsOf(doc).filter((p) => p.length > 0);
    // Earlier deletions may have emptied the document: nothing left to pick.
    if (!paths.length) break;
    const path = paths[m.pick % paths.length]!;
    let parentObj = doc as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) parentObj = parentObj[k] as Record<string | number, unknown>;
    const last = path[path.length - 1]!;
    if (m.kind === 'delete') delete parentObj[last];
    // A copy: fc.constant hands out the same object every time, and setting it inside itself would make a cycle.
    else if (m.kind === 'set') parentObj[last] = structuredClone(m.value);
  }
  let text = JSON.stringify(doc);
  if (mutations.some((m) => m.kind === 'proto')) text = text.replace('{', '{"__proto__":{"polluted":1},');
  return text;
}

const receiverArb = fc.constantFrom(ORG_DPV_TAUSHETSBELAGT, ORG_DPV_ORDINARY_ONLY, ORG_UNKNOWN, '12345');

const sbdTextArb = fc
  .tuple(receiverArb, fc.array(mutationArb, { maxLength: 3 }), fc.nat({ max: 20 }))
  .map(([receiver, mutations, cut]) => {
    const text = mutate(sbd({ receiver, hoveddokument: 'brev.pdf' }), mutations);
    // Now and then a truncated document.
    return cut === 0 ? text.slice(0, Math.floor(text.length / 2)) : text;
  });

const idArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant('KNOWN') },
  fc.uuid().map((u) => u),
  headerText.map((s) => encodeURIComponent(s) || 'x'),
  fc
    .uint8Array({ minLength: 1, maxLength: 8 })
    .map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')),
  fc.nat({ max: 400 }).map((n) => 'a'.repeat(n + 1)),
);

const resolveId = (id: string) => (id === 'KNOWN' ? known[id.length % known.length]! : id);

const queryArb = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'page',
        'size',
        'sort',
        'status',
        'fromDateTime',
        'toDateTime',
        'messageId',
        'conversationId',
        'title',
        'process',
        'securityLevel',
        'x',
      ),
      fc.oneof(
        headerText,
        fc.constantFrom('-1', '0', '1e9', 'NaN', 'lastUpdate,desc', 'OPPRETTET', '2026-11-20T10:75:00Z'),
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) =>
    pairs.length ? `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}` : '',
  );

/** `arb` once in `every` runs, otherwise undefined. */
const sometimes = <T>(arb: fc.Arbitrary<T>, every: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: every - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

// ---- requests ----------------------------------------------------------------------------------------

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  describe: string;
}

const createArb: fc.Arbitrary<FuzzRequest> = sbdTextArb.map((text) => ({
  method: 'POST',
  path: '/api/messages/out',
  headers: { 'content-type': 'application/json' },
  body: text,
  describe: `create ${text.slice(0, 200)}`,
}));

const partArb: fc.Arbitrary<RawPart> = fc
  .record({
    name: fc.oneof(
      fc.constantFrom('sbd', 'Arkivmelding', 'Brev', '__proto__', 'constructor', ''),
      headerText,
    ),
    filename: fc.option(
      fc.oneof(fc.constantFrom('arkivmelding.xml', 'brev.pdf', '../x.pdf', 'a\\b', 'c:d', ''), headerText),
    ),
    contentType: fc.option(
      fc.oneof(
        fc.constantFrom('application/json', 'text/xml', 'application/pdf', 'application/octet-stream'),
        headerText,
      ),
    ),
    extra: fc.option(headerText.map((v) => `Content-Length: ${v}`)),
    body: fc.oneof(
      sbdTextArb,
      fc.constant(arkivmeldingXml({ files: ['brev.pdf'] })),
      fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
      fc.constant('%PDF-1.7'),
    ),
  })
  .map((p) => ({
    headers: [
      `Content-Disposition: form-data; name="${p.name.replace(/"/g, '')}"${p.filename === null ? '' : `; filename="${p.filename.replace(/"/g, '')}"`}`,
      ...(p.contentType === null ? [] : [`Content-Type: ${p.contentType}`]),
      ...(p.extra === null ? [] : [p.extra]),
    ],
    body: p.body,
  }));

const multipartArb: fc.Arbitrary<FuzzRequest> = fc
  .record({
    boundary: fc.oneof(
      { weight: 4, arbitrary: fc.constant('fuzz-boundary') },
      { weight: 1, arbitrary: fc.nat({ max: 400 }).map((n) => 'b'.repeat(n)) },
      { weight: 1, arbitrary: headerText.filter((s) => !s.includes(';')) },
    ),
    declared: sometimes(headerText, 6),
    parts: fc.array(partArb, { maxLength: 4 }),
    cut: sometimes(fc.nat(), 4),
  })
  .map(({ boundary, declared, parts, cut }) => {
    let body = multipartBody(boundary || 'x', parts);
    if (cut !== undefined) body = body.subarray(0, cut % (body.length + 1));
    const ct = declared ?? `multipart/form-data; boundary=${boundary}`;
    return {
      method: 'POST',
      path: '/api/messages/out/multipart',
      headers: { 'content-type': ct },
      body,
      describe: `multipart ${ct} ${parts.length} parts cut=${cut}`,
    };
  });

const uploadArb: fc.Arbitrary<FuzzRequest> = fc
  .record({
    id: idArb,
    query: queryArb,
    contentType: fc.option(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom('text/xml', 'application/pdf', 'application/octet-stream') },
        { weight: 1, arbitrary: headerText },
      ),
      { nil: undefined, freq: 6 },
    ),
    disposition: fc.option(
      fc.oneof(
        { weight: 1, arbitrary: headerText },
        {
          weight: 4,
          arbitrary: fc.constantFrom(
            'attachment; filename="arkivmelding.xml"',
            'attachment; name="Brev"; filename="brev.pdf"',
            'attachment; name="x"; filename="../../escape.pdf"',
            "attachment; filename*=UTF-8''%E2%80%AE.pdf",
            'attachment; filename="a\\\\b.pdf"',
          ),
        },
      ),
      { nil: undefined, freq: 6 },
    ),
    body: fc.oneof(
      fc.constant(arkivmeldingXml({ files: ['brev.pdf'] })),
      fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)),
    ),
  })
  .map(({ id, query, contentType, disposition, body }) => ({
    method: 'PUT',
    path: `/api/messages/out/${resolveId(id)}${query}`,
    headers: {
      ...(contentType !== undefined ? { 'content-type': contentType } : {}),
      ...(disposition !== undefined ? { 'content-disposition': disposition } : {}),
    },
    body,
    describe: `upload ${id} ${disposition}`,
  }));

const readArb: fc.Arbitrary<FuzzRequest> = fc
  .record({
    route: fc.constantFrom(
      'GET /api/messages/out/:id',
      'GET /api/messages/out',
      'DELETE /api/messages/out/:id',
      'POST /api/messages/out/:id',
      'GET /api/statuses',
      'GET /api/statuses/:id',
      'GET /api/conversations',
      'GET /api/conversations/:id',
      'GET /api/conversations/messageId/:id',
      'GET /api/capabilities/:id',
    ),
    id: idArb,
    query: queryArb,
  })
  .map(({ route, id, query }) => {
    const [method, template] = route.split(' ') as [string, string];
    return {
      method,
      path: template.replace(':id', resolveId(id)) + query,
      headers: {},
      describe: route,
    };
  });

const requestArb = fc.oneof(createArb, multipartArb, uploadArb, readArb);

// ---- the property ----------------------------------------------------------------------------------------

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

const tally = new Map<string, number>();
afterAll(() => {
  if (process.env.FUZZ_TALLY) console.log([...tally].sort().join('\n'));
});

describe('HTTP fuzz', () => {
  it('never answers 5xx, keeps running, and writes only inside DATA_DIR', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (req) => {
        const res = await rawRequest(
          h.base,
          req.method,
          req.path,
          { authorization: h.auth, ...req.headers },
          req.body,
        );
        const key = `${req.describe.split(' ')[0]} ${res.status} ${res.status >= 400 ? JSON.parse(res.text).exception : ''}`;
        tally.set(key, (tally.get(key) ?? 0) + 1);
        if (res.status >= 500)
          throw new Error(`${res.status} for ${req.describe}: ${res.text.slice(0, 400)}`);
        if (res.status >= 400 && req.method !== 'HEAD') {
          const body = JSON.parse(res.text) as { status: number; exception: string };
          expect(body.status).toBe(res.status);
          expect(body.exception).toMatch(/^[A-Z][A-Za-z]+Exception$/);
        }
      }),
      { numRuns: RUNS, seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined },
    );
    // Still up, and still itself.
    expect((await rawRequest(h.base, 'GET', '/health/ready')).status).toBe(200);
    expect(h.logs.join('')).not.toContain('"unhandled error"');
    // Nothing beside DATA_DIR; inside it only out/<uuid>/<uuid>.bin.
    expect(readdirSync(parent).filter((n) => n !== 'data')).toEqual([]);
    if (existsSync(dataDir)) {
      for (const f of filesUnder(dataDir)) expect(f).toMatch(/^out\/[0-9a-f-]{36}\/[0-9a-f-]{36}\.bin$/);
    }
    // Not vacuous: requests of each kind got through to the service, and some were accepted.
    const answered = [...tally.keys()];
    for (const kind of ['create', 'multipart', 'upload', 'GET']) {
      expect(
        answered.some((k) => k.startsWith(`${kind} `)),
        kind,
      ).toBe(true);
    }
    expect(answered.some((k) => / 200 /.test(k))).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 180_000);
});
