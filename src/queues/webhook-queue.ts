import type { ConnectionOptions, Queue } from 'bullmq';
import { type EventFacts, matches } from '../domain/subscriptions.js';
import type { Subscription } from '../store/subscriptions.js';
import { bullmq, handleErrors } from './bullmq.js';

export const WEBHOOK_QUEUE = 'webhooks';

/** Ids only: the body is built when the job runs, from the status record or the notice. */
export type WebhookJobData = { subscriptionId: number } & ({ statusId: number } | { noticeId: string });

/** One job per subscription and event, so a re-read stream entry or a repeated tick adds nothing. */
export const webhookJobId = (d: WebhookJobData) =>
  `wh-${d.subscriptionId}-${'statusId' in d ? `s${d.statusId}` : d.noticeId}`;

export function createWebhookQueue(
  connection: ConnectionOptions,
  prefix: string,
  opts: { maxAttempts: number; retryBaseMs: number },
): Queue<WebhookJobData> {
  return handleErrors(
    new bullmq.Queue<WebhookJobData>(WEBHOOK_QUEUE, {
      connection,
      prefix: `${prefix}bull`,
      defaultJobOptions: {
        attempts: opts.maxAttempts,
        backoff: { type: 'exponential', delay: opts.retryBaseMs },
        removeOnComplete: { age: 24 * 3600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
      },
    }),
  );
}

/** Queues each event for every subscription that wants it, in one addBulk; returns how many jobs. */
export async function fanOutMany(
  queue: Queue<WebhookJobData>,
  subscriptions: Subscription[],
  events: ({ facts: EventFacts } & ({ statusId: number } | { noticeId: string }))[],
): Promise<number> {
  const jobs = events.flatMap(({ facts, ...ref }) =>
    subscriptions
      .filter((s) => matches(s, facts))
      .map((s) => {
        const data = { subscriptionId: s.id, ...ref } as WebhookJobData;
        return { name: facts.event, data, opts: { jobId: webhookJobId(data) } };
      }),
  );
  if (jobs.length) await queue.addBulk(jobs);
  return jobs.length;
}

/** Queues one event for every subscription that wants it. */
export function fanOut(
  queue: Queue<WebhookJobData>,
  subscriptions: Subscription[],
  facts: EventFacts,
  ref: { statusId: number } | { noticeId: string },
): Promise<number> {
  return fanOutMany(queue, subscriptions, [{ facts, ...ref }]);
}
