import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { matches, parseFilter, unreadDescription, waitedText } from '../../src/domain/subscriptions.js';

const base = {
  ORG_NUMBER: '910077473',
  DATA_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
  API_AUTH: 'none',
};

describe('subscription filters', () => {
  it('parses names case-insensitively, values upper-cased, comma = or', () => {
    expect(parseFilter('status=feil,LEVETID_UTLOPT&Direction=outgoing')).toEqual({
      filter: { status: ['FEIL', 'LEVETID_UTLOPT'], direction: ['OUTGOING'] },
      problems: [],
    });
  });
  it('names every unknown filter and every malformed part', () => {
    expect(parseFilter('colour=red&status=FEIL&size=2&oops').problems).toEqual([
      'unknown filter names: colour, size (known: status, serviceIdentifier, direction)',
      "'oops' is not name=value[,value…]",
    ]);
  });
  it('matches resource, event and every filter part', () => {
    const facts = {
      event: 'status' as const,
      status: 'FEIL',
      serviceIdentifier: 'DPV',
      direction: 'OUTGOING',
    };
    expect(matches({ resource: 'all', event: 'all' }, facts)).toBe(true);
    expect(matches({ resource: 'messages', event: 'unread' }, facts)).toBe(false);
    expect(
      matches({ resource: 'all', event: 'status', filter: 'status=LEST,feil&direction=OUTGOING' }, facts),
    ).toBe(true);
    expect(
      matches({ resource: 'all', event: 'status', filter: 'status=FEIL&direction=INCOMING' }, facts),
    ).toBe(false);
    expect(matches({ resource: 'all', event: 'all', filter: 'serviceIdentifier=DPO' }, facts)).toBe(false);
  });
});

describe('notice settings', () => {
  it('reads UNREAD_ALERT_AFTER as sorted ages with their labels, default 3d,7d,14d', () => {
    expect(loadConfig(base).UNREAD_ALERT_AFTER).toEqual([
      { label: '3d', ms: 3 * 86_400_000 },
      { label: '7d', ms: 7 * 86_400_000 },
      { label: '14d', ms: 14 * 86_400_000 },
    ]);
    expect(
      loadConfig({ ...base, UNREAD_ALERT_AFTER: '12h, 90s,2d' }).UNREAD_ALERT_AFTER.map((a) => a.label),
    ).toEqual(['90s', '12h', '2d']);
  });
  it('refuses bad durations, and SMTP_URL without sender and receivers, in one error', () => {
    try {
      loadConfig({
        ...base,
        UNREAD_ALERT_AFTER: '3d,soon',
        SMTP_URL: 'smtp://mail.example:587',
        NOTICE_EMAIL_TO: 'x',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const problems = (e as ConfigError).problems.join('\n');
      expect(problems).toContain('"soon" is not a duration');
      expect(problems).toContain('NOTICE_EMAIL_FROM is required when SMTP_URL is set');
      expect(problems).toContain('NOTICE_EMAIL_TO');
    }
  });
  it('reads the e-mail receivers as a list', () => {
    const c = loadConfig({
      ...base,
      SMTP_URL: 'smtp://u:p@mail.example:587',
      NOTICE_EMAIL_FROM: 'ip@kommune.example',
      NOTICE_EMAIL_TO: 'a@kommune.example, b@kommune.example',
    });
    expect(c.NOTICE_EMAIL_TO).toEqual(['a@kommune.example', 'b@kommune.example']);
    expect(c.WEBHOOK_MAX_ATTEMPTS).toBe(5);
    expect(c.WEBHOOK_RETRY_BASE_MS).toBe(10_000);
    expect(c.NOTICE_DIGEST_INTERVAL_MS).toBe(3_600_000);
  });
});

describe('unread texts', () => {
  it('says how long in Norwegian and what access may be missing', () => {
    expect(waitedText(7 * 86_400_000 + 3_600_000)).toBe('7 døgn og 1 time');
    expect(waitedText(90 * 60_000)).toBe('1 time og 30 minutter');
    const d = unreadDescription(3 * 86_400_000, '910075946', 'eformidling-dpv-taushetsbelagt');
    expect(d).toContain('for 3 døgn siden');
    expect(d).toContain('910075946');
    expect(d).toContain('«eformidling-dpv-taushetsbelagt»');
  });
});
