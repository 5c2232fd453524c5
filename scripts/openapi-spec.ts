import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

/** The OpenAPI document as the code declares it, with default settings (no network or Redis needed). */
export async function generateOpenApi(): Promise<Record<string, unknown>> {
  const config = loadConfig({
    ORG_NUMBER: '910077473',
    DATA_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'),
    API_USERNAME: 'docs',
    API_PASSWORD: 'documentation-only',
    LOG_LEVEL: 'silent',
  });
  const redis = new Redis({ lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  // Nothing is sent while documenting, so the queue is a stand-in.
  const app = await buildApp(config, { redis, queue: {} as Queue });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
    redis.disconnect();
  }
}

export function stableJson(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
