import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { Crypto } from '../src/store/crypto.js';
import { Store } from '../src/store/store.js';
import { type ConvModel, writeConversations } from '../test/helpers/bulk.js';
import { freePort } from './own-redis.js';
import { buildOnce, REPO_ROOT, startCommand, startServer } from './server-process.js';

/**
 * Lists at scale: conversations written straight through the store (not over HTTP) under their own prefix, then
 * single-client request latencies against the service in a child process, and Redis bytes per conversation
 * (MEMORY USAGE summed over the prefix's keys). Also: process start to the first 200 from /health/ready.
 */

export const LIST_TARGETS = { statusP99Ms: 5, pageP99Ms: 20, bytesPerConversation: 1024, startupMs: 1000 };
const RECEIVERS = ['910075946', '910075918', '910229028', '991825827', '974760673'];

export interface Latency {
  label: string;
  path: string;
  p50: number;
  p99: number;
  requests: number;
}

export interface ListFigures {
  conversations: number;
  statuses: number;
  writeSeconds: number;
  latencies: Latency[];
  memory: { group: string; keys: number; bytes: number }[];
  bytesPerConversation: number;
  bytesPerConversationWithMessage: number;
}

/** A full collection in this process (gc is exposed at run time rather than by a node flag). */
function collectGarbage(): void {
  setFlagsFromString('--expose_gc');
  (runInNewContext('gc') as () => void)();
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;

async function measure(
  pool: Pool,
  label: string,
  pathOf: (i: number) => string,
  requests: number,
  warmup: number,
): Promise<Latency> {
  const times: number[] = [];
  for (let i = 0; i < warmup + requests; i++) {
    const path = pathOf(i);
    const t0 = performance.now();
    const res = await pool.request({ method: 'GET', path });
    const body = await res.body.text();
    const ms = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${body.slice(0, 200)}`);
    if (i >= warmup) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return {
    label,
    path: pathOf(0),
    p50: round(percentile(times, 0.5)),
    p99: round(percentile(times, 0.99)),
    requests,
  };
}

/** Requests the service answers before the first measured one (different messageIds, same endpoint). */
const SERVER_WARMUP_REQUESTS = 3000;

const MESSAGE_HASH = 'outgoing message hash + indexes';
const MESSAGE_SBD = 'outgoing message sealed SBD';

/** Which part of the data a key belongs to, for the memory breakdown. */
function groupOf(key: string, prefix: string): string {
  const k = key.slice(prefix.length);
  if (k.startsWith('out:'))
    return /^out:[^:]+$/.test(k) || k === 'out:index' || k.startsWith('out:rcv:')
      ? MESSAGE_HASH
      : MESSAGE_SBD;
  if (k === 'status:events') return 'status:events stream';
  if (k === 'ttl:due') return 'expiry index (unfinished conversations)';
  if (/^conv:\d+$/.test(k)) return 'conversation hash (with statuses)';
  if (k.startsWith('conv:m:') || k.startsWith('conv:c:')) return 'messageId / conversationId lookups';
  if (k.startsWith('conv:') || k.startsWith('status:')) return 'list indexes';
  return 'other';
}

async function memoryOf(redis: Redis, prefix: string): Promise<Map<string, { keys: number; bytes: number }>> {
  const groups = new Map<string, { keys: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
    cursor = next;
    const pipe = redis.pipeline();
    for (const k of keys) pipe.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
    const res = (await pipe.exec()) ?? [];
    keys.forEach((k, i) => {
      const g = groupOf(k, prefix);
      const e = groups.get(g) ?? { keys: 0, bytes: 0 };
      e.keys++;
      e.bytes += Number(res[i]?.[1] ?? 0);
      groups.set(g, e);
    });
  } while (cursor !== '0');
  return groups;
}

export async function runLists(opts: {
  redisUrl: string;
  prefixName: string;
  conversations: number;
  requests: number;
  env: Record<string, string>;
  log: (s: string) => void;
}): Promise<ListFigures> {
  const prefix = `${opts.prefixName}:`;
  const redis = new Redis(opts.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  try {
    const store = new Store(redis, prefix, new Crypto(Buffer.from(opts.env.DATA_ENCRYPTION_KEY!, 'base64')));
    opts.log(`bench lists: writing ${opts.conversations} conversations through the store ...`);
    const t0 = performance.now();
    let models: ConvModel[] | null = await writeConversations(store, opts.conversations, {
      baseMs: Date.UTC(2026, 0, 1, 8),
      stepMs: 60_000,
      receivers: RECEIVERS,
      concurrency: 256,
    });
    const writeSeconds = round((performance.now() - t0) / 1000, 1);
    const statuses = models.reduce((n, m) => n + m.statuses.length, 0);
    const conversations = models.length;
    // Only the ids are needed from here on; the model goes, and a full GC now keeps this process's own
    // collection of it out of the request timings.
    const messageIds = models.map((m) => m.messageId);
    models = null;
    collectGarbage();
    const groups = await memoryOf(redis, prefix);
    const total = [...groups.values()].reduce((n, g) => n + g.bytes, 0);
    const messageBytes = [...groups]
      .filter(([g]) => g === MESSAGE_HASH || g === MESSAGE_SBD)
      .reduce((n, [, g]) => n + g.bytes, 0);

    opts.log('bench lists: request latencies against the service ...');
    // The API alone (no background workers, which would sweep and fan out the 100,000 conversations just written),
    // with npm start's node flags.
    const server = await startServer(
      'ours',
      { ...opts.env, REDIS_PREFIX: opts.prefixName },
      startCommand().flags,
    );
    const pool = new Pool(server.base, { connections: 1, pipelining: 1 });
    const pick = (i: number) => ({ messageId: messageIds[(i * 7919) % messageIds.length]! });
    try {
      const n = opts.requests;
      const latencies = [
        // The first endpoint's warm-up is the server's: on the slower machine its JIT needs a few thousand requests
        // to reach steady state (after 200, the p99 was about twice that of after 5,000).
        await measure(
          pool,
          'GET /api/statuses/{messageId}',
          (i) => `/api/statuses/${pick(i).messageId}`,
          n,
          SERVER_WARMUP_REQUESTS,
        ),
        await measure(
          pool,
          'GET /api/conversations page of 20, receiverIdentifier',
          (i) => `/api/conversations?receiverIdentifier=${RECEIVERS[i % 5]}&size=20&page=${i % 10}`,
          n,
          100,
        ),
        await measure(
          pool,
          'GET /api/conversations page of 20, finished=false',
          (i) => `/api/conversations?finished=false&size=20&page=${i % 10}`,
          n,
          100,
        ),
        await measure(
          pool,
          'GET /api/conversations page of 20, receiver + day',
          (i) =>
            `/api/conversations?receiverIdentifier=${RECEIVERS[i % 5]}&lastUpdateFrom=2026-01-20&lastUpdateTo=2026-01-20&size=20`,
          n,
          100,
        ),
        await measure(
          pool,
          'GET /api/statuses page of 20, status=LEVERT',
          (i) => `/api/statuses?status=LEVERT&size=20&page=${i % 50}`,
          n,
          100,
        ),
        await measure(
          pool,
          'GET /api/messages/out page of 20',
          (i) => `/api/messages/out?size=20&page=${i % 50}`,
          n,
          100,
        ),
        await measure(
          pool,
          'GET /api/messages/out page of 20, receiverIdentifier',
          (i) => `/api/messages/out?receiverIdentifier=${RECEIVERS[i % 5]}&size=20&page=${i % 10}`,
          n,
          100,
        ),
        await measure(
          pool,
          'GET /api/conversations page of 20, receiver + finished=true',
          (i) =>
            `/api/conversations?receiverIdentifier=${RECEIVERS[i % 5]}&finished=true&size=20&page=${i % 10}`,
          n,
          100,
        ),
        await measure(
          pool,
          '(not indexed: reads one receiver) receiver + messageTitle',
          (i) => `/api/conversations?receiverIdentifier=${RECEIVERS[i % 5]}&messageTitle=Vedtak&size=20`,
          Math.min(n, 50),
          5,
        ),
      ];
      return {
        conversations,
        statuses,
        writeSeconds,
        latencies,
        memory: [...groups].map(([group, g]) => ({ group, ...g })).sort((a, b) => b.bytes - a.bytes),
        bytesPerConversation: Math.round((total - messageBytes) / conversations),
        bytesPerConversationWithMessage: Math.round(total / conversations),
      };
    } finally {
      await pool.close();
      await server.stop();
    }
  } finally {
    redis.disconnect();
  }
}

export interface StartupFigures {
  runsMs: number[];
  medianMs: number;
  loadAverage: number[];
}

/** Builds, then starts the service `runs` times as `npm start` does, timed to the first 200 from /health/ready. */
export async function runStartup(env: Record<string, string>, runs = 5): Promise<StartupFigures> {
  buildOnce();
  const { flags, entry } = startCommand();
  const runsMs: number[] = [];
  const loadAverage = loadavg().map((l) => round(l, 1));
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const child = spawn(process.execPath, [...flags, entry], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    try {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
        if (performance.now() - t0 > 30_000) throw new Error('not ready within 30 s');
        const ok = await fetch(`http://127.0.0.1:${port}/health/ready`)
          .then((r) => r.status === 200)
          .catch(() => false);
        if (ok) break;
        await sleep(5);
      }
      runsMs.push(Math.round(performance.now() - t0));
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    await sleep(300);
  }
  const sorted = [...runsMs].sort((a, b) => a - b);
  return { runsMs, medianMs: sorted[Math.floor(sorted.length / 2)]!, loadAverage };
}
