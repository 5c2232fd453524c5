import { describe, expect, it } from 'vitest';
import type { AppError } from '../../src/domain/errors.js';
import { parseOrgIdentifier } from '../../src/domain/identifiers.js';
import { applyDefaults, factsOf, parseSbd, serializeSbd } from '../../src/domain/sbd.js';
import { formatOslo, parseDateTime } from '../../src/domain/time.js';
import { sbd } from '../helpers/messages.js';

const ctx = { orgNumber: '910077473', defaultTtlHours: 24, now: new Date('2026-11-22T10:00:00Z') };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as AppError).code;
  }
  return 'no error';
}

describe('identifiers', () => {
  it.each([
    ['0192:910075946', { icd: '0192', orgnr: '910075946' }],
    ['910075946', { icd: '0192', orgnr: '910075946' }],
    ['0192:910077473:987654321', { icd: '0192', orgnr: '910077473', part: '987654321' }],
    ['9908:910075946', { icd: '9908', orgnr: '910075946' }],
  ])('reads %s', (value, expected) => expect(parseOrgIdentifier(value)).toEqual(expected));
  it.each(['0192:12345678', '0000:910075946', '0192:910075946:', 'abc', '0192:91007594a'])(
    'refuses %s',
    (v) => expect(parseOrgIdentifier(v)).toBeNull(),
  );
  it('accepts a synthetic number that fails mod-11, as the test environment uses', () => {
    expect(parseOrgIdentifier('910075946')).not.toBeNull();
  });
});

describe('date-times', () => {
  it('keeps given offsets and gives local times Oslo offset (winter and summer)', () => {
    expect(parseDateTime('2019-03-25T11:35:00+01:00')?.text).toBe('2019-03-25T11:35:00+01:00');
    expect(parseDateTime('2026-01-10T12:00:00')?.text).toBe('2026-01-10T12:00:00+01:00');
    expect(parseDateTime('2026-07-10T12:00:00')?.text).toBe('2026-07-10T12:00:00+02:00');
    expect(parseDateTime('2026-07-10T12:00:00+00:00')?.text).toBe('2026-07-10T12:00:00Z');
    expect(parseDateTime('2026-02-30T12:00:00')).toBeNull();
    expect(parseDateTime('2026-07-10T14:00:00+14:00')?.date.toISOString()).toBe('2026-07-10T00:00:00.000Z');
    expect(parseDateTime('2026-07-10T12:00:00-18:00')?.text).toBe('2026-07-10T12:00:00-18:00');
  });
  it.each([
    '2026-07-10T10:75:00+01:00',
    '2026-07-10T10:60:00',
    '2026-07-10T10:00:60Z',
    '2026-07-10T24:00:00Z',
    '2026-07-10T10:00:00+25:99',
    '2026-07-10T10:00:00+01:60',
    '2026-07-10T10:00:00+18:01',
    '2026-07-10T10:00:00-19:00',
  ])('refuses the impossible time or offset %s', (raw) => {
    expect(parseDateTime(raw)).toBeNull();
    expect(formatOslo(new Date('2026-11-22T10:00:00Z'))).toBe('2026-11-22T11:00:00+01:00');
  });
});

describe('SBD parsing', () => {
  it('round-trips with defaults and the reference key order', () => {
    const s = applyDefaults(parseSbd(sbd({ messageId: null, conversationId: null, sender: null })), ctx);
    const out = serializeSbd(s);
    expect(JSON.stringify(Object.keys(out))).toBe('["standardBusinessDocumentHeader","arkivmelding"]');
    const f = factsOf(s);
    expect(f.sender).toEqual({ icd: '0192', orgnr: '910077473' });
    expect(f.expectedResponseDateTime).toBe('2026-11-23T11:00:00+01:00');
    expect(f.creationDateAndTime).toBe('2026-11-22T11:00:00+01:00');
    expect(Object.keys(out.arkivmelding as object)).toEqual(['sikkerhetsnivaa', 'dpv']);
  });
  it('ignores unknown business-message fields and null values, like the reference', () => {
    const raw = sbd() as Record<string, Record<string, unknown>>;
    raw.arkivmelding!.somethingNew = 1;
    raw.arkivmelding!.hoveddokument = null;
    const out = serializeSbd(applyDefaults(parseSbd(raw), ctx));
    expect(out.arkivmelding).not.toHaveProperty('somethingNew');
    expect(out.arkivmelding).not.toHaveProperty('hoveddokument');
  });
  it('matches the type case-insensitively but requires the canonical key', () => {
    const raw = sbd() as Record<string, any>;
    raw.standardBusinessDocumentHeader.documentIdentification.type = 'ArkivMelding';
    expect(() => parseSbd(raw)).not.toThrow();
    const wrongKey = { standardBusinessDocumentHeader: raw.standardBusinessDocumentHeader, ArkivMelding: {} };
    expect(codeOf(() => parseSbd(wrongKey))).toBe('HttpMessageNotReadableException');
  });
  it('accepts the arkivmelding_kvittering business message and refuses other known types as unsupported', () => {
    const raw = sbd() as Record<string, any>;
    const h = raw.standardBusinessDocumentHeader;
    h.documentIdentification.type = 'arkivmelding_kvittering';
    h.documentIdentification.standard = 'urn:no:difi:arkivmelding:xsd::arkivmelding_kvittering';
    const k = {
      standardBusinessDocumentHeader: h,
      arkivmelding_kvittering: {
        receiptType: 'OK',
        relatedToMessageId: 'x',
        messages: [{ code: 'Recno', text: '1' }],
      },
    };
    expect(parseSbd(k).type).toBe('arkivmelding_kvittering');
    expect(
      codeOf(() =>
        parseSbd({
          standardBusinessDocumentHeader: h,
          arkivmelding_kvittering: { receiptType: 'MAYBE', relatedToMessageId: 'x' },
        }),
      ),
    ).toBe('ConstraintViolationException');
    h.documentIdentification.type = 'digital';
    expect(codeOf(() => parseSbd({ standardBusinessDocumentHeader: h, digital: {} }))).toBe(
      'UnknownMessageTypeException',
    );
  });
  it('refuses a null business message and a missing ConversationId scope', () => {
    const raw = sbd() as Record<string, any>;
    expect(codeOf(() => parseSbd({ ...raw, arkivmelding: null }))).toBe('ConstraintViolationException');
    raw.standardBusinessDocumentHeader.businessScope.scope[0].type = 'SenderRef';
    expect(codeOf(() => parseSbd(raw))).toBe('ConstraintViolationException');
  });
  it('refuses a sender that is neither us nor on behalf of us', () => {
    expect(codeOf(() => applyDefaults(parseSbd(sbd({ sender: '0192:987654321:123456789' })), ctx))).toBe(
      'ConstraintViolationException',
    );
  });
});
