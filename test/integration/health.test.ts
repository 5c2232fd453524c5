import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/harness.js';

describe('readiness', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('says when delivery to Altinn is not configured: messages would be accepted and never sent', async () => {
    h = await startHarness();
    const res = await fetch(`${h.base}/health/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'UP', checks: { redis: 'UP', delivery: 'NOT_CONFIGURED' } });
  });

  it('says UP for delivery once Altinn credentials are set', async () => {
    h = await startHarness({ ALTINN_TOKEN: 'a-static-token-for-the-check' });
    const res = await fetch(`${h.base}/health/ready`);
    expect(await res.json()).toEqual({ status: 'UP', checks: { redis: 'UP', delivery: 'UP' } });
  });
});
