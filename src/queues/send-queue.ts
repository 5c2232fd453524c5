import type { ConnectionOptions, Queue } from 'bullmq';
import { bullmq, handleErrors } from './bullmq.js';

export const SEND_QUEUE = 'send';

/** Deterministic job id: a retried send finds the job already there. No ':' and never digits only. */
export const sendJobId = (messageId: string) => `send-${messageId}`;

/** The job carries ids only; everything confidential stays sealed in the store and on disk. */
export interface SendJobData {
  messageId: string;
}

export function createSendQueue(connection: ConnectionOptions, prefix: string): Queue<SendJobData> {
  return handleErrors(
    new bullmq.Queue<SendJobData>(SEND_QUEUE, {
      connection,
      prefix: `${prefix}bull`,
      defaultJobOptions: {
        removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
        removeOnFail: { age: 30 * 24 * 3600, count: 50_000 },
      },
    }),
  );
}

/** Resolves once Redis has the job: the send request is only acknowledged after this. */
export async function enqueueSend(queue: Queue<SendJobData>, messageId: string): Promise<void> {
  await queue.add('send', { messageId }, { jobId: sendJobId(messageId) });
}
