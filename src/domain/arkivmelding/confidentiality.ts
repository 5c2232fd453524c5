/**
 * Rules for confidential (taushetsbelagt) post. Nobody at the receiving organisation can open such a message
 * until someone has been given the right role, so what they see without opening it — the public title — must
 * say what the message concerns and let them find the right reader: a case number or a named recipient.
 */
import type { ProblemItem } from '../errors.js';
import { PROBLEM_CODES } from './codes.js';
import { type ArkivmeldingParts, childElements, childValue, firstChild } from './rules.js';
import { trimXmlWhitespace } from './simple-types.js';
import type { SourceText } from './source-text.js';
import { elementText } from './xml-reader.js';

/**
 * Public titles that say nothing about the message (compared lower-cased, whitespace collapsed, surrounding
 * quotes and trailing full stops or colons removed).
 */
export const PLACEHOLDER_TITLES: ReadonlySet<string> = new Set([
  '-',
  '...',
  'x',
  'n/a',
  'na',
  'tbd',
  'todo',
  'test',
  'testing',
  'dummy',
  'title',
  'untitled',
  'no title',
  'tittel',
  'offentlig tittel',
  'ingen tittel',
  'uten tittel',
  'ingen',
  'ukjent',
  'ikke oppgitt',
  'tom',
  'blank',
  'skjermet',
  'skjermet tittel',
  'unntatt',
  'unntatt offentlighet',
  'taushetsbelagt',
  'taushetsbelagt post',
  'konfidensielt',
  'fortrolig',
  'sensitiv',
  'sensitivt',
  'melding',
  'brev',
  'dokument',
  'vedlegg',
]);

/** Text in a public title that identifies a case: a Norwegian case number or a labelled reference. */
export const CASE_REFERENCE_PATTERNS: readonly RegExp[] = [
  // 2024/1234, 24/00123, 2024/1234-5
  /(?<![\p{N}/])(?:\d{2}|\d{4})\/\d{1,7}(?!\p{N})/u,
  // saksnr 123, sak nr. 2024/12, saksnummer: 44
  /\bsaks?\s*-?\s*(?:nr|nummer|no)\b\.?\s*:?\s*\d/iu,
  // Vår ref. 23/4455, Deres referanse: 12345
  /\b(?:vår|var|deres)\s+ref(?:eranse)?\b\.?\s*:?\s*\S*\d/iu,
];

/** The korrespondanseparttype (metadatakatalog spelling) that names who the message is for. */
export const RECIPIENT_KORRESPONDANSEPARTTYPE = 'Mottaker';

// "Unntatt offentlighet, jf. offl. § 13" says why the title is withheld, not what the message is about.
const LEGAL_CITATION = /[\s,]*(?:\(|\b)(?:jf|jfr|iht|i henhold til|etter|hjemmel)\b\.?[^§]*§.*$/iu;

function normaliseTitle(title: string): string {
  return trimXmlWhitespace(title)
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/^["'«»“”‘’]+|["'«»“”‘’]+$/g, '')
    .trim();
}

/** True when a public title is a placeholder rather than a description. */
export function isPlaceholderTitle(title: string): boolean {
  const t = normaliseTitle(title);
  if (t === '') return true;
  // Only symbols and punctuation (***, ..., ---, ?), or x's.
  if (/^[\p{P}\p{S}\s]+$/u.test(t) || /^x+$/.test(t)) return true;
  if (PLACEHOLDER_TITLES.has(t)) return true;
  const withoutTrailing = t.replace(/[.:;,!]+$/, '').trim();
  if (PLACEHOLDER_TITLES.has(withoutTrailing)) return true;
  const withoutCitation = withoutTrailing.replace(LEGAL_CITATION, '').trim();
  return withoutCitation === '' || PLACEHOLDER_TITLES.has(withoutCitation);
}

export function containsCaseReference(text: string): boolean {
  return CASE_REFERENCE_PATTERNS.some((p) => p.test(text));
}

export interface ConfidentialityOutcome {
  readonly errors: ProblemItem[];
  readonly warnings: ProblemItem[];
}

export function checkConfidentiality(
  parts: ArkivmeldingParts,
  source: SourceText,
  recipientRule: 'error' | 'warning',
): ConfidentialityOutcome {
  const errors: ProblemItem[] = [];
  const warnings: ProblemItem[] = [];
  const { saksmappe, journalpost } = parts;
  if (!saksmappe || !journalpost) return { errors, warnings };
  const jp = journalpost.el;
  const problem = source.problem.bind(source);

  const offentligTittelEl = firstChild(jp, 'offentligTittel');
  const offentligTittel = offentligTittelEl
    ? trimXmlWhitespace(elementText(offentligTittelEl, source))
    : null;
  const titlePath = `${journalpost.path}/offentligTittel`;
  if (!offentligTittelEl || offentligTittel === null) {
    errors.push(
      problem(
        PROBLEM_CODES.missingOffentligTittel,
        'Confidential post needs a public title: add offentligTittel to the journalpost (after tittel) saying what the message concerns, without confidential details; it is all the recipient sees before opening the message.',
        titlePath,
        jp.pos,
      ),
    );
  } else if (offentligTittel === '') {
    errors.push(
      problem(
        PROBLEM_CODES.emptyOffentligTittel,
        'The journalpost offentligTittel is empty; write a public title saying what the message concerns, without confidential details.',
        titlePath,
        offentligTittelEl.pos,
        elementText(offentligTittelEl, source),
      ),
    );
  } else if (isPlaceholderTitle(offentligTittel)) {
    errors.push(
      problem(
        PROBLEM_CODES.placeholderOffentligTittel,
        `The journalpost offentligTittel '${offentligTittel}' is a placeholder; write a public title saying what the message concerns and who should read it, without confidential details (for example "Vedtak i sak 2024/1234 – til barnevernsleder").`,
        titlePath,
        offentligTittelEl.pos,
        offentligTittel,
      ),
    );
  }

  const hasCaseNumber =
    childValue(saksmappe.el, 'saksaar', source) !== null &&
    childValue(saksmappe.el, 'sakssekvensnummer', source) !== null;
  const hasRecipient = childElements(jp, 'korrespondansepart').some((part) => {
    const type = firstChild(part, 'korrespondanseparttype');
    const name = childValue(part, 'korrespondansepartNavn', source);
    return (
      type !== undefined &&
      elementText(type, source) === RECIPIENT_KORRESPONDANSEPARTTYPE &&
      name !== null &&
      !isPlaceholderTitle(name)
    );
  });
  const titleHasCase = offentligTittel !== null && containsCaseReference(offentligTittel);
  if (!hasCaseNumber && !hasRecipient && !titleHasCase) {
    const item = problem(
      PROBLEM_CODES.missingCaseOrRecipient,
      `The recipient cannot tell which case or reader this confidential message is for; add saksaar and sakssekvensnummer to the saksmappe, or a korrespondansepart with korrespondanseparttype '${RECIPIENT_KORRESPONDANSEPARTTYPE}' and the reader's name in korrespondansepartNavn, or put the case number (for example 2024/1234) in offentligTittel.`,
      journalpost.path,
      jp.pos,
    );
    (recipientRule === 'error' ? errors : warnings).push(item);
  }
  return { errors, warnings };
}
