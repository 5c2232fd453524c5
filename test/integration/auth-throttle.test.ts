import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailedLoginLimiter } from '../../src/plugins/auth.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { rawRequest } from '../helpers/raw-http.js';

const WRONG = `Basic ${Buffer.from('fagsystem:wrong-password').toString('base64')}`;

describe('failed-login throttling', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      AUTH_FAILURE_LIMIT: '5',
      AUTH_FAILURE_WINDOW_MS: '60000',
      AUTH_LOCKOUT_MS: '30000',
    });
  });
  afterAll(() => h.close());

  it('never slows or counts successful logins', async () => {
    for (let i = 0; i < 30; i++) {
      expect((await rawRequest(h.base, 'GET', '/api/statuses', { authorization: h.auth })).status).toBe(200);
    }
  });

  it('a success forgets earlier failures; a burst of failures answers 429 with Retry-After', async () => {
    for (let i = 0; i < 4; i++) {
      expect((await rawRequest(h.base, 'GET', '/api/statuses', { authorization: WRONG })).status).toBe(401);
    }
    expect((await rawRequest(h.base, 'GET', '/api/statuses', { authorization: h.auth })).status).toBe(200);
    for (let i = 0; i < 4; i++) {
      expect((await rawRequest(h.base, 'GET', '/api/statuses', { authorization: WRONG })).status).toBe(401);
    }
    const fifth = await rawRequest(h.base, 'GET', '/api/statuses', { authorization: WRONG });
    expect(fifth.status).toBe(429);
    expect(fifth.headers['retry-after']).toBe('30');
    expect(JSON.parse(fifth.text)).toMatchObject({
      status: 429,
      title: 'Too Many Requests',
      error: 'Too Many Requests',
      exception: 'TooManyAuthenticationFailuresException',
      path: '/api/statuses',
    });
    // While locked out, nothing from that address is checked, so guessing on cannot tell right from wrong.
    const during = await rawRequest(h.base, 'POST', '/api/messages/out', { authorization: h.auth });
    expect(during.status).toBe(429);
    expect(Number(during.headers['retry-after'])).toBeGreaterThan(0);
    expect(h.logs.join('')).toContain('authentication locked out after repeated failures');
    // Health stays open.
    expect((await rawRequest(h.base, 'GET', '/health/live')).status).toBe(200);
  });
});

describe('throttling switched off', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AUTH_FAILURE_LIMIT: '0' });
  });
  afterAll(() => h.close());
  it('answers 401 to every wrong password', async () => {
    for (let i = 0; i < 40; i++) {
      expect((await rawRequest(h.base, 'GET', '/api/statuses', { authorization: WRONG })).status).toBe(401);
    }
  });
});

describe('FailedLoginLimiter', () => {
  it('counts failures inside the window only, and the lockout ends', () => {
    let now = 1_000_000;
    const l = new FailedLoginLimiter(3, 10_000, 5_000, () => now);
    expect(l.fail('a')).toBe(0);
    expect(l.fail('a')).toBe(0);
    now += 10_000; // window over: counting starts again
    expect(l.fail('a')).toBe(0);
    expect(l.fail('a')).toBe(0);
    expect(l.lockedFor('a')).toBe(0);
    expect(l.fail('a')).toBe(5_000);
    expect(l.lockedFor('a')).toBe(5_000);
    expect(l.lockedFor('b')).toBe(0);
    now += 4_999;
    expect(l.lockedFor('a')).toBe(1);
    now += 1;
    expect(l.lockedFor('a')).toBe(0);
    expect(l.fail('a')).toBe(0);
  });
  it('is off with a limit of 0', () => {
    const l = new FailedLoginLimiter(0, 10_000, 5_000);
    for (let i = 0; i < 100; i++) expect(l.fail('a')).toBe(0);
    expect(l.lockedFor('a')).toBe(0);
  });
  it('tracks a bounded number of addresses', () => {
    const now = 0;
    const l = new FailedLoginLimiter(1, 10_000, 5_000, () => now);
    for (let i = 0; i < 10_050; i++) l.fail(`10.0.${i >> 8}.${i & 255}`);
    expect(l.lockedFor('10.0.0.0')).toBe(0); // the oldest was dropped
    expect(l.lockedFor('10.0.39.65')).toBe(5_000);
  });
});
