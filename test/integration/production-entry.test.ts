import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/demo/redis.js';
import { type AddressServiceSandbox, startAddressServiceSandbox } from '../../src/sandbox/address-service.js';
import { ORG_SENDER } from '../../src/sandbox/address-service-seed.js';
import { type AltinnSandbox, startAltinnSandbox } from '../../src/sandbox/altinn.js';
import { sendMessage, waitForStatus } from '../helpers/dpv.js';
import { apiClient, deletePrefix } from '../helpers/harness.js';

/**
 * The service exactly as `npm start` and the container run it: what `npm run build` compiled, started with npm
 * start's node flags, against the sandbox address service and Altinn over real HTTP. Everything else in the suite
 * runs the sources under tsx; this is the check that the built service is the same service.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'production-entry-token';
const TITLE = `Konfidensiell tittel ${randomUUID()}`;

/** npm start's command line after `node`. */
function startCommand(): string[] {
  const start = (
    JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: { start: string } }
  ).scripts.start;
  return start.split(/\s+/).slice(1);
}

/** The newest modification time among the files a build reads. */
function newestSource(): number {
  let newest = 0;
  const visit = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const dir of ['src', 'schemas']) visit(join(REPO, dir));
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json'])
    newest = Math.max(newest, statSync(join(REPO, f)).mtimeMs);
  return newest;
}

/** Builds when the entry point is missing or older than its sources (CI builds first; a fresh clone may not). */
async function ensureBuilt(entry: string): Promise<void> {
  const path = join(REPO, entry);
  if (existsSync(path) && statSync(path).mtimeMs >= newestSource()) return;
  await promisify(execFile)('npm', ['run', '--silent', 'build'], { cwd: REPO, timeout: 180_000 });
}

describe('the service as npm start runs it (built, with its node flags)', () => {
  const prefix = `t${randomUUID().slice(0, 12)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'eip-prod-'));
  const auth = `Basic ${Buffer.from('fagsystem:et-langt-passord').toString('base64')}`;
  let addressService: AddressServiceSandbox;
  let altinn: AltinnSandbox;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let output = '';
  let base = '';

  beforeAll(async () => {
    const command = startCommand();
    await ensureBuilt(command.at(-1)!);
    addressService = await startAddressServiceSandbox();
    altinn = await startAltinnSandbox({ staticTokens: [TOKEN], publishDelayMs: 50 });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, command, {
      cwd: REPO,
      env: {
        ...process.env,
        ORG_NUMBER: ORG_SENDER,
        REDIS_URL: inject('redisUrl'),
        REDIS_PREFIX: prefix,
        SERVICE_REGISTRY_URL: addressService.url,
        ALTINN_CORRESPONDENCE_URL: altinn.correspondenceUrl,
        ALTINN_TOKEN: TOKEN,
        STATUS_POLL_INTERVAL_MS: '50',
        DATA_DIR: dataDir,
        DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        API_USERNAME: 'fagsystem',
        API_PASSWORD: 'et-langt-passord',
        LOG_LEVEL: 'info',
        HOST: '127.0.0.1',
        PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    exited = new Promise((r) => child.once('exit', (code) => r(code)));
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode}):\n${output}`);
      const ok = await fetch(`${base}/health/ready`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      if (i > 600) throw new Error(`not ready within 30 s:\n${output}`);
      await sleep(50);
    }
  }, 240_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await altinn?.close();
    await addressService?.close();
    const redis = new Redis(inject('redisUrl'));
    await deletePrefix(redis, prefix);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('takes a confidential message, sends it to Altinn as confidential and reports SENDT', async () => {
    const api = apiClient(base, auth);
    const messageId = await sendMessage(api, { tittel: TITLE });
    await waitForStatus(api, messageId, 'SENDT').catch((e: Error) => {
      throw new Error(`${e.message}; the service's output:\n${output.slice(-4000)}`);
    });
    const sent = altinn.correspondences().find((c) => c.sendersReference === messageId);
    expect(sent?.isConfidential).toBe(true);
    expect(sent?.attachments.length).toBeGreaterThan(0);
  });

  it('refuses a malformed message with a 400 that says why', async () => {
    const api = apiClient(base, auth);
    const r = await api.json<{ status: number; message: string }>('POST', '/api/messages/out', '{"not json');
    expect(r.status).toBe(400);
    expect(r.body.status).toBe(400);
    expect(r.body.message).toBeTruthy();
    expect((await apiClient(base, 'Basic eDp5').fetch('/api/messages/out')).status).toBe(401);
  });

  it('serves the OpenAPI document and the docs UI', async () => {
    const doc = await fetch(`${base}/api-docs/json`, { headers: { authorization: auth } });
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    const page = await fetch(`${base}/api-docs/`, { headers: { authorization: auth } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger');
  });

  it('never logs the confidential title, and stops cleanly on SIGTERM', async () => {
    expect(output).toContain('request completed');
    expect(output).not.toContain(TITLE);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
