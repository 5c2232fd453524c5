import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { resolvePaging, toPage } from '../../src/domain/page.js';
import { type Status, transition } from '../../src/domain/status.js';

const set = (...s: Status[]) => new Set<Status>(s);

describe('status transitions', () => {
  it('starts with OPPRETTET and follows the DPV line', () => {
    expect(transition(set(), 'OPPRETTET')).toBe('new');
    expect(transition(set(), 'SENDT')).toBe('refused');
    expect(transition(set('OPPRETTET'), 'SENDT')).toBe('new');
    expect(transition(set('OPPRETTET', 'SENDT'), 'LEVERT')).toBe('new');
    expect(transition(set('OPPRETTET', 'SENDT', 'LEVERT'), 'LEST')).toBe('new');
  });
  it('is idempotent per status', () => {
    expect(transition(set('OPPRETTET', 'SENDT'), 'SENDT')).toBe('duplicate');
  });
  it('lets FEIL follow LEVERT, but nothing follow FEIL or LEVETID_UTLOPT', () => {
    expect(transition(set('OPPRETTET', 'SENDT'), 'LEVETID_UTLOPT')).toBe('new');
    expect(transition(set('OPPRETTET', 'SENDT', 'LEVERT'), 'FEIL')).toBe('new');
    expect(transition(set('OPPRETTET', 'LEVETID_UTLOPT'), 'SENDT')).toBe('refused');
    expect(transition(set('OPPRETTET', 'FEIL'), 'LEVERT')).toBe('refused');
  });
  it('does not let a delivered or read message expire', () => {
    expect(transition(set('OPPRETTET', 'SENDT', 'LEVERT'), 'LEVETID_UTLOPT')).toBe('refused');
    expect(transition(set('OPPRETTET', 'SENDT', 'LEVERT', 'LEST'), 'LEVETID_UTLOPT')).toBe('refused');
  });
});

describe('config', () => {
  it('names every bad or missing variable in one error', () => {
    try {
      loadConfig({ ORG_NUMBER: '12', PORT: 'x', MAX_MESSAGE_SIZE: 'lots', API_AUTH: 'basic' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const msg = (e as Error).message;
      for (const name of [
        'ORG_NUMBER',
        'PORT',
        'MAX_MESSAGE_SIZE',
        'DATA_ENCRYPTION_KEY',
        'API_USERNAME',
        'API_PASSWORD',
      ]) {
        expect(msg).toContain(name);
      }
    }
  });
  it('applies defaults and reads sizes with units', () => {
    const c = loadConfig({
      ORG_NUMBER: '910077473',
      DATA_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      API_AUTH: 'none',
      MAX_MESSAGE_SIZE: '5MiB',
    });
    expect(c.PORT).toBe(9093);
    expect(c.DEFAULT_TTL_HOURS).toBe(24);
    expect(c.SERVICE_REGISTRY_VERIFY).toBe(true);
    expect(c.MAX_MESSAGE_SIZE).toBe(5 * 1024 * 1024);
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
  });
});

describe('Page JSON', () => {
  it('has the Spring Data PageImpl shape', () => {
    const p = resolvePaging({ page: 1, size: 2 }, ['id'], { property: 'id', direction: 'asc' });
    const page = toPage(['c'], 3, p);
    expect(page).toEqual({
      content: ['c'],
      pageable: {
        sort: { sorted: true, unsorted: false, empty: false },
        offset: 2,
        pageNumber: 1,
        pageSize: 2,
        unpaged: false,
        paged: true,
      },
      last: true,
      totalPages: 2,
      totalElements: 3,
      size: 2,
      number: 1,
      sort: { sorted: true, unsorted: false, empty: false },
      numberOfElements: 1,
      first: false,
      empty: false,
    });
    const unsorted = toPage([], 0, resolvePaging({ page: 0, size: 10 }, ['id'], null));
    expect(unsorted.sort).toEqual({ sorted: false, unsorted: true, empty: true });
    expect(() => resolvePaging({ page: 0, size: 10, sort: 'secret,asc' }, ['id'], null)).toThrow();
  });
});
