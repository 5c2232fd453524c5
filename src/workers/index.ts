import pino, { type Logger } from 'pino';
import type { Config } from '../config.js';
import { TtlWorker } from './ttl.js';

export interface BackgroundDeps {
  clock?: () => Date;
  log?: Logger;
}

export interface Background {
  close(): Promise<void>;
}

/** Starts the background components (each with its own Redis connections); close() stops them in reverse. */
export async function startBackground(config: Config, deps: BackgroundDeps = {}): Promise<Background> {
  const log = deps.log ?? pino({ level: config.LOG_LEVEL });
  const parts: { close(): Promise<void> }[] = [];
  const close = async () => {
    for (const p of parts.reverse()) await p.close();
  };
  try {
    const ttl = new TtlWorker(config, {
      ...(deps.clock ? { clock: deps.clock } : {}),
      log: log.child({ worker: 'ttl' }),
    });
    parts.push(ttl);
    await ttl.start();
  } catch (e) {
    await close();
    throw e;
  }
  return { close };
}
