/**
 * arkivmelding.xml for eFormidling: safe reading, validation against the arkivmelding schema, eFormidling's
 * own rules and, for taushetsbelagt post, the confidentiality rules. Nothing here throws for client input.
 */
import type { ProblemItem } from '../errors.js';
import { ARKIVMELDING_CODES, PROBLEM_CODES } from './codes.js';
import { checkConfidentiality } from './confidentiality.js';
import { type ArkivmeldingSummary, applyEformidlingRules, childValue, locateParts } from './rules.js';
import { pathOfElements, validateAgainstSchema } from './schema-validator.js';
import { type ReadFailure, readXml } from './xml-reader.js';

export { ARKIVMELDING_CODES, PROBLEM_CODES } from './codes.js';
export {
  CASE_REFERENCE_PATTERNS,
  isPlaceholderTitle,
  PLACEHOLDER_TITLES,
  RECIPIENT_KORRESPONDANSEPARTTYPE,
} from './confidentiality.js';
export type { ArkivmeldingSummary } from './rules.js';

export interface ArkivmeldingOptions {
  /** Largest accepted document in bytes (the service default is 10 MB). */
  maxBytes: number;
  /** Deepest accepted element nesting (the service default is 40). */
  maxDepth: number;
  /** True when the SBD process is urn:no:difi:profile:arkivmelding:taushetsbelagt:ver1.0. */
  confidential: boolean;
  /** Whether "identifies the case or the reader" refuses the document or only warns. */
  recipientRule: 'error' | 'warning';
  /**
   * Told about a bug of ours (an exception inside the validator): the document is still refused with a 400,
   * but the error must be logged, and tests use this to see that it never happens.
   */
  onInternalError?: (err: unknown) => void;
}

export type ArkivmeldingResult =
  | { ok: true; summary: ArkivmeldingSummary; warnings: ProblemItem[] }
  | { ok: false; code: string; message: string; problems: ProblemItem[] };

export interface SchemaVerdict {
  readonly valid: boolean;
  /** Set when the document was refused before schema validation (size, encoding, safety, well-formedness). */
  readonly refusedCode?: string;
  readonly problems: ProblemItem[];
}

function readFailure(failure: ReadFailure): ArkivmeldingResult {
  return {
    ok: false,
    code: failure.code,
    message: failure.message,
    problems: [
      {
        ...(failure.openElements?.length ? { path: pathOfElements(failure.openElements) } : {}),
        ...(failure.line === undefined ? {} : { line: failure.line, column: failure.column }),
        code: failure.problemCode,
        message: failure.message,
        ...(failure.rejectedValue === undefined ? {} : { rejectedValue: failure.rejectedValue }),
      },
    ],
  };
}

const XSI_TYPE_PROBLEMS: ReadonlySet<string> = new Set([
  PROBLEM_CODES.unknownXsiType,
  PROBLEM_CODES.xsiTypeNotDerived,
  PROBLEM_CODES.missingXsiType,
]);

const count = (n: number) => `${n} problem${n === 1 ? '' : 's'}`;

/** Reads, validates and checks arkivmelding.xml; on success returns what the service keeps about it. */
export function validateArkivmelding(xml: Buffer, opts: ArkivmeldingOptions): ArkivmeldingResult {
  try {
    const read = readXml(xml, opts);
    if (!read.ok) return readFailure(read);
    const schemaProblems = validateAgainstSchema(read.root, read.source);
    const rules = applyEformidlingRules(read.root, read.source);
    const confidentiality =
      opts.confidential && rules.parts
        ? checkConfidentiality(rules.parts, read.source, opts.recipientRule)
        : { errors: [], warnings: [] };
    // A wrong or missing xsi:type is already reported; "no saksmappe/journalpost" would say it again.
    const xsiTypeReported = schemaProblems.some((p) => XSI_TYPE_PROBLEMS.has(p.code));
    const ruleErrors = xsiTypeReported
      ? rules.errors.filter(
          (p) => p.code !== PROBLEM_CODES.missingSaksmappe && p.code !== PROBLEM_CODES.missingJournalpost,
        )
      : rules.errors;
    const problems = [...schemaProblems, ...ruleErrors, ...confidentiality.errors];
    if (problems.length === 0 && rules.summary) {
      return { ok: true, summary: rules.summary, warnings: [...rules.warnings, ...confidentiality.warnings] };
    }
    if (schemaProblems.length > 0) {
      return {
        ok: false,
        code: ARKIVMELDING_CODES.invalid,
        message: `arkivmelding.xml does not follow the arkivmelding schema (${count(problems.length)}); see problems for what to change.`,
        problems,
      };
    }
    if (ruleErrors.length > 0) {
      return {
        ok: false,
        code: ARKIVMELDING_CODES.invalid,
        message: `arkivmelding.xml does not meet eFormidling's requirements (${count(problems.length)}); see problems for what to change.`,
        problems,
      };
    }
    return {
      ok: false,
      code: ARKIVMELDING_CODES.confidentiality,
      message: `arkivmelding.xml does not meet the requirements for confidential (taushetsbelagt) post (${count(problems.length)}); see problems for what to change.`,
      problems,
    };
  } catch (err) {
    // A bug of ours must still not turn a client's document into a 500, but it is reported, never hidden.
    opts.onInternalError?.(err);
    return {
      ok: false,
      code: ARKIVMELDING_CODES.invalid,
      message: 'arkivmelding.xml could not be validated; check that it is a well-formed arkivmelding.',
      problems: [
        { code: PROBLEM_CODES.validationFailed, message: 'arkivmelding.xml could not be validated.' },
      ],
    };
  }
}

/** Schema verdict only (no eFormidling or confidentiality rules), for comparing with other XSD validators. */
export function validateArkivmeldingSchema(
  xml: Buffer,
  opts: Pick<ArkivmeldingOptions, 'maxBytes' | 'maxDepth'>,
): SchemaVerdict {
  const read = readXml(xml, opts);
  if (!read.ok) {
    const failure = readFailure(read);
    return { valid: false, refusedCode: read.code, problems: failure.ok ? [] : failure.problems };
  }
  const problems = validateAgainstSchema(read.root, read.source);
  return { valid: problems.length === 0, problems };
}

/** At send: every referenced file was uploaded (every missing name is listed), and hoveddokument is one of them. */
export function checkArkivmeldingAgainstMessage(
  summary: ArkivmeldingSummary,
  message: { filenames: string[]; hoveddokument?: string | null },
): ProblemItem[] {
  const uploaded = new Set(message.filenames);
  const problems: ProblemItem[] = [];
  for (const name of new Set(summary.referencedFiles)) {
    if (uploaded.has(name)) continue;
    problems.push({
      field: 'referanseDokumentfil',
      code: PROBLEM_CODES.missingArkivmeldingFile,
      message: `arkivmelding.xml references the file '${name}', which has not been uploaded; upload it or remove the reference.`,
      rejectedValue: name,
    });
  }
  const hoveddokument = message.hoveddokument;
  if (hoveddokument && !summary.referencedFiles.includes(hoveddokument)) {
    problems.push({
      field: 'arkivmelding.hoveddokument',
      code: PROBLEM_CODES.hoveddokumentNotReferenced,
      message: `hoveddokument '${hoveddokument}' is not one of the files arkivmelding.xml references (${summary.referencedFiles.join(', ') || 'none'}); name one of them, or leave hoveddokument out.`,
      rejectedValue: hoveddokument,
    });
  }
  return problems;
}

/** For the Altinn adapter: the non-public journalpost tittel, read from the stored file at send time. */
export function readConfidentialTitle(
  xml: Buffer,
  opts: Pick<ArkivmeldingOptions, 'maxBytes' | 'maxDepth'>,
): string | null {
  try {
    const read = readXml(xml, opts);
    if (!read.ok) return null;
    const journalpost = locateParts(read.root)?.journalpost;
    return journalpost ? childValue(journalpost.el, 'tittel', read.source) : null;
  } catch {
    return null;
  }
}
