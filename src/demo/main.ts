import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDemoConfig } from './demo-config.js';
import { type DemoRedis, findOrStartRedis, freePort, NoRedisError } from './redis.js';

/**
 * `npm run demo`: the whole system on this machine in one process tree — Redis (found or started), the sandbox
 * address service, the sandbox Altinn, and the integration point with a throwaway key and generated credentials.
 * Ctrl-C stops all of it. `npm run demo -- --send` also sends a confidential sample message and follows its status.
 */

const { values: args } = parseArgs({ options: { send: { type: 'boolean', default: false } } });

const say = (line = '') => process.stdout.write(`${line}\n`);
const cleanups: (() => Promise<unknown>)[] = [];
let stopping = false;

let stoppingSince = 0;

async function stopAll(code: number): Promise<never> {
  if (stopping) {
    // Ctrl-C reaches us twice at once (from the terminal, and relayed by npm/tsx): only a later one forces the exit.
    if (Date.now() - stoppingSince > 2000) process.exit(code);
    return new Promise<never>(() => {});
  }
  stopping = true;
  stoppingSince = Date.now();
  // Each step has a deadline, so a stuck close never keeps the demo (and what it started) alive.
  for (const fn of cleanups.reverse()) {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise((r) => {
      timer = setTimeout(() => r(say('a part did not stop within 10 s; going on')), 10_000);
    });
    await Promise.race([fn().catch((e: unknown) => say(`while stopping: ${String(e)}`)), deadline]);
    clearTimeout(timer);
  }
  say('Demo stopped.');
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

/** The preferred port when it is free, else any free one. */
function portOr(preferred: number): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => freePort().then(resolve));
    srv.listen(preferred, '127.0.0.1', () => srv.close(() => resolve(preferred)));
  });
}

async function main(): Promise<void> {
  const settings = loadDemoConfig();
  let redis: DemoRedis;
  try {
    redis = await findOrStartRedis(settings.REDIS_URL);
  } catch (e) {
    if (e instanceof NoRedisError) {
      console.error(e.message);
      process.exit(1);
    }
    throw e;
  }
  cleanups.push(() => redis.stop());

  // Loaded after Redis is settled, so a missing Redis is reported at once.
  const [
    { startAddressServiceSandbox },
    { startAltinnSandbox },
    seed,
    { loadConfig },
    { buildApp },
    workers,
  ] = await Promise.all([
    import('../sandbox/address-service.js'),
    import('../sandbox/altinn.js'),
    import('../sandbox/address-service-seed.js'),
    import('../config.js'),
    import('../app.js'),
    import('../workers/index.js'),
  ]);

  const addressService = await startAddressServiceSandbox({ port: 0 });
  cleanups.push(() => addressService.close());
  const altinnToken = `demo-${randomBytes(12).toString('hex')}`;
  const altinn = await startAltinnSandbox({ port: 0, staticTokens: [altinnToken], publishDelayMs: 1500 });
  cleanups.push(() => altinn.close());

  const work = mkdtempSync(join(tmpdir(), 'eip-demo-'));
  cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
  const password = randomBytes(12).toString('base64url');
  const prefix = `demo${randomBytes(4).toString('hex')}`;
  const port = settings.PORT === 0 ? await freePort() : await portOr(settings.PORT);
  const config = loadConfig({
    ORG_NUMBER: seed.ORG_SENDER,
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    SERVICE_REGISTRY_URL: addressService.url,
    DATA_DIR: join(work, 'data'),
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    API_USERNAME: 'demo',
    API_PASSWORD: password,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    ALTINN_CORRESPONDENCE_URL: altinn.correspondenceUrl,
    ALTINN_TOKEN: altinnToken,
    STATUS_POLL_INTERVAL_MS: '1000',
  });
  const app = await buildApp(config);
  const background = await workers.startBackground(config, { log: app.log });
  cleanups.push(async () => {
    await background.close();
    await app.close();
    // The key was thrown away: nothing stored under this prefix can be read again, so remove it.
    if (!redis.own) await removePrefix(redis.url, prefix);
  });
  await app.listen({ port, host: '127.0.0.1' });
  const api = `http://127.0.0.1:${port}`;

  const { sampleArkivmelding, samplePdf, sampleSbd, SAMPLE_DOCUMENT } = await import('./sample.js');
  writeFileSync(join(work, 'arkivmelding.xml'), sampleArkivmelding());
  writeFileSync(join(work, SAMPLE_DOCUMENT), samplePdf());
  const receiver = seed.ORG_DPV_TAUSHETSBELAGT;
  const messageId = randomUUID();
  writeFileSync(join(work, 'sbd.json'), JSON.stringify(sampleSbd(receiver, messageId, randomUUID())));

  say('eFormidling integration point — demo');
  say(
    `  Redis                   ${redis.url}${redis.own ? ' (started for this demo)' : ''}, key prefix ${prefix}`,
  );
  say(`  Address service sandbox ${addressService.url}`);
  say(`  Altinn sandbox          ${altinn.url}`);
  say(`  Integration point API   ${api}   (docs: ${api}/api-docs)`);
  say(`  Credentials             demo:${password}`);
  say(`  Sample files            ${work}`);
  say();
  say('Send the confidential sample (paste into a shell):');
  say();
  say(`  IP=${api}; AUTH=demo:${password}; cd ${work}`);
  say(`  curl -su $AUTH -H 'Content-Type: application/json' $IP/api/messages/out -d @sbd.json`);
  say(
    `  curl -su $AUTH -X PUT $IP/api/messages/out/${messageId} -H 'Content-Type: text/xml' -H 'Content-Disposition: attachment; name="Arkivmelding"; filename="arkivmelding.xml"' --data-binary @arkivmelding.xml`,
  );
  say(
    `  curl -su $AUTH -X PUT "$IP/api/messages/out/${messageId}?title=Vedtak" -H 'Content-Type: application/pdf' -H 'Content-Disposition: attachment; filename="${SAMPLE_DOCUMENT}"' --data-binary @${SAMPLE_DOCUMENT}`,
  );
  say(`  curl -su $AUTH -X POST $IP/api/messages/out/${messageId}`);
  say(
    `  curl -su $AUTH $IP/api/statuses/${messageId}      # OPPRETTET, then SENDT and LEVERT within seconds`,
  );
  say(`  curl -X POST ${altinn.url}/__fake/correspondence/${messageId}/read   # the receiver opens it: LEST`);
  say();
  say(`Demo ready. Ctrl-C stops everything.`);

  if (args.send) await sendSample(api, `demo:${password}`, work, messageId, altinn.url);
}

async function removePrefix(url: string, prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** The curl sequence above, done over HTTP: create, upload both files, send, then follow the statuses. */
async function sendSample(api: string, auth: string, work: string, messageId: string, altinnUrl: string) {
  const { readFileSync } = await import('node:fs');
  const headers = { authorization: `Basic ${Buffer.from(auth).toString('base64')}` };
  const call = async (method: string, path: string, body?: Buffer, extra: Record<string, string> = {}) => {
    const res = await fetch(api + path, {
      method,
      headers: { ...headers, ...extra },
      ...(body ? { body } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return text ? (JSON.parse(text) as unknown) : null;
  };
  say(`Sending message ${messageId} ...`);
  await call('POST', '/api/messages/out', readFileSync(join(work, 'sbd.json')), {
    'content-type': 'application/json',
  });
  await call('PUT', `/api/messages/out/${messageId}`, readFileSync(join(work, 'arkivmelding.xml')), {
    'content-type': 'text/xml',
    'content-disposition': 'attachment; name="Arkivmelding"; filename="arkivmelding.xml"',
  });
  await call('PUT', `/api/messages/out/${messageId}?title=Vedtak`, readFileSync(join(work, 'vedtak.pdf')), {
    'content-type': 'application/pdf',
    'content-disposition': 'attachment; filename="vedtak.pdf"',
  });
  await call('POST', `/api/messages/out/${messageId}`);
  const seen = new Set<string>();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !stopping) {
    const page = (await call('GET', `/api/statuses/${messageId}`)) as { content: { status: string }[] };
    for (const s of page.content) {
      if (!seen.has(s.status)) {
        seen.add(s.status);
        say(`  status ${s.status}`);
      }
    }
    if (seen.has('LEVERT') || seen.has('FEIL') || seen.has('LEVETID_UTLOPT')) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  say(`Make the receiver open it (LEST): curl -X POST ${altinnUrl}/__fake/correspondence/${messageId}/read`);
}

main().catch(async (e: unknown) => {
  console.error(e);
  await stopAll(1);
});
