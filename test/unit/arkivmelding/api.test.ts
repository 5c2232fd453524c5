import { describe, expect, test } from 'vitest';
import {
  type ArkivmeldingSummary,
  checkArkivmeldingAgainstMessage,
  readConfidentialTitle,
  validateArkivmelding,
} from '../../../src/domain/arkivmelding/index.js';
import { DEFAULT_OPTIONS, fixture } from './support/corpus.js';

const LIMITS = { maxBytes: DEFAULT_OPTIONS.maxBytes, maxDepth: DEFAULT_OPTIONS.maxDepth };

const summary = (overrides: Partial<ArkivmeldingSummary> = {}): ArkivmeldingSummary => ({
  publicTitle: 'Vedtak i sak 2025/12',
  referencedFiles: ['vedtak.pdf', 'vedlegg-1.pdf', 'vedlegg-2.pdf'],
  saksmappeSystemId: '5b1d2e6f-8c0a-4f3b-9d21-6a7e0c4b9f12',
  journalpostnummer: '4',
  caseNumber: '2025/12',
  messageReference: '5b1d2e6f-8c0a-4f3b-9d21-6a7e0c4b9f12-4',
  antallFiler: 3,
  ...overrides,
});

describe('checkArkivmeldingAgainstMessage', () => {
  test('accepts a message with every referenced file uploaded (arkivmelding.xml and extra files do not matter)', () => {
    expect(
      checkArkivmeldingAgainstMessage(summary(), {
        filenames: ['arkivmelding.xml', 'vedtak.pdf', 'vedlegg-2.pdf', 'vedlegg-1.pdf', 'ekstra.txt'],
        hoveddokument: 'vedtak.pdf',
      }),
    ).toEqual([]);
  });

  test('lists every missing file at once, each with its name', () => {
    const problems = checkArkivmeldingAgainstMessage(summary(), {
      filenames: ['arkivmelding.xml', 'vedlegg-1.pdf'],
    });
    expect(problems.map((p) => [p.code, p.rejectedValue])).toEqual([
      ['MissingArkivmeldingFileException', 'vedtak.pdf'],
      ['MissingArkivmeldingFileException', 'vedlegg-2.pdf'],
    ]);
    for (const p of problems) expect(p.message).toContain(String(p.rejectedValue));
  });

  test('compares file names exactly', () => {
    const problems = checkArkivmeldingAgainstMessage(summary({ referencedFiles: ['Vedtak.PDF'] }), {
      filenames: ['vedtak.pdf'],
    });
    expect(problems.map((p) => p.rejectedValue)).toEqual(['Vedtak.PDF']);
  });

  test('refuses a hoveddokument that the arkivmelding does not reference, even when it was uploaded', () => {
    const problems = checkArkivmeldingAgainstMessage(summary(), {
      filenames: ['vedtak.pdf', 'vedlegg-1.pdf', 'vedlegg-2.pdf', 'annet.pdf'],
      hoveddokument: 'annet.pdf',
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'HoveddokumentNotReferenced', rejectedValue: 'annet.pdf' });
    expect(problems[0]?.message).toContain('vedtak.pdf');
  });

  test('reports missing files and a wrong hoveddokument together; null or empty hoveddokument is no hoveddokument', () => {
    expect(
      checkArkivmeldingAgainstMessage(summary(), { filenames: [], hoveddokument: 'x.pdf' }).map(
        (p) => p.code,
      ),
    ).toEqual([
      'MissingArkivmeldingFileException',
      'MissingArkivmeldingFileException',
      'MissingArkivmeldingFileException',
      'HoveddokumentNotReferenced',
    ]);
    const all = ['vedtak.pdf', 'vedlegg-1.pdf', 'vedlegg-2.pdf'];
    expect(checkArkivmeldingAgainstMessage(summary(), { filenames: all, hoveddokument: null })).toEqual([]);
    expect(checkArkivmeldingAgainstMessage(summary(), { filenames: all, hoveddokument: '' })).toEqual([]);
  });
});

describe('readConfidentialTitle', () => {
  test('returns the non-public journalpost tittel, not offentligTittel or the mappe tittel', () => {
    expect(readConfidentialTitle(fixture('valid-minimal.xml'), LIMITS)).toBe(
      'Bekymringsmelding vedrørende barn født 2019',
    );
    expect(readConfidentialTitle(fixture('valid-full.xml'), LIMITS)).toBe(
      'Tilsynsrapport for fosterhjemmet til Ola Hansen',
    );
  });

  test('reads CDATA, references, prefixes and CRLF documents', () => {
    expect(readConfidentialTitle(fixture('valid-prefixed-namespaces.xml'), LIMITS)).toBe(
      'Bekymringsmelding vedrørende barn født 2019',
    );
    expect(readConfidentialTitle(fixture('valid-bom-crlf-comments-cdata.xml'), LIMITS)).toBe(
      'Bekymringsmelding vedrørende barn født 2019',
    );
  });

  test('uses the first journalpost of the first saksmappe', () => {
    const xml = fixture('valid-two-journalposts.xml').toString('utf8');
    const second = xml.lastIndexOf('<tittel>Bekymringsmelding');
    const changed = `${xml.slice(0, second)}<tittel>Andre journalpost${xml.slice(second + '<tittel>Bekymringsmelding'.length)}`;
    expect(readConfidentialTitle(Buffer.from(changed), LIMITS)).toBe(
      'Bekymringsmelding vedrørende barn født 2019',
    );
  });

  test('the summary of a valid arkivmelding carries the same title, so the send need not read the file again', () => {
    for (const file of [
      'valid-minimal.xml',
      'valid-full.xml',
      'valid-prefixed-namespaces.xml',
      'valid-bom-crlf-comments-cdata.xml',
      'valid-two-journalposts.xml',
    ]) {
      const result = validateArkivmelding(fixture(file), DEFAULT_OPTIONS);
      expect(result.ok, file).toBe(true);
      if (!result.ok) continue;
      expect(result.summary.confidentialTitle, file).toBe(readConfidentialTitle(fixture(file), LIMITS));
      expect(result.summary.confidentialTitle, file).toBeTruthy();
    }
  });

  test('returns null for anything it cannot read safely', () => {
    for (const file of [
      'unsafe-billion-laughs.xml',
      'malformed-two-roots.xml',
      'encoding-utf-16.xml',
      'eformidling-no-journalpost.xml',
    ]) {
      expect(readConfidentialTitle(fixture(file), LIMITS), file).toBeNull();
    }
    expect(readConfidentialTitle(Buffer.alloc(0), LIMITS)).toBeNull();
    expect(readConfidentialTitle(fixture('valid-minimal.xml'), { ...LIMITS, maxBytes: 100 })).toBeNull();
  });
});

describe('summary', () => {
  const ok = (file: string, options = DEFAULT_OPTIONS) => {
    const result = validateArkivmelding(fixture(file), options);
    if (!result.ok) throw new Error(`${file}: ${result.code} ${JSON.stringify(result.problems)}`);
    return result;
  };

  test("lists referenced files in dokumentnummer order, numerically, keeping each dokumentbeskrivelse's own order", () => {
    expect(ok('valid-dokumentnummer-order.xml').summary.referencedFiles).toEqual([
      'hovedbrev.pdf',
      'vedlegg-a.pdf',
      'vedlegg-a.docx',
      'vedlegg-b.pdf',
      'vedlegg-c.pdf',
    ]);
  });

  test('derives caseNumber and messageReference only when their parts are present', () => {
    expect(ok('valid-full.xml').summary).toMatchObject({
      caseNumber: '2025/412',
      journalpostnummer: '4',
      messageReference: '{3A9F1C2D-7B4E-4F6A-8C1D-2E3F4A5B6C7D}-4',
    });
    expect(ok('valid-minimal.xml').summary).toMatchObject({
      caseNumber: '2025/1187',
      messageReference: null,
    });
    expect(ok('valid-korrespondansepart-variants.xml').summary).toMatchObject({ caseNumber: null });
    expect(ok('valid-integer-whitespace-empty-strings.xml').summary.caseNumber).toBe('2025/1187');
  });

  test('takes the public title from offentligTittel, falling back to tittel', () => {
    expect(ok('valid-minimal.xml').summary.publicTitle).toBe('Bekymringsmelding i sak 2025/1187');
    expect(
      ok('valid-not-confidential.xml', { ...DEFAULT_OPTIONS, confidential: false }).summary.publicTitle,
    ).toBe('Invitasjon til dialogmøte om kommuneplan');
  });

  test('warns rather than refuses when antallFiler differs, and points at it', () => {
    const result = ok('valid-antallfiler-mismatch.xml');
    expect(result.warnings).toEqual([
      expect.objectContaining({
        code: 'AntallFilerMismatch',
        path: '/arkivmelding/antallFiler',
        line: 6,
        column: 3,
      }),
    ]);
    expect(result.summary.antallFiler).toBe(3);
  });
});

describe('confidentiality switch', () => {
  test('the same document passes as ordinary post and fails as confidential post', () => {
    const xml = fixture('confidential-missing-offentligtittel.xml');
    expect(validateArkivmelding(xml, { ...DEFAULT_OPTIONS, confidential: false }).ok).toBe(true);
    const confidential = validateArkivmelding(xml, DEFAULT_OPTIONS);
    expect(confidential.ok).toBe(false);
    if (!confidential.ok) expect(confidential.code).toBe('ConfidentialityRequirementException');
  });

  test('recipientRule "warning" turns only the identification rule into a warning', () => {
    const warning = { ...DEFAULT_OPTIONS, recipientRule: 'warning' as const };
    const noCase = validateArkivmelding(fixture('confidential-no-case-or-recipient.xml'), warning);
    expect(noCase.ok && noCase.warnings.map((w) => w.code)).toEqual(['MissingCaseOrRecipient']);
    const placeholder = validateArkivmelding(fixture('confidential-placeholder-skjermet.xml'), warning);
    expect(placeholder.ok).toBe(false);
  });

  test('schema, eFormidling and confidentiality problems are reported together, schema code first', () => {
    const xml = fixture('confidential-no-case-or-recipient.xml')
      .toString('utf8')
      .replace('<journaldato>2025-03-14</journaldato>', '<journaldato>i dag</journaldato>')
      .replace(
        '<referanseDokumentfil>melding.pdf</referanseDokumentfil>',
        '<referanseDokumentfil>a/b.pdf</referanseDokumentfil>',
      );
    const result = validateArkivmelding(Buffer.from(xml), DEFAULT_OPTIONS);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe('InvalidArkivmeldingException');
    expect(result.problems.map((p) => p.code)).toEqual([
      'InvalidDate',
      'InvalidReferanseDokumentfil',
      'MissingCaseOrRecipient',
    ]);
  });
});
