import { createRequire } from 'node:module';

/**
 * bullmq ships CommonJS only; an ESM `import` of it runs Node's CommonJS export scanner over its ~190 files
 * (~0.3 s of start-up). A plain require does not. Import its types with `import type` and its classes from here.
 */
export const bullmq = createRequire(import.meta.url)('bullmq') as typeof import('bullmq');

/**
 * BullMQ re-emits Redis connection trouble as an 'error' event, and an EventEmitter without a listener ends the
 * process. The call that needed Redis still rejects and is handled there; this only keeps the event from killing us.
 */
export function handleErrors<T extends { on(event: 'error', listener: (err: Error) => void): unknown }>(
  emitter: T,
  onError: (err: Error) => void = () => {},
): T {
  emitter.on('error', onError);
  return emitter;
}
