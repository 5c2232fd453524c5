import { freePort, type RedisServer, startRedisServer } from '../src/demo/redis.js';

/**
 * A redis-server child for the load sections, configured as the README recommends for production:
 * append-only file on, fsync every second. Its data lives in a temp dir that goes with it.
 */
export type OwnRedis = RedisServer;

export { freePort };

export function startOwnRedis(binary = process.env.REDIS_SERVER_BIN || 'redis-server'): Promise<OwnRedis> {
  return startRedisServer({
    binary,
    dirPrefix: 'eip-bench-redis-',
    args: [
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
    ],
  });
}
