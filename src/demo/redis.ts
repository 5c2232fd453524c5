import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface DemoRedis {
  url: string;
  /** True when the demo started this server itself (and so stops it). */
  own: boolean;
  stop(): Promise<void>;
}

export class NoRedisError extends Error {}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** True when something answers PING at `url` within `ms`. */
export async function redisAnswers(url: string, ms = 1500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: ms,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export interface RedisServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** Persistence and other settings; the default keeps nothing on disk. */
  args?: string[];
  /** Its own process group, so a Ctrl-C meant for the parent does not reach it first. */
  detached?: boolean;
  binary?: string;
  /** Where the temp dir's name starts. */
  dirPrefix?: string;
}

/** A `redis-server` child on a free port in a temporary directory that goes with it; resolves once it answers. */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), opts.dirPrefix ?? 'eip-redis-'));
  const child: ChildProcess = spawn(
    opts.binary ?? 'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      ...(opts.args ?? ['--save', '', '--appendonly', 'no']),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], detached: opts.detached ?? false },
  );
  const url = `redis://127.0.0.1:${port}`;
  // Listened for from the start, so an early exit is never missed.
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(kill);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await redisAnswers(url, 500)) return { url, pid: child.pid!, stop };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`redis-server did not start on port ${port}`);
}

/**
 * The Redis at `url` when it answers; else a `redis-server` from PATH on a free port in a temporary directory
 * (nothing kept on disk); else a NoRedisError that says how to get one.
 */
export async function findOrStartRedis(url: string, binary = 'redis-server'): Promise<DemoRedis> {
  if (await redisAnswers(url)) return { url, own: false, stop: async () => {} };
  if (spawnSync(binary, ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new NoRedisError(
      `No Redis answers at ${url} and there is no redis-server on PATH. Install one with ` +
        '`apt-get install -y redis-server` (or set REDIS_URL), or run the whole system with `docker compose up`.',
    );
  }
  try {
    // Its own process group: Ctrl-C reaches the demo, which stops the service first and this server last.
    const own = await startRedisServer({ binary, detached: true, dirPrefix: 'eip-demo-redis-' });
    return { url: own.url, own: true, stop: own.stop };
  } catch (e) {
    throw new NoRedisError((e as Error).message);
  }
}
