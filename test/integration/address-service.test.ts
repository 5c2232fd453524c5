import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactSign, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AddressServiceClient,
  type AddressServiceOptions,
  ServiceRecordNotFound,
} from '../../src/adapters/address-service.js';
import { pickServiceRecord, toCapabilities } from '../../src/domain/capabilities.js';
import { AppError } from '../../src/domain/errors.js';
import { type AddressServiceSandbox, startAddressServiceSandbox } from '../../src/sandbox/address-service.js';
import {
  DOCTYPE_ARKIVMELDING,
  ORG_DPO,
  ORG_DPV_ORDINARY_ONLY,
  ORG_DPV_TAUSHETSBELAGT,
  ORG_SENDER,
  ORG_UNKNOWN,
  PROCESS_ADMINISTRASJON,
  PROCESS_TAUSHETSBELAGT,
  RESOURCE_DPV_TAUSHETSBELAGT,
} from '../../src/sandbox/address-service-seed.js';

const BASE_PATH = '/adressetjeneste';
const SLOW_MS = 1500;

let sandbox: AddressServiceSandbox;

beforeAll(async () => {
  sandbox = await startAddressServiceSandbox({ basePath: BASE_PATH, slowMs: SLOW_MS });
});

afterAll(async () => {
  await sandbox?.close();
});

beforeEach(() => {
  sandbox.setMode('ok');
  sandbox.resetRequests();
});

function client(overrides: Partial<AddressServiceOptions> = {}): AddressServiceClient {
  return new AddressServiceClient({
    baseUrl: sandbox.url,
    verify: true,
    timeoutMs: 2000,
    cacheSeconds: 60,
    ...overrides,
  });
}

/** Requests the client made for service records, leaving out the key-set fetches. */
function lookups(): { url: string; accept?: string }[] {
  return sandbox.requests.filter((r) => !r.url.endsWith('/jwk'));
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: unknown) => err,
  );
}

const taushetsbelagt = (
  identifier: string,
  more: { securityLevel?: number; conversationId?: string } = {},
) => ({
  identifier,
  process: PROCESS_TAUSHETSBELAGT,
  ...more,
});

describe('sandbox address service', () => {
  it('publishes its RS256 signing key with kid, alg and use', async () => {
    const res = await fetch(`${sandbox.url}/jwk`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String) });
    expect(body.keys[0]).not.toHaveProperty('d');
  });

  it('answers plain JSON unless application/jose is asked for', async () => {
    const plain = await fetch(`${sandbox.url}/identifier/${ORG_SENDER}`, {
      headers: { accept: 'application/json' },
    });
    expect(plain.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await plain.json()) as { serviceRecords: unknown[] }).serviceRecords).toHaveLength(2);
    const signed = await fetch(`${sandbox.url}/identifier/${ORG_SENDER}`, {
      headers: { accept: 'application/jose' },
    });
    expect(signed.headers.get('content-type')).toMatch(/^application\/jose/);
    expect((await signed.text()).split('.')).toHaveLength(3);
  });

  it('answers an unknown info lookup with a bare 404', async () => {
    const res = await fetch(`${sandbox.url}/info/${ORG_UNKNOWN}`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('');
  });
});

describe('AddressServiceClient: signatures', () => {
  it('accepts a correctly signed answer and returns its payload', async () => {
    const c = client();
    const res = await c.lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT));
    expect(res.infoRecord.identifier).toBe(ORG_DPV_TAUSHETSBELAGT);
    expect(res.serviceRecords).toHaveLength(1);
    expect(res.serviceRecords[0]?.service).toMatchObject({
      identifier: 'DPV',
      resource: RESOURCE_DPV_TAUSHETSBELAGT,
    });
    expect(res.serviceRecords[0]?.pemCertificate).toBeNull();
  });

  it.each(['tamper', 'wrong-key', 'unsigned'] as const)('rejects a %s answer with a 502', async (mode) => {
    sandbox.setMode(mode);
    const err = await failure(client().lookup({ identifier: ORG_SENDER }));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 502, code: 'ServiceRegistrySignatureException' });
    expect((err as AppError).message).toMatch(/rejected/);
    expect((err as AppError).message).toContain(sandbox.url);
  });

  it('never caches a rejected answer', async () => {
    const c = client();
    sandbox.setMode('tamper');
    await expect(c.lookup({ identifier: ORG_SENDER })).rejects.toMatchObject({ status: 502 });
    sandbox.setMode('ok');
    await expect(c.lookup({ identifier: ORG_SENDER })).resolves.toMatchObject({
      infoRecord: { identifier: ORG_SENDER },
    });
    expect(lookups()).toHaveLength(2);
  });

  it('accepts plain JSON with verify off, asking only for application/json', async () => {
    const c = client({ verify: false });
    const res = await c.lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT));
    expect(res.serviceRecords[0]?.process).toBe(PROCESS_TAUSHETSBELAGT);
    expect(lookups()[0]?.accept).toBe('application/json');
    expect(sandbox.requests.some((r) => r.url.endsWith('/jwk'))).toBe(false);
  });

  describe('against an address service that signs with another algorithm', () => {
    let server: Server;
    let base: string;

    beforeAll(async () => {
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      const jwk = { ...(await exportJWK(publicKey)), kid: 'es', alg: 'ES256', use: 'sig' };
      const payload = JSON.stringify({ infoRecord: { identifier: ORG_SENDER }, serviceRecords: [] });
      const jws = await new CompactSign(new TextEncoder().encode(payload))
        .setProtectedHeader({ alg: 'ES256', kid: 'es' })
        .sign(privateKey);
      server = createServer((req, res) => {
        if (req.url?.endsWith('/jwk')) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
        } else {
          res.writeHead(200, { 'content-type': 'application/jose' }).end(jws);
        }
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      server.close();
      await once(server, 'close');
    });

    it('rejects a JWS that is not RS256', async () => {
      const c = new AddressServiceClient({ baseUrl: base, verify: true, timeoutMs: 2000, cacheSeconds: 60 });
      await expect(c.lookup({ identifier: ORG_SENDER })).rejects.toMatchObject({
        status: 502,
        code: 'ServiceRegistrySignatureException',
      });
    });
  });
});

describe('AddressServiceClient: the request it sends', () => {
  it('puts the process URN in the path as a raw segment and adds only the query parameters given', async () => {
    const c = client();
    await c.lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT, { securityLevel: 3, conversationId: 'c-1' }));
    await c.lookup({ identifier: ORG_SENDER });
    expect(lookups()).toEqual([
      {
        method: 'GET',
        url: `${BASE_PATH}/identifier/${ORG_DPV_TAUSHETSBELAGT}/process/${PROCESS_TAUSHETSBELAGT}?securityLevel=3&conversationId=c-1`,
        accept: 'application/jose, application/json',
      },
      {
        method: 'GET',
        url: `${BASE_PATH}/identifier/${ORG_SENDER}`,
        accept: 'application/jose, application/json',
      },
    ]);
  });

  it('fetches the key set from {base}/jwk', async () => {
    await client().lookup({ identifier: ORG_SENDER });
    expect(sandbox.requests.filter((r) => r.url === `${BASE_PATH}/jwk`)).toHaveLength(1);
  });

  it('reads the info record from /info', async () => {
    const info = await client().info(ORG_SENDER);
    expect(info).toMatchObject({ identifier: ORG_SENDER, entityType: { name: 'ORGL' } });
    expect(lookups().map((r) => r.url)).toEqual([`${BASE_PATH}/info/${ORG_SENDER}`]);
  });
  it('sends user:password from the base URL as Basic authorization rather than in the URL', async () => {
    const c = client({ baseUrl: sandbox.url.replace('http://', 'http://sr-user:sr-pass@') });
    await expect(c.lookup({ identifier: ORG_SENDER })).resolves.toMatchObject({
      infoRecord: { identifier: ORG_SENDER },
    });
    expect(lookups()[0]?.url).toBe(`${BASE_PATH}/identifier/${ORG_SENDER}`);
  });
});

describe('AddressServiceClient: cache', () => {
  it('serves a second identical lookup within the TTL without a request', async () => {
    const c = client();
    const first = await c.lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT, { conversationId: 'a' }));
    // conversationId is only for SR's logging, so another one still hits the cache.
    const second = await c.lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT, { conversationId: 'b' }));
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    expect(lookups()).toHaveLength(1);
    expect(c.stats).toEqual({ requests: 1, cacheHits: 1 });
  });

  it('treats another security level, process or identifier as another key', async () => {
    const c = client();
    const level3 = await c.lookup({ identifier: ORG_SENDER, securityLevel: 3 });
    const level4 = await c.lookup({ identifier: ORG_SENDER, securityLevel: 4 });
    // At level 4 the sandbox drops DPV records for a DPO-registered receiver, so the answers really differ.
    expect(level3.serviceRecords).toHaveLength(2);
    expect(level4.serviceRecords).toHaveLength(1);
    await c.lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT));
    await c.lookup({ identifier: ORG_DPV_TAUSHETSBELAGT, process: PROCESS_ADMINISTRASJON });
    await c.lookup(taushetsbelagt(ORG_SENDER));
    expect(lookups()).toHaveLength(5);
    expect(c.stats).toEqual({ requests: 5, cacheHits: 0 });
    await c.lookup({ identifier: ORG_SENDER, securityLevel: 4 });
    expect(c.stats).toEqual({ requests: 5, cacheHits: 1 });
  });

  it('fetches again once the TTL has passed', async () => {
    let now = 1_000_000;
    const c = client({ cacheSeconds: 60, now: () => now });
    await c.lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT));
    now += 59_999;
    await c.lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT));
    expect(lookups()).toHaveLength(1);
    now += 2;
    await c.lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT));
    expect(lookups()).toHaveLength(2);
    expect(c.stats).toEqual({ requests: 2, cacheHits: 1 });
  });

  it('does not cache at all with cacheSeconds 0', async () => {
    const c = client({ cacheSeconds: 0 });
    await c.lookup({ identifier: ORG_SENDER });
    await c.lookup({ identifier: ORG_SENDER });
    expect(lookups()).toHaveLength(2);
  });

  it('lets concurrent identical lookups share one request', async () => {
    const c = client();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => c.lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT))),
    );
    expect(lookups()).toHaveLength(1);
    expect(c.stats.requests).toBe(1);
    for (const r of results) expect(r).toEqual(results[0]);
  });

  it('shares a failing request too, and does not keep the failure', async () => {
    const c = client();
    sandbox.setMode('error-500');
    const settled = await Promise.allSettled([
      c.lookup({ identifier: ORG_SENDER }),
      c.lookup({ identifier: ORG_SENDER }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(lookups()).toHaveLength(1);
    sandbox.setMode('ok');
    await c.lookup({ identifier: ORG_SENDER });
    expect(lookups()).toHaveLength(2);
  });

  it('does not cache a not-found answer', async () => {
    const c = client();
    await expect(c.lookup(taushetsbelagt(ORG_DPV_ORDINARY_ONLY))).rejects.toBeInstanceOf(
      ServiceRecordNotFound,
    );
    await expect(c.lookup(taushetsbelagt(ORG_DPV_ORDINARY_ONLY))).rejects.toBeInstanceOf(
      ServiceRecordNotFound,
    );
    expect(lookups()).toHaveLength(2);
  });

  it('keeps at most maxCacheEntries answers, dropping the oldest', async () => {
    const c = client({ maxCacheEntries: 2 });
    for (const identifier of [ORG_DPV_TAUSHETSBELAGT, ORG_DPO, ORG_SENDER]) await c.lookup({ identifier });
    await c.lookup({ identifier: ORG_SENDER });
    expect(lookups()).toHaveLength(3);
    await c.lookup({ identifier: ORG_DPV_TAUSHETSBELAGT });
    expect(lookups()).toHaveLength(4);
  });
});

describe('AddressServiceClient: errors', () => {
  it('maps an unknown organisation to ServiceRecordNotFound with SR’s description', async () => {
    const err = await failure(client().lookup(taushetsbelagt(ORG_UNKNOWN)));
    expect(err).toBeInstanceOf(ServiceRecordNotFound);
    expect(err).toMatchObject({
      status: 404,
      description: `Entity with identifier '${ORG_UNKNOWN}' not found.`,
    });
  });

  it('maps a receiver without the process to ServiceRecordNotFound', async () => {
    const err = await failure(client().lookup(taushetsbelagt(ORG_DPV_ORDINARY_ONLY, { securityLevel: 3 })));
    expect(err).toBeInstanceOf(ServiceRecordNotFound);
    expect(err).toMatchObject({
      status: 404,
      description: `Process ${PROCESS_TAUSHETSBELAGT} not found for receiver ${ORG_DPV_ORDINARY_ONLY}`,
      params: { identifier: ORG_DPV_ORDINARY_ONLY, process: PROCESS_TAUSHETSBELAGT, securityLevel: 3 },
    });
  });

  it('maps security level 4 for a DPV-only receiver to ServiceRecordNotFound with status 400', async () => {
    const err = await failure(client().lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT, { securityLevel: 4 })));
    expect(err).toBeInstanceOf(ServiceRecordNotFound);
    expect(err).toMatchObject({ status: 400 });
    expect((err as ServiceRecordNotFound).description).toMatch(
      /can not receive messages with security level '4'$/,
    );
  });

  it('maps an unknown info lookup (bare 404) to ServiceRecordNotFound', async () => {
    const err = await failure(client().info(ORG_UNKNOWN));
    expect(err).toBeInstanceOf(ServiceRecordNotFound);
    expect(err).toMatchObject({ status: 404, description: expect.stringContaining(ORG_UNKNOWN) });
  });

  it('maps a 500 to a 503 AppError', async () => {
    sandbox.setMode('error-500');
    const err = await failure(client().lookup({ identifier: ORG_SENDER }));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 503, code: 'ServiceRegistryUnavailableException' });
    expect((err as AppError).message).toContain('HTTP 500');
  });

  it("maps a refusal of the input (414, 422, 431) to the client's 400, not an outage", async () => {
    for (const status of [414, 422, 431]) {
      const c = client({
        verify: false,
        fetch: async () => new Response('{"error_description":"too long"}', { status }),
      });
      const err = await failure(c.lookup({ identifier: ORG_SENDER, process: 'urn:x' }));
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ status: 400, code: 'ConstraintViolationException' });
      expect((err as AppError).message).toContain(`HTTP ${status}`);
      expect((err as AppError).extra.description).toBe('too long');
    }
  });

  it('keeps 401, 403 and 429 from the address service as our problem (503)', async () => {
    for (const status of [401, 403, 429]) {
      const c = client({ verify: false, fetch: async () => new Response('', { status }) });
      const err = await failure(c.lookup({ identifier: ORG_SENDER }));
      expect(err).toMatchObject({ status: 503, code: 'ServiceRegistryUnavailableException' });
    }
  });

  it('refuses an identifier with an unpaired surrogate as bad input, without a request', async () => {
    let calls = 0;
    const c = client({
      fetch: async () => {
        calls++;
        return new Response('', { status: 500 });
      },
    });
    const err = await failure(c.lookup({ identifier: ORG_SENDER, process: 'urn:\ud800' }));
    expect(err).toMatchObject({ status: 400, code: 'ConstraintViolationException' });
    expect(calls).toBe(0);
  });

  it('maps an unreachable address service to a 503 AppError', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    closed.close();
    await once(closed, 'close');
    const c = new AddressServiceClient({
      baseUrl: `http://user:secret@127.0.0.1:${port}`,
      verify: true,
      timeoutMs: 2000,
      cacheSeconds: 60,
    });
    const err = await failure(c.lookup({ identifier: ORG_SENDER }));
    expect(err).toMatchObject({ status: 503, code: 'ServiceRegistryUnavailableException' });
    expect((err as AppError).message).toMatch(/is unreachable: .*ECONNREFUSED/);
    expect((err as AppError).message).not.toContain('secret');
  });

  it('gives up after timeoutMs and says so', async () => {
    sandbox.setMode('slow');
    const err = await failure(client({ timeoutMs: 200 }).lookup({ identifier: ORG_SENDER }));
    expect(err).toMatchObject({ status: 503, code: 'ServiceRegistryUnavailableException' });
    expect((err as AppError).message).toMatch(/timeout of 200 ms/);
  });
});

describe('seeded organisations, end to end', () => {
  it('resolves taushetsbelagt to DPV with the confidential resource, to DPO, or not at all', async () => {
    const c = client();
    const dpv = pickServiceRecord(
      await c.lookup(taushetsbelagt(ORG_DPV_TAUSHETSBELAGT)),
      DOCTYPE_ARKIVMELDING,
    );
    expect(dpv?.service).toMatchObject({ identifier: 'DPV', resource: RESOURCE_DPV_TAUSHETSBELAGT });
    const dpo = pickServiceRecord(await c.lookup(taushetsbelagt(ORG_DPO)), DOCTYPE_ARKIVMELDING);
    expect(dpo?.service).toMatchObject({
      identifier: 'DPO',
      serviceCode: '4192',
      serviceEditionCode: '270815',
    });
    await expect(c.lookup(taushetsbelagt(ORG_DPV_ORDINARY_ONLY))).rejects.toBeInstanceOf(
      ServiceRecordNotFound,
    );
  });

  it('lists every record of the sender organisation as capabilities, in seed order', async () => {
    const res = await client().lookup({ identifier: ORG_SENDER });
    expect(toCapabilities(res).capabilities).toEqual([
      {
        process: 'urn:no:difi:profile:arkivmelding:response:ver1.0',
        serviceIdentifier: 'DPO',
        documentTypes: [
          {
            type: 'arkivmelding_kvittering',
            standard: 'urn:no:difi:arkivmelding:xsd::arkivmelding_kvittering',
          },
          { type: 'status', standard: 'urn:no:difi:eformidling:xsd::status' },
          { type: 'feil', standard: 'urn:no:difi:eformidling:xsd::feil' },
        ],
      },
      {
        process: PROCESS_TAUSHETSBELAGT,
        serviceIdentifier: 'DPV',
        documentTypes: [{ type: 'arkivmelding', standard: DOCTYPE_ARKIVMELDING }],
      },
    ]);
  });
});
