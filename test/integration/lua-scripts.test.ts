import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Crypto } from '../../src/store/crypto.js';
import { DeliveryStore } from '../../src/store/delivery.js';
import { IncomingStore } from '../../src/store/incoming.js';
import { NoticeStore } from '../../src/store/notices.js';
import { scriptsOn } from '../../src/store/scripts.js';
import { Store } from '../../src/store/store.js';

describe('Lua scripts by SHA-1', () => {
  let redis: Redis;
  const prefix = `luatest-${randomUUID()}:`;

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'), { enableAutoPipelining: true });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('sends a script Redis does not hold yet whole, then by its SHA-1 only', async () => {
    // A body no other run has sent, so Redis cannot hold it yet.
    const marker = randomUUID();
    const lua = `-- ${marker}\nredis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])`;
    const calls = scriptsOn(redis, { put: lua }, () => 1);
    const digest = createHash('sha1').update(lua).digest('hex');
    expect(await redis.script('EXISTS', digest)).toEqual([0]);
    expect(await calls.put(`${prefix}k`, 'first')).toBe('first');
    expect(await redis.script('EXISTS', digest)).toEqual([1]);
    const monitor = await redis.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_t: string, args: string[]) => {
      if (args.some((a) => a.includes(marker) || a === digest)) seen.push(args[0]!.toLowerCase());
    });
    expect(await calls.put(`${prefix}k`, 'second')).toBe('second');
    await redis.ping();
    await new Promise((r) => setTimeout(r, 50));
    monitor.disconnect();
    expect(seen).toEqual(['evalsha']);
  });

  it("passes a script's own error on, and keeps KEYS and ARGV apart", async () => {
    const calls = scriptsOn(
      redis,
      { fail: "return redis.error_reply('ERR refused by the script')", echo: 'return {KEYS[1], ARGV[1]}' },
      (name) => (name === 'echo' ? 1 : 0),
    );
    await expect(calls.fail()).rejects.toThrow(/refused by the script/);
    expect(await calls.echo(`${prefix}key`, 'value')).toEqual([`${prefix}key`, 'value']);
  });

  it('defines nothing on the connection, so pipelines stay cheap', () => {
    const conn = new Redis(inject('redisUrl'), { lazyConnect: true });
    const crypto = new Crypto(randomBytes(32));
    const store = new Store(conn, prefix, crypto);
    new DeliveryStore(store);
    new IncomingStore(conn, prefix, crypto);
    new NoticeStore(conn, prefix);
    expect(Object.keys((conn as unknown as { scriptsSet: object }).scriptsSet)).toEqual([]);
    expect(Object.keys(store.lua)).toContain('addStatus');
    conn.disconnect();
  });
});
