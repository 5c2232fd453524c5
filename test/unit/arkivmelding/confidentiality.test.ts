import { describe, expect, test } from 'vitest';
import { containsCaseReference } from '../../../src/domain/arkivmelding/confidentiality.js';
import {
  CASE_REFERENCE_PATTERNS,
  isPlaceholderTitle,
  PLACEHOLDER_TITLES,
  RECIPIENT_KORRESPONDANSEPARTTYPE,
} from '../../../src/domain/arkivmelding/index.js';

describe('placeholder public titles', () => {
  test.each([
    '-',
    '...',
    'x',
    'XXX',
    'test',
    'Tittel',
    'Offentlig tittel',
    'ingen',
    'Ukjent',
    'SKJERMET',
    'Unntatt offentlighet',
    'Unntatt offentlighet, jf. offl. § 13',
    'n/a',
    'N/A',
    '*****',
    '. . .',
    '---',
    '"Skjermet"',
    'Skjermet.',
    '   ',
    'Brev',
  ])('%j is a placeholder', (title) => expect(isPlaceholderTitle(title)).toBe(true));

  test.each([
    'Vedtak om tilskudd',
    'Melding om tiltak, sak 2026/4711',
    'Tilsynsrapport fosterhjem',
    'Søknad om ***** for *****',
    'Testresultater fra kartlegging',
    'Brev til rektor om skoleskyss',
    'Skjermet adresse – flytting',
  ])('%j describes the message', (title) => expect(isPlaceholderTitle(title)).toBe(false));

  test('the list is a named constant of lower-case entries', () => {
    expect(PLACEHOLDER_TITLES.has('unntatt offentlighet')).toBe(true);
    for (const t of PLACEHOLDER_TITLES) expect(t).toBe(t.toLowerCase());
  });
});

describe('case references in a public title', () => {
  test.each([
    'Vedtak i sak 2024/1234',
    'Oppfølging 24/00123',
    'Svar 2024/1234-5 om skoleskyss',
    'Saksnr 4471',
    'sak nr. 2024/12',
    'Saksnummer: 88',
    'Deres ref. 23/4455',
    'Vår referanse 120045',
  ])('%j names a case', (title) => expect(containsCaseReference(title)).toBe(true));

  test.each([
    'Vedtak om tilskudd',
    'Melding fra 2024',
    'Svar på brev av 12.03.2024',
    'Sak om skoleskyss',
    '1/2 dag permisjon',
  ])('%j does not', (title) => expect(containsCaseReference(title)).toBe(false));

  test('patterns are exported, and the recipient type has the metadatakatalog spelling', () => {
    expect(CASE_REFERENCE_PATTERNS.length).toBeGreaterThan(0);
    expect(RECIPIENT_KORRESPONDANSEPARTTYPE).toBe('Mottaker');
  });
});
