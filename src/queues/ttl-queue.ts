import type { ConnectionOptions, Queue } from 'bullmq';
import { bullmq, handleErrors } from './bullmq.js';

export const TTL_QUEUE = 'ttl';
export const TTL_SWEEP_SCHEDULER = 'ttl-sweep';

/** Deterministic job id: one expiry job per message, whatever the number of sends. */
export const ttlJobId = (messageId: string) => `ttl-${messageId}`;

/** Ids only: the worker reads the rest from the store. */
export interface TtlJobData {
  messageId?: string;
}

export function createTtlQueue(connection: ConnectionOptions, prefix: string): Queue<TtlJobData> {
  return handleErrors(
    new bullmq.Queue<TtlJobData>(TTL_QUEUE, {
      connection,
      prefix: `${prefix}bull`,
      defaultJobOptions: {
        attempts: 5,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: 24 * 3600, count: 1000 },
        removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
      },
    }),
  );
}

/** Schedules the message's expiry check for its expectedResponseDateTime (now, when already past). */
export async function scheduleExpiry(
  queue: Queue<TtlJobData>,
  messageId: string,
  expiryMs: number,
  nowMs: number,
): Promise<void> {
  await queue.add(
    'expire',
    { messageId },
    { jobId: ttlJobId(messageId), delay: Math.max(0, expiryMs - nowMs) },
  );
}
