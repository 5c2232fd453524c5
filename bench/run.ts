import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startAddressServiceSandbox } from '../src/sandbox/address-service.js';
import { ORG_SENDER } from '../src/sandbox/address-service-seed.js';
import type { ArkivmeldingFigures } from './arkivmelding-child.js';
import { type DeliveryFigures, runDelivery } from './delivery.js';
import { LIST_TARGETS, type ListFigures, runLists, runStartup, type StartupFigures } from './lists.js';
import { type LoadOptions, type LoadResult, runInterleaved, STEPS } from './messages.js';
import { type OwnRedis, startOwnRedis } from './own-redis.js';
import {
  childNodeFlags,
  forkTs,
  nextMessage,
  type ServerProcess,
  startBuiltServer,
  startCommand,
  startServer,
  stopChild,
} from './server-process.js';
import { formatTtlFigures, runTtlBench } from './ttl.js';
import { runUploadRss, type UploadRssResult } from './upload-rss.js';
import { runWebhookBench, type WebhookFigures } from './webhooks.js';

/**
 * npm run bench [-- SECTION...] [--load-only] [--seconds 30 --warmup 3 --rounds 3 --clients 32 --upload-mb 200 --cpu-prof DIR]
 *                [--conversations 100000 --list-requests 1000]
 * Sections (all by default): `messages` — whole-message throughput of the service against a bare Fastify server
 * doing the same storage work, the service's memory while a large file is uploaded, and the arkivmelding figures;
 * `lists` — list and lookup latencies over conversations written through the store, Redis bytes per conversation,
 * and start-up time to ready; `delivery` — send to SENDT against the sandbox Altinn (sustained rate against the bare
 * ceiling, send-to-upload latency at half that rate, RSS); `webhooks` — status-event delivery against a bare client
 * [--webhook-conversations 1000]; `ttl` — the TTL sweep over 100,000 conversations. `messages` and `delivery` run
 * their servers on a redis-server of their own with AOF (appendfsync everysec).
 */

const ALTINN_CHILD = fileURLToPath(new URL('./altinn-child.ts', import.meta.url));
const TARGET_RATIO = 0.6;
/** Whole-message p99 at most this many times the bare server's. */
const TARGET_P99_FACTOR = 2;
const TARGET_IDLE_RSS_MB = 80;
const TARGET_LOAD_RSS_MB = 150;
/**
 * The second variant of ours: the container's settings (docker/Dockerfile), i.e. npm start's node flags plus
 * MALLOC_ARENA_MAX=2 (fewer malloc arenas for libuv's and V8's threads). BENCH_SMALL_FLAGS adds node flags and
 * BENCH_SMALL_ENV="K=V K2=V2" sets the environment instead, to try other settings.
 */
export const CONTAINER_FLAGS = (process.env.BENCH_SMALL_FLAGS ?? '').split(' ').filter(Boolean);
const CONTAINER_ENV: Record<string, string> = Object.fromEntries(
  (process.env.BENCH_SMALL_ENV ?? 'MALLOC_ARENA_MAX=2')
    .split(' ')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const TARGET_UPLOAD_GROWTH_MB = 32;
const TARGET_ARK_MEDIAN_MS = 20;
const TARGET_REFUSED_MS = 100;
const TARGET_REFUSED_GROWTH_MB = 16;
const ARKIVMELDING_TIMEOUT_MS = 90_000;

const bounded = (raw: string | undefined, fallback: number, min: number, max: number, name: string) => {
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`--${name} must be a number in ${min}..${max}`);
  return n;
};

const SECTIONS = ['messages', 'lists', 'webhooks', 'ttl', 'delivery'] as const;
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    conversations: { type: 'string' },
    'list-requests': { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    clients: { type: 'string' },
    rounds: { type: 'string' },
    'upload-mb': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'load-only': { type: 'boolean' },
    'webhook-conversations': { type: 'string' },
  },
});
const webhookConversations = Math.floor(
  bounded(args['webhook-conversations'], 1000, 10, 100_000, 'webhook-conversations'),
);
const load: LoadOptions = {
  seconds: bounded(args.seconds, 30, 1, 120, 'seconds'),
  warmupSeconds: bounded(args.warmup, 3, 0, 30, 'warmup'),
  clients: Math.floor(bounded(args.clients, 32, 1, 256, 'clients')),
  rounds: Math.floor(bounded(args.rounds, 3, 1, 20, 'rounds')),
};
for (const p of positionals) {
  if (!(SECTIONS as readonly string[]).includes(p))
    throw new Error(`unknown section '${p}': ${SECTIONS.join(', ')}`);
}
const sections = new Set(positionals.length ? positionals : SECTIONS);
const conversations = Math.floor(bounded(args.conversations, 100_000, 100, 1_000_000, 'conversations'));
const listRequests = Math.floor(bounded(args['list-requests'], 1000, 50, 100_000, 'list-requests'));
const uploadMb = Math.floor(bounded(args['upload-mb'], 200, 1, 1024, 'upload-mb'));
if (args['cpu-prof']) childNodeFlags.push('--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`);

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const runPrefix = `bench${randomBytes(6).toString('hex')}`;
const workDir = mkdtempSync(join(tmpdir(), 'eip-bench-'));
const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });

/** Deletes this run's keys only (SCAN MATCH prefix*); other data on the server is never touched. */
async function deleteKeys(prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) deleted += await redis.del(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  return deleted;
}

function dataDir(name: string): string {
  const dir = join(workDir, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };
async function attempt<T>(label: string, fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    console.error(`${label} failed: ${error}`);
    return { ok: false, error };
  }
}

async function runArkivmelding(): Promise<ArkivmeldingFigures | null> {
  if (!existsSync(fileURLToPath(new URL('./arkivmelding.ts', import.meta.url)))) return null;
  const child = forkTs(fileURLToPath(new URL('./arkivmelding-child.ts', import.meta.url)), [], {});
  try {
    const { figures } = await nextMessage<{ figures: ArkivmeldingFigures }>(
      child,
      'result',
      ARKIVMELDING_TIMEOUT_MS,
    );
    return figures;
  } finally {
    await stopChild(child);
  }
}

const verdict = (pass: boolean) => (pass ? 'PASS' : 'MISS');
const fmt = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : String(n));

function printReport(
  ours: Outcome<LoadResult>,
  bare: Outcome<LoadResult>,
  container: Outcome<LoadResult>,
  upload: Outcome<UploadRssResult>,
  bareUpload: Outcome<UploadRssResult>,
  ark: Outcome<ArkivmeldingFigures | null>,
  ratio: number | null,
): void {
  const o = ours.ok ? ours.value : undefined;
  const b = bare.ok ? bare.value : undefined;
  const sm = container.ok ? container.value : undefined;
  const row = (label: string, a: string, c: string, d = '') =>
    `  ${label.padEnd(34)}${a.padStart(16)}${c.padStart(16)}${d.padStart(16)}`;
  const both = (f: (r: LoadResult) => string) => [o ? f(o) : '-', b ? f(b) : '-', sm ? f(sm) : '-'] as const;
  const lines = [
    '',
    `Whole messages (create + PUT arkivmelding.xml + PUT 100 KB + send), ${load.clients} keep-alive clients,`,
    `  ${load.warmupSeconds} s warm-up each, then ${load.seconds} s measured each in ${load.rounds} alternating slices (ABBA)`,
    `  ours = node ${[...startCommand().flags, startCommand().entry].join(' ')} as npm start runs it (buildApp + startBackground); bare = bench/bare-ceiling.ts; all on one`,
    '  redis-server of their own with appendonly yes, appendfsync everysec. Servers run in child processes, the',
    '  load generator in this one; RSS and CPU from /proc/<child pid>',
    `  ours container = the same with ${[
      ...(CONTAINER_FLAGS.length ? [`node flags ${CONTAINER_FLAGS.join(' ')}`] : []),
      ...Object.entries(CONTAINER_ENV).map(([k, v]) => `${k}=${v}`),
    ].join(' and ')}, interleaved in the same run`,
    row('', 'ours', 'bare', 'ours container'),
    ...(o && b
      ? o.slices.map((x, i) => {
          const y = b.slices[i];
          const r = y ? Math.round((x / y) * 100) / 100 : Number.NaN;
          const z = sm?.slices[i];
          const rz = y && z !== undefined ? Math.round((z / y) * 100) / 100 : Number.NaN;
          return row(`pair ${i + 1}: messages / s (ratio ${fmt(r)} / ${fmt(rz)})`, fmt(x), fmt(y), fmt(z));
        })
      : []),
    row('accepted messages / s', ...both((r) => fmt(r.messagesPerSecond))),
    row('messages in window', ...both((r) => fmt(r.messages))),
    row('requests / s (all 200)', ...both((r) => fmt(r.requestsPerSecond))),
    row('errors', ...both((r) => fmt(r.errors))),
    ...STEPS.map((s) =>
      row(`${s} p50 / p99 ms`, ...both((r) => `${r.latency[s].p50} / ${r.latency[s].p99}`)),
    ),
    row('whole message p50 / p99 ms', ...both((r) => `${r.message.p50} / ${r.message.p99}`)),
    row('server CPU ms / message', ...both((r) => fmt(r.serverCpuMsPerMessage))),
    row('server RSS 3 s after ready MB', ...both((r) => fmt(r.rss.startMb))),
    row('server RSS idle (30 s) MB', ...both((r) => fmt(r.rss.baselineMb))),
    row('server peak RSS during load MB', ...both((r) => fmt(r.rss.peakMb))),
    `  ratio ours/bare: ${ratio === null ? '-' : ratio}  (target >= ${TARGET_RATIO})  ${ratio === null ? 'MISS' : verdict(ratio >= TARGET_RATIO)}`,
  ];
  if (b) {
    const p99Limit = TARGET_P99_FACTOR * b.message.p99;
    for (const [name, x] of [
      ['ours', o],
      ['ours container', sm],
    ] as const) {
      if (!x) continue;
      const r = b.messagesPerSecond ? Math.round((x.messagesPerSecond / b.messagesPerSecond) * 100) / 100 : 0;
      lines.push(
        `  ${name}: ratio ${r} (target >= ${TARGET_RATIO})  ${verdict(r >= TARGET_RATIO)}; whole-message p99 ${x.message.p99} ms (target <= ${TARGET_P99_FACTOR} x bare = ${Math.round(p99Limit)} ms)  ${verdict(x.message.p99 <= p99Limit)}`,
        `    RSS idle ${x.rss.baselineMb} MB (target <= ${TARGET_IDLE_RSS_MB})  ${verdict(x.rss.baselineMb <= TARGET_IDLE_RSS_MB)}, under load ${x.rss.peakMb} MB (target <= ${TARGET_LOAD_RSS_MB})  ${verdict(x.rss.peakMb <= TARGET_LOAD_RSS_MB)}`,
      );
    }
  }
  for (const [name, r] of [
    ['ours', ours],
    ['bare', bare],
  ] as const) {
    if (!r.ok) lines.push(`  ${name}: FAILED ${r.error}`);
    else if (r.value.errors) {
      lines.push(`  ${name} errors by kind: ${JSON.stringify(r.value.errorsByKind)}`);
      for (const s of r.value.errorSamples) lines.push(`    e.g. ${s}`);
    }
  }
  lines.push('');
  if (upload.ok) {
    const u = upload.value;
    lines.push(
      `Large upload: ${u.uploadMb} MiB streamed with PUT in ${u.seconds} s, status ${u.status}`,
      `  server RSS ${u.baselineMb} MB before, ${u.peakMb} MB peak: growth ${u.growthMb} MB (target < ${TARGET_UPLOAD_GROWTH_MB} MB)  ${verdict(u.status === 200 && u.growthMb < TARGET_UPLOAD_GROWTH_MB)}`,
      `  (${u.source})`,
    );
  } else lines.push(`Large upload: FAILED ${upload.error}`);
  if (bareUpload.ok) {
    const u = bareUpload.value;
    lines.push(
      `  for reference, the bare server: ${u.seconds} s, status ${u.status}, RSS ${u.baselineMb} -> ${u.peakMb} MB: growth ${u.growthMb} MB`,
    );
  } else lines.push(`  for reference, the bare server: FAILED ${bareUpload.error}`);
  lines.push('');
  if (!ark.ok) lines.push(`arkivmelding bench: FAILED ${ark.error}`);
  else if (ark.value === null) lines.push('arkivmelding bench not available');
  else {
    const a = ark.value;
    lines.push(
      'arkivmelding (bench/arkivmelding.ts, own child process)',
      `  parse + validate 1 MB median: ${a.parseValidate1MbMedianMs} ms (target <= ${TARGET_ARK_MEDIAN_MS})  ${verdict(a.parseValidate1MbMedianMs <= TARGET_ARK_MEDIAN_MS)}`,
      `  entity bomb refused in ${a.bombRefusedMs} ms, RSS growth ${a.bombRssGrowthMb} MB (targets < ${TARGET_REFUSED_MS} ms, < ${TARGET_REFUSED_GROWTH_MB} MB)  ${verdict(a.bombRefusedMs < TARGET_REFUSED_MS && a.bombRssGrowthMb < TARGET_REFUSED_GROWTH_MB)}`,
      `  deep nesting refused in ${a.deepRefusedMs} ms, RSS growth ${a.deepRssGrowthMb} MB (targets < ${TARGET_REFUSED_MS} ms, < ${TARGET_REFUSED_GROWTH_MB} MB)  ${verdict(a.deepRefusedMs < TARGET_REFUSED_MS && a.deepRssGrowthMb < TARGET_REFUSED_GROWTH_MB)}`,
    );
  }
  console.log(lines.join('\n'));
}

/** The TTL sweep over a large store, under this run's prefix (deleted with it). */
async function ttlSection(): Promise<boolean> {
  console.log('bench: TTL sweep over 100,000 conversations ...');
  const ttl = await attempt('ttl bench', () =>
    runTtlBench(redisUrl, `${runPrefix}-ttl`, { log: (l) => console.log(l) }),
  );
  if (ttl.ok) console.log(['', ...formatTtlFigures(ttl.value)].join('\n'));
  console.log(`BENCH_JSON ${JSON.stringify({ ttl: ttl.ok ? ttl.value : { error: ttl.error } })}`);
  return ttl.ok;
}

const TARGET_BYTES_PER_CONVERSATION = 1024;

function printWebhooks(w: Outcome<WebhookFigures>): void {
  if (!w.ok) {
    console.log(`Webhooks: FAILED ${w.error}`);
    return;
  }
  const f = w.value;
  console.log(
    [
      '',
      `Webhooks: ${f.events} status events (OPPRETTET, SENDT, LEVERT, LEST per conversation) queued in the stream, then the`,
      '  background started: fan-out + BullMQ delivery to a local Fastify receiver, against a bare undici client POSTing',
      `  the same number of event bodies to the same receiver, 16 at a time (the ceiling)`,
      `  ours: ${f.ours.eventsPerSecond} events/s (${f.ours.seconds} s)   ceiling: ${f.ceiling.eventsPerSecond} events/s (${f.ceiling.seconds} s)`,
      `  ratio ours/ceiling: ${f.ratio}  (each event costs us Redis reads, a BullMQ job and a delivery record besides the POST)`,
      `Redis memory per finished conversation (created, uploaded and sent through the API, then SENDT, LEVERT, LEST;`,
      `  MEMORY USAGE summed over its keys, mean of ${f.memory.conversations}): ${f.memory.bytesPerConversation} B  (target <= ${TARGET_BYTES_PER_CONVERSATION} B)  ${verdict(f.memory.bytesPerConversation <= TARGET_BYTES_PER_CONVERSATION)}`,
      ...Object.entries(f.memory.byKind).map(([k, v]) => `    ${k.padEnd(24)}${String(v).padStart(6)} B`),
    ].join('\n'),
  );
}

async function runWebhooksOnly(): Promise<number> {
  console.log(
    `bench: webhooks, ${webhookConversations} conversations, prefix ${runPrefix}, Redis ${redisUrl} ...`,
  );
  const w = await attempt('webhooks', () =>
    runWebhookBench(redisUrl, `${runPrefix}-webhooks`, { conversations: webhookConversations }),
  );
  await deleteKeys(`${runPrefix}-webhooks`).catch(() => 0);
  printWebhooks(w);
  console.log(`BENCH_JSON ${JSON.stringify({ webhooks: w.ok ? w.value : { error: w.error } })}`);
  return w.ok ? 0 : 1;
}

async function main(): Promise<number> {
  await redis.connect();
  if (!sections.has('messages') && !sections.has('lists') && !sections.has('delivery')) {
    // Neither needs the address-service sandbox.
    const webhooksOk = sections.has('webhooks') ? (await runWebhooksOnly()) === 0 : true;
    const ttlOk = sections.has('ttl') ? await ttlSection() : true;
    return webhooksOk && ttlOk ? 0 : 1;
  }
  const sandbox = await startAddressServiceSandbox();
  const baseEnv = {
    ORG_NUMBER: ORG_SENDER,
    REDIS_URL: redisUrl,
    SERVICE_REGISTRY_URL: sandbox.url,
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    API_AUTH: 'none',
    LOG_LEVEL: 'error',
  };
  try {
    const envFor = (name: string) => ({
      ...baseEnv,
      REDIS_PREFIX: `${runPrefix}-${name}`,
      DATA_DIR: dataDir(name),
    });
    // Each phase's keys and files go afterwards, so a later phase does not inherit an earlier one's data.
    const clean = async (...names: string[]) => {
      for (const name of names) {
        await deleteKeys(`${runPrefix}-${name}`).catch(() => 0);
        rmSync(join(workDir, name), { recursive: true, force: true });
      }
    };
    console.log(`bench: prefix ${runPrefix}, Redis ${redisUrl}, work dir ${workDir}`);
    let code = 0;
    if (sections.has('messages')) code |= await runMessages(envFor, clean);
    if (sections.has('lists')) code |= await runListSection(envFor, clean);
    if (sections.has('delivery')) code |= await runDeliverySection(envFor, clean);
    if (sections.has('webhooks')) code |= await runWebhooksOnly();
    if (sections.has('ttl')) code |= (await ttlSection()) ? 0 : 1;
    return code;
  } finally {
    await sandbox.close();
  }
}

type EnvFor = (name: string) => Record<string, string>;
type Clean = (...names: string[]) => Promise<void>;

async function runMessages(envFor: EnvFor, clean: Clean): Promise<number> {
  const perServer = load.warmupSeconds + load.seconds + load.rounds * 0.5;
  console.log(
    `bench: ours, bare and ours container, ${load.clients} clients, about ${Math.ceil(3 * perServer)} s ...`,
  );
  const servers: ServerProcess[] = [];
  let ownRedis: OwnRedis | undefined;
  // Each of our servers sends what it accepts to a sandbox Altinn of its own, in a child process (so its work is not
  // on the load generator's event loop); the send worker's work is in our figures and its uploads are counted apart.
  const altinns: ChildProcess[] = [];
  const altinnToken = randomBytes(12).toString('hex');
  const altinnEnv = async () => {
    const child = forkTs(ALTINN_CHILD, [altinnToken], {});
    altinns.push(child);
    const { correspondenceUrl } = await nextMessage<{ correspondenceUrl: string }>(child, 'ready', 30_000);
    return { ALTINN_CORRESPONDENCE_URL: correspondenceUrl, ALTINN_TOKEN: altinnToken };
  };
  const loadOutcome = await attempt('whole-message load', async () => {
    // All servers on one fresh redis-server with AOF on, fsync every second (the README's production setting).
    ownRedis = await startOwnRedis();
    const redisEnv = { REDIS_URL: ownRedis.url };
    // The default log level, as deployed: per-request logging is part of the cost.
    servers.push(
      await startBuiltServer({ ...envFor('ours'), ...redisEnv, ...(await altinnEnv()), LOG_LEVEL: 'info' }),
    );
    servers.push(await startServer('bare', { ...envFor('bare'), ...redisEnv }));
    servers.push(
      await startBuiltServer(
        { ...envFor('container'), ...redisEnv, ...(await altinnEnv()), LOG_LEVEL: 'info', ...CONTAINER_ENV },
        CONTAINER_FLAGS,
      ),
    );
    return runInterleaved(servers, load);
  });
  for (const s of servers) await s.stop();
  const sentToAltinn: number[] = [];
  for (const a of altinns) {
    const counted = nextMessage<{ uploads: number }>(a, 'count', 10_000);
    a.send({ type: 'count' });
    sentToAltinn.push(await counted.then((m) => m.uploads).catch(() => Number.NaN));
    await stopChild(a);
  }
  await ownRedis?.stop();
  await clean('ours', 'bare', 'container');
  const pick = (i: number): Outcome<LoadResult> =>
    loadOutcome.ok ? { ok: true, value: loadOutcome.value[i]! } : { ok: false, error: loadOutcome.error };
  const ours = pick(0);
  const bare = pick(1);
  const container = pick(2);

  const skipped = <T>(): Outcome<T> => ({ ok: false, error: 'skipped (--load-only)' });
  let upload: Outcome<UploadRssResult> = skipped();
  let bareUpload: Outcome<UploadRssResult> = skipped();
  let ark: Outcome<ArkivmeldingFigures | null> = skipped();
  if (!args['load-only']) {
    console.log(`bench: large upload, ${uploadMb} MiB, ours then bare ...`);
    upload = await attempt('upload', () => runUploadRss(envFor('upload'), uploadMb, 'ours'));
    await clean('upload');
    bareUpload = await attempt('bare upload', () => runUploadRss(envFor('bareupload'), uploadMb, 'bare'));
    await clean('bareupload');
    console.log('bench: arkivmelding ...');
    ark = await attempt('arkivmelding bench', runArkivmelding);
  }

  const ratio =
    ours.ok && bare.ok && bare.value.messagesPerSecond > 0
      ? Math.round((ours.value.messagesPerSecond / bare.value.messagesPerSecond) * 100) / 100
      : null;
  printReport(ours, bare, container, upload, bareUpload, ark, ratio);
  console.log(
    `  uploads the send workers made to the sandbox Altinn during the run (warm-up included; SENDT): ours ${sentToAltinn[0] ?? '-'}, ours container ${sentToAltinn[1] ?? '-'}`,
  );
  const value = <T>(r: Outcome<T>) => (r.ok ? r.value : { error: r.error });
  console.log(
    `BENCH_JSON ${JSON.stringify({
      load,
      ours: value(ours),
      bare: value(bare),
      container: { flags: CONTAINER_FLAGS, env: CONTAINER_ENV, ...value(container) },
      sentToAltinn,
      ratio,
      ratioPass: ratio !== null && ratio >= TARGET_RATIO,
      upload: value(upload),
      bareUpload: value(bareUpload),
      uploadPass: upload.ok && upload.value.status === 200 && upload.value.growthMb < TARGET_UPLOAD_GROWTH_MB,
      arkivmelding: ark.ok ? ark.value : { error: ark.error },
    })}`,
  );
  const extrasOk = args['load-only'] || (upload.ok && bareUpload.ok && ark.ok);
  return ours.ok && bare.ok && extrasOk ? 0 : 1;
}

const TARGET_DELIVERY_RATIO = 0.4;
const TARGET_DELIVERY_P99_MS = 100;

async function runDeliverySection(envFor: EnvFor, clean: Clean): Promise<number> {
  console.log('bench: delivery (send to SENDT against the sandbox Altinn) ...');
  const d = await attempt('delivery', () => runDelivery(envFor('delivery'), load));
  await clean('delivery', 'delivery-bare');
  if (d.ok) {
    const f: DeliveryFigures = d.value;
    console.log(
      [
        '',
        'Delivery: the built server (API + send worker + status poller) against the sandbox Altinn, 100 KB documents,',
        `  own redis-server with AOF everysec; ${load.clients} clients running whole messages for ${load.seconds} s`,
        `  bare ceiling (whole messages accepted): ${f.ceilingMessagesPerSecond}/s; ours accepted ${f.acceptedPerSecond}/s`,
        `  sent to Altinn (SENDT) while the load ran: ${f.sentDuringLoadPerSecond}/s; from the window's start until the backlog was gone: ${f.sentPerSecond}/s (sustained)`,
        `  ratio SENDT/s to the ceiling: ${f.ratio} (target >= ${TARGET_DELIVERY_RATIO})  ${verdict(f.ratio >= TARGET_DELIVERY_RATIO)}`,
        `  at half that rate (${f.halfRate.perSecond}/s, open loop, ${f.halfRate.messages} messages, ${f.halfRate.delivered} uploaded): send request to Altinn upload call p50 ${f.halfRate.p50Ms} ms, p99 ${f.halfRate.p99Ms} ms (target <= ${TARGET_DELIVERY_P99_MS})  ${verdict(f.halfRate.p99Ms <= TARGET_DELIVERY_P99_MS)}`,
        `  RSS idle ${f.idleRssMb} MB, peak ${f.peakRssMb} MB (target <= 150)  ${verdict(f.peakRssMb <= 150)}`,
      ].join('\n'),
    );
  }
  console.log(`BENCH_DELIVERY_JSON ${JSON.stringify(d.ok ? d.value : { error: d.error })}`);
  return d.ok ? 0 : 1;
}

function printLists(lists: Outcome<ListFigures>, startup: Outcome<StartupFigures>): void {
  const lines = [''];
  if (lists.ok) {
    const l = lists.value;
    lines.push(
      `Lists (bench/lists.ts): ${l.conversations} conversations, ${l.statuses} statuses written through the store in ${l.writeSeconds} s;`,
      '  one keep-alive client, sequential requests; the service in a child process',
    );
    for (const x of l.latencies) {
      const target = x.label.startsWith('GET /api/statuses/{')
        ? LIST_TARGETS.statusP99Ms
        : LIST_TARGETS.pageP99Ms;
      const judged = !x.label.startsWith('(');
      lines.push(
        `  ${x.label.padEnd(58)} p50 ${String(x.p50).padStart(6)} ms  p99 ${String(x.p99).padStart(6)} ms` +
          (judged ? `  (target <= ${target})  ${verdict(x.p99 <= target)}` : ''),
      );
    }
    lines.push(
      `  Redis bytes per conversation (its hash with statuses, lookups, list and expiry indexes, events stream): ${l.bytesPerConversation} (target <= ${LIST_TARGETS.bytesPerConversation})  ${verdict(l.bytesPerConversation <= LIST_TARGETS.bytesPerConversation)}`,
      `  with the outgoing message (routing hash, sealed SBD): ${l.bytesPerConversationWithMessage}`,
    );
    for (const m of l.memory) {
      lines.push(
        `    ${m.group.padEnd(40)} ${String(m.keys).padStart(8)} keys ${String(Math.round(m.bytes / l.conversations)).padStart(6)} B/conversation`,
      );
    }
  } else lines.push(`Lists: FAILED ${lists.error}`);
  if (startup.ok) {
    const st = startup.value;
    lines.push(
      `Start-up: node ${[...startCommand().flags, startCommand().entry].join(' ')} (npm start) to the first 200 from /health/ready, ${st.runsMs.length} starts: ${st.runsMs.join(', ')} ms`,
      `  median ${st.medianMs} ms (target <= ${LIST_TARGETS.startupMs} on a quiet machine)  ${verdict(st.medianMs <= LIST_TARGETS.startupMs)}  load average then ${st.loadAverage.join(' ')}`,
    );
  } else lines.push(`Start-up: FAILED ${startup.error}`);
  console.log(lines.join('\n'));
}

async function runListSection(envFor: EnvFor, clean: Clean): Promise<number> {
  const env = envFor('lists');
  const lists = await attempt('lists', () =>
    runLists({
      redisUrl,
      prefixName: env.REDIS_PREFIX!,
      conversations,
      requests: listRequests,
      env,
      log: (s) => console.log(s),
    }),
  );
  await clean('lists');
  console.log('bench: start-up, 5 starts of the built server ...');
  const startup = await attempt('start-up', () => runStartup(envFor('startup')));
  await clean('startup');
  printLists(lists, startup);
  console.log(
    `BENCH_LISTS_JSON ${JSON.stringify({ lists: lists.ok ? lists.value : { error: lists.error }, startup: startup.ok ? startup.value : { error: startup.error } })}`,
  );
  return lists.ok && startup.ok ? 0 : 1;
}

let cleaned: Promise<void> | undefined;
/** Once: this run's Redis keys and temp files go, whichever way the run ends. */
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    await deleteKeys(runPrefix).catch((e: unknown) => console.error(`cleanup of ${runPrefix}* failed: ${e}`));
    redis.disconnect();
    rmSync(workDir, { recursive: true, force: true });
  })();
  return cleaned;
}
// Ctrl-C reaches the server children too (same process group); they stop on their own.
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

let exitCode = 1;
try {
  exitCode = await main();
} catch (e) {
  console.error(e);
} finally {
  await cleanup();
}
process.exit(exitCode);
