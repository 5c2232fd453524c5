import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { CompactSign, type CryptoKey, exportJWK, generateKeyPair, type JWK } from 'jose';
import { SANDBOX_ORGS, type SandboxOrg, type SandboxServiceRecord } from './address-service-seed.js';

/**
 * A stand-in for the national address service (service registry): the same paths, JSON, JWS signing and
 * error bodies, answering from seeded organisations. Modes let tests provoke the failures a client must refuse.
 */

export type AddressServiceSandboxMode = 'ok' | 'tamper' | 'wrong-key' | 'unsigned' | 'error-500' | 'slow';

export interface AddressServiceSandbox {
  url: string;
  close(): Promise<void>;
  setMode(m: AddressServiceSandboxMode): void;
  /** What arrived, with the Authorization header so tests can see the credentials a client sends. */
  requests: { method: string; url: string; accept?: string; authorization?: string }[];
  resetRequests(): void;
}

export interface AddressServiceSandboxOptions {
  port?: number;
  host?: string;
  basePath?: string;
  records?: SandboxOrg[];
  slowMs?: number;
}

export type { SandboxOrg, SandboxServiceRecord } from './address-service-seed.js';

const DEFAULT_SLOW_MS = 2000;

function normaliseBasePath(raw: string | undefined): string {
  const trimmed = (raw ?? '').trim().replace(/\/+$/, '');
  if (!trimmed) return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function displayHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function srError(reply: FastifyReply, status: number, description: string): FastifyReply {
  return reply.code(status).type('application/json').send({ error_code: '', error_description: description });
}

function wantsJose(req: FastifyRequest): boolean {
  return (req.headers.accept ?? '').toLowerCase().includes('application/jose');
}

export async function startAddressServiceSandbox(
  opts: AddressServiceSandboxOptions = {},
): Promise<AddressServiceSandbox> {
  const orgs = new Map((opts.records ?? SANDBOX_ORGS).map((o) => [o.identifier, o]));
  const basePath = normaliseBasePath(opts.basePath);
  const slowMs = opts.slowMs ?? DEFAULT_SLOW_MS;
  const kid = `sandbox-sr-${randomUUID().slice(0, 8)}`;
  const signing = await generateKeyPair('RS256');
  // Same kid as the published key, so only the signature itself betrays the impostor.
  const impostor = await generateKeyPair('RS256');
  const publicJwk: JWK = { ...(await exportJWK(signing.publicKey)), kid, alg: 'RS256', use: 'sig' };

  let mode: AddressServiceSandboxMode = 'ok';
  const requests: AddressServiceSandbox['requests'] = [];
  const closing = new AbortController();

  const sign = async (json: string, key: CryptoKey): Promise<string> =>
    new CompactSign(new TextEncoder().encode(json)).setProtectedHeader({ alg: 'RS256', kid }).sign(key);

  /** A 200 answer: compact JWS when asked for application/jose (unless a mode says otherwise), else JSON. */
  const answer = async (req: FastifyRequest, reply: FastifyReply, body: unknown): Promise<FastifyReply> => {
    const json = JSON.stringify(body);
    if (!wantsJose(req) || mode === 'unsigned') return reply.code(200).type('application/json').send(json);
    const jws = await sign(json, mode === 'wrong-key' ? impostor.privateKey : signing.privateKey);
    if (mode !== 'tamper') return reply.code(200).type('application/jose').send(jws);
    const [header, payload, signature] = jws.split('.') as [string, string, string];
    const bytes = Buffer.from(payload, 'base64url');
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    return reply
      .code(200)
      .type('application/jose')
      .send(`${header}.${bytes.toString('base64url')}.${signature}`);
  };

  /** Answers for the failure modes; true when the request has been dealt with. */
  const faulted = async (reply: FastifyReply): Promise<boolean> => {
    if (mode === 'slow') {
      try {
        await sleep(slowMs, undefined, { signal: closing.signal });
      } catch {
        reply.code(503).send();
        return true;
      }
    }
    if (mode === 'error-500') {
      srError(reply, 500, 'Sandbox address service is in error-500 mode');
      return true;
    }
    return false;
  };

  const infoRecordOf = (org: SandboxOrg) => ({
    identifier: org.identifier,
    organizationName: org.organizationName,
    postadresse: org.postadresse,
    entityType: org.entityType,
  });

  const serviceRecordOf = (org: SandboxOrg, r: SandboxServiceRecord) => ({
    organisationNumber: org.identifier,
    pemCertificate: r.pemCertificate,
    process: r.process,
    documentTypes: r.documentTypes,
    service: r.service,
  });

  /**
   * SR's security-level rule, simplified: a receiver with no DPO registration at all ("not in SMP") gets 400 for
   * level 4; one with DPO registrations simply has no DPV records at level 4.
   */
  const recordsFor = (
    org: SandboxOrg,
    securityLevel: number | undefined,
  ): { records: SandboxServiceRecord[] } | { refused: string } => {
    if (securityLevel !== 4) return { records: org.serviceRecords };
    const dpoRegistered = org.serviceRecords.some((r) => r.service.identifier === 'DPO');
    if (!dpoRegistered) {
      return {
        refused: `Organization '${org.organizationName}' can not receive messages with security level '4'`,
      };
    }
    return { records: org.serviceRecords.filter((r) => r.service.identifier !== 'DPV') };
  };

  const parseSecurityLevel = (raw: unknown): number | undefined | 'invalid' => {
    if (raw === undefined || raw === '') return undefined;
    return typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : 'invalid';
  };

  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 500 }, forceCloseConnections: true });

  app.addHook('onRequest', async (req) => {
    const { accept, authorization } = req.headers;
    requests.push({
      method: req.method,
      url: req.url,
      ...(accept !== undefined && { accept }),
      ...(authorization !== undefined && { authorization }),
    });
  });

  await app.register(
    async (sr) => {
      type IdentifierRoute = {
        Params: { id: string; process?: string };
        Querystring: { securityLevel?: string; conversationId?: string };
      };

      const identifierHandler = async (req: FastifyRequest<IdentifierRoute>, reply: FastifyReply) => {
        if (await faulted(reply)) return reply;
        const { id, process } = req.params;
        const org = orgs.get(id);
        if (!org) return srError(reply, 404, `Entity with identifier '${id}' not found.`);
        const level = parseSecurityLevel(req.query.securityLevel);
        if (level === 'invalid') return srError(reply, 400, `securityLevel must be an integer`);
        const found = recordsFor(org, level);
        if ('refused' in found) return srError(reply, 400, found.refused);
        const records = process ? found.records.filter((r) => r.process === process) : found.records;
        if (process && records.length === 0) {
          return srError(reply, 404, `Process ${process} not found for receiver ${id}`);
        }
        return answer(req, reply, {
          infoRecord: infoRecordOf(org),
          serviceRecords: records.map((r) => serviceRecordOf(org, r)),
        });
      };

      sr.get('/identifier/:id', identifierHandler);
      sr.get('/identifier/:id/process/:process', identifierHandler);

      sr.get<{ Params: { id: string } }>('/info/:id', async (req, reply) => {
        if (await faulted(reply)) return reply;
        const org = orgs.get(req.params.id);
        // SR answers an unknown info lookup with a bare 404.
        if (!org) return reply.code(404).send();
        return answer(req, reply, { infoRecord: infoRecordOf(org), serviceRecords: [] });
      });

      sr.get('/jwk', async (_req, reply) => reply.type('application/json').send({ keys: [publicJwk] }));
    },
    { prefix: basePath },
  );

  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);

  return {
    url: `http://${displayHost(host)}:${port}${basePath}`,
    requests,
    setMode(m) {
      mode = m;
    },
    resetRequests() {
      requests.length = 0;
    },
    async close() {
      closing.abort();
      await app.close();
    },
  };
}
