import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type ScriptArg = string | number | Buffer;
export type ScriptCalls<S extends Record<string, string>> = {
  [K in keyof S]: (...args: ScriptArg[]) => Promise<unknown>;
};

/**
 * Lua scripts called by their SHA-1 (EVALSHA) and sent whole (EVAL) only when Redis does not hold them yet (a
 * first call, a restarted Redis). Not ioredis's `defineCommand`: that copies every defined script onto each pipeline
 * it makes, and auto-pipelining makes one for every batch of commands.
 */
export function scriptsOn<S extends Record<string, string>>(
  redis: Redis,
  scripts: S,
  numberOfKeys: (name: keyof S) => number = () => 0,
): ScriptCalls<S> {
  const calls = {} as ScriptCalls<S>;
  for (const name of Object.keys(scripts) as (keyof S)[]) {
    const lua = scripts[name]!;
    const sha = createHash('sha1').update(lua).digest('hex');
    const keys = numberOfKeys(name);
    calls[name] = async (...args: ScriptArg[]) => {
      try {
        return await redis.evalsha(sha, keys, ...args);
      } catch (e) {
        if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
        return redis.eval(lua, keys, ...args);
      }
    };
  }
  return calls;
}
