import { createRequire } from 'node:module';

/**
 * bullmq ships CommonJS only; an ESM `import` of it runs Node's CommonJS export scanner over its ~190 files
 * (~0.3 s of start-up). A plain require does not. Import its types with `import type` and its classes from here.
 */
export const bullmq = createRequire(import.meta.url)('bullmq') as typeof import('bullmq');
