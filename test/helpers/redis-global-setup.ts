import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startRedisServer } from '../../src/demo/redis.js';

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

let stopServer: (() => Promise<void>) | undefined;
let stopContainer: (() => Promise<unknown>) | undefined;

function dockerAnswers(): boolean {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  return spawnSync('docker', ['info'], { timeout: 5000, stdio: 'ignore' }).status === 0;
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
    const server = await startRedisServer();
    stopServer = server.stop;
    url = server.url;
  }
  project.provide('redisUrl', url);
  return async () => {
    await stopServer?.();
    await stopContainer?.();
  };
}
