import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { expect, inject, it } from 'vitest';

const run = promisify(execFile);

it('does not load the docs UI until /api-docs is requested, then serves it', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/helpers/docs-probe.ts'], {
    env: {
      ...process.env,
      PROBE_REDIS_URL: inject('redisUrl'),
      PROBE_PREFIX: `t${randomUUID().slice(0, 12)}`,
    },
  });
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  expect(result).toEqual({
    afterBuild: false,
    afterRequest: true,
    pageStatus: 200,
    pageType: 'text/html; charset=utf-8',
    jsonStatus: 200,
    jsonTitle: 'eFormidling integration point for confidential post',
  });
});
