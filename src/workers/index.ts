import type { FastifyBaseLogger as Logger } from 'fastify';
import pino from 'pino';
import type { Config } from '../config.js';
import { DigestWorker } from './digest.js';
import { StatusEventFanout } from './status-events.js';
import { TtlWorker } from './ttl.js';
import { UnreadWatchdog } from './unread-watchdog.js';
import { WebhookDeliveryWorker } from './webhook-delivery.js';

export interface BackgroundOptions {
  log?: Logger;
  clock?: () => Date;
  claimIdleMs?: number;
}

export interface Background {
  close(): Promise<void>;
}

interface Component {
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the background components (each with its own Redis connections); close() stops them in reverse order. */
export async function startBackground(config: Config, opts: BackgroundOptions = {}): Promise<Background> {
  const log = opts.log ?? pino({ level: config.LOG_LEVEL });
  const clock = opts.clock ? { clock: opts.clock } : {};
  const deps = {
    log,
    ...clock,
    ...(opts.claimIdleMs !== undefined ? { claimIdleMs: opts.claimIdleMs } : {}),
  };
  const components: Component[] = [
    new TtlWorker(config, { ...clock, log: log.child({ worker: 'ttl' }) }),
    new WebhookDeliveryWorker(config, deps),
    new StatusEventFanout(config, deps),
    new UnreadWatchdog(config, deps),
    new DigestWorker(config, deps),
  ];
  const started: Component[] = [];
  const close = async () => {
    for (const c of started.reverse()) await c.close();
  };
  try {
    for (const c of components) {
      await c.start();
      started.push(c);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { close };
}
