import { describe, expect, it } from 'vitest';
import { findOrStartRedis, freePort, NoRedisError } from '../../src/demo/redis.js';

describe('the demo finding Redis', () => {
  it('without a Redis and without redis-server, says how to get one', async () => {
    const nothing = `redis://127.0.0.1:${await freePort()}`;
    const err = await findOrStartRedis(nothing, 'no-such-redis-server-binary').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoRedisError);
    expect((err as Error).message).toContain('apt-get install -y redis-server');
    expect((err as Error).message).toContain('docker compose up');
  });

  it('uses the Redis at the URL when it answers, and never stops it', async () => {
    const own = await findOrStartRedis(`redis://127.0.0.1:${await freePort()}`);
    try {
      expect(own.own).toBe(true);
      const found = await findOrStartRedis(own.url);
      expect(found).toMatchObject({ url: own.url, own: false });
      await found.stop();
      const again = await findOrStartRedis(own.url);
      expect(again.own).toBe(false);
    } finally {
      await own.stop();
    }
  });
});
