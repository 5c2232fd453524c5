import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

/**
 * Finds a Redis for the test run, in this order: REDIS_URL; a testcontainers Redis when a Docker
 * engine answers; a local redis-server started on a free port. Tests only ever use their own key
 * prefix, so a shared server is safe.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let child: ChildProcess | undefined;
let dir: string | undefined;
let stopContainer: (() => Promise<unknown>) | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function dockerAnswers(): boolean {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  return spawnSync('docker', ['info'], { timeout: 5000, stdio: 'ignore' }).status === 0;
}

async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
    if (r.stdout?.trim() === 'PONG') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer within 10 s`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let url = process.env.REDIS_URL;
  if (!url && dockerAnswers()) {
    const { GenericContainer } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    stopContainer = () => container.stop();
    url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  }
  if (!url) {
    if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
      throw new Error(
        'No Redis for the tests: set REDIS_URL, start a Docker engine, or install redis-server (apt-get install -y redis-server).',
      );
    }
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'eip-redis-'));
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      {
        stdio: 'ignore',
      },
    );
    await waitForPing(port);
    url = `redis://127.0.0.1:${port}`;
  }
  project.provide('redisUrl', url);
  return async () => {
    child?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
    await stopContainer?.();
  };
}
