import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddressServiceClient } from '../../src/adapters/address-service.js';
import { type AddressServiceSandbox, startAddressServiceSandbox } from '../../src/sandbox/address-service.js';
import { ORG_DPV_TAUSHETSBELAGT } from '../../src/sandbox/address-service-seed.js';
import { type Harness, startHarness } from '../helpers/harness.js';

let sandbox: AddressServiceSandbox;
beforeAll(async () => {
  sandbox = await startAddressServiceSandbox();
});
afterAll(() => sandbox.close());

describe('address service credentials', () => {
  it('sends the configured bearer token on lookups', async () => {
    const client = new AddressServiceClient({
      baseUrl: sandbox.url,
      verify: true,
      timeoutMs: 2000,
      cacheSeconds: 0,
      bearerToken: 'maskinporten-access-token',
    });
    await client.lookup({ identifier: ORG_DPV_TAUSHETSBELAGT });
    const lookup = sandbox.requests.find((r) => r.url.startsWith('/identifier/'));
    expect(lookup?.authorization).toBe('Bearer maskinporten-access-token');
  });

  it('takes SERVICE_REGISTRY_TOKEN from config and never logs it', async () => {
    let h: Harness | undefined;
    try {
      h = await startHarness({ SERVICE_REGISTRY_TOKEN: 'secret-sr-token' });
      const res = await h.json('GET', `/api/capabilities/${ORG_DPV_TAUSHETSBELAGT}`);
      expect(res.status).toBe(200);
      expect(h.sandbox.requests.some((r) => r.authorization === 'Bearer secret-sr-token')).toBe(true);
      expect(h.logs.join('')).not.toContain('secret-sr-token');
    } finally {
      await h?.close();
    }
  });
});
