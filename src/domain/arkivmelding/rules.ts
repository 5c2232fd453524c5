/**
 * eFormidling's requirements on top of the schema, and the summary the service keeps: the first mappe of
 * xsi:type saksmappe, its first basisregistrering of xsi:type journalpost, and the files that journalpost's
 * dokumentbeskrivelse elements reference (dokumentobjekt elements elsewhere do not count).
 */
import { ARKIVMELDING_NS } from '../../../schemas/arkivmelding/schema.js';
import type { ProblemItem } from '../errors.js';
import { PROBLEM_CODES } from './codes.js';
import { xsiTypeOf } from './schema-validator.js';
import { trimXmlWhitespace } from './simple-types.js';
import type { SourceText } from './source-text.js';
import { elementText, type XmlElement } from './xml-reader.js';

export interface ArkivmeldingSummary {
  /** journalpost offentligTittel, falling back to the journalpost tittel. */
  publicTitle: string | null;
  /**
   * The journalpost tittel: confidential, for the Altinn correspondence only. Kept with the summary, which is sealed
   * wherever it is stored, so the send needs neither the file nor a second parse.
   */
  confidentialTitle?: string | null;
  /** Every dokumentobjekt/referanseDokumentfil under the journalpost's dokumentbeskrivelse, in dokumentnummer order. */
  referencedFiles: string[];
  saksmappeSystemId: string | null;
  journalpostnummer: string | null;
  /** "saksaar/sakssekvensnummer" when both are present. */
  caseNumber: string | null;
  /** `${saksmappeSystemId}-${journalpostnummer}` when journalpostnummer is present. */
  messageReference: string | null;
  antallFiler: number;
}

/** An element with the path it was found at. */
export interface Located {
  readonly el: XmlElement;
  readonly path: string;
}

export interface ArkivmeldingParts {
  readonly root: Located;
  readonly saksmappe: Located | null;
  readonly journalpost: Located | null;
}

/** Longest file name we accept, as for uploaded files. */
const MAX_FILENAME_LENGTH = 255;

export function childElements(el: XmlElement, local: string): XmlElement[] {
  return el.children.filter((c) => c.local === local && c.ns === ARKIVMELDING_NS);
}

export function firstChild(el: XmlElement, local: string): XmlElement | undefined {
  return el.children.find((c) => c.local === local && c.ns === ARKIVMELDING_NS);
}

/** Trimmed text of the first child called `local`; null when absent or blank. */
export function childValue(el: XmlElement | undefined, local: string, source: SourceText): string | null {
  const child = el && firstChild(el, local);
  if (!child) return null;
  const v = trimXmlWhitespace(elementText(child, source));
  return v === '' ? null : v;
}

function hasXsiType(el: XmlElement, local: string): boolean {
  const t = xsiTypeOf(el);
  return t !== null && t.ns === ARKIVMELDING_NS && t.local === local;
}

/** Finds saksmappe and journalpost the way the reference integration point does; null parts when absent. */
export function locateParts(root: XmlElement): ArkivmeldingParts | null {
  if (root.local !== 'arkivmelding' || root.ns !== ARKIVMELDING_NS) return null;
  const rootLocated = { el: root, path: '/arkivmelding' };
  const mapper = childElements(root, 'mappe');
  const saksmappeIndex = mapper.findIndex((m) => hasXsiType(m, 'saksmappe'));
  const saksmappeEl = mapper[saksmappeIndex];
  if (!saksmappeEl) return { root: rootLocated, saksmappe: null, journalpost: null };
  const saksmappe = { el: saksmappeEl, path: `/arkivmelding/mappe[${saksmappeIndex + 1}]` };
  const registreringer = childElements(saksmappeEl, 'basisregistrering');
  const journalpostIndex = registreringer.findIndex((r) => hasXsiType(r, 'journalpost'));
  const journalpostEl = registreringer[journalpostIndex];
  const journalpost = journalpostEl
    ? { el: journalpostEl, path: `${saksmappe.path}/basisregistrering[${journalpostIndex + 1}]` }
    : null;
  return { root: rootLocated, saksmappe, journalpost };
}

export interface EformidlingOutcome {
  readonly parts: ArkivmeldingParts | null;
  readonly summary: ArkivmeldingSummary | null;
  readonly errors: ProblemItem[];
  readonly warnings: ProblemItem[];
}

/** Why a referenced file name cannot be a plain uploaded file name, or null when it can. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what plain names exclude
const PLAIN_NAME_RE = /^[^/\\:\u0000-\u001f\u007f]*[^/\\:\u0000-\u001f\u007f .][^/\\:\u0000-\u001f\u007f]*$/;

export function filenameProblem(name: string): string | null {
  // The common case: a short name with no forbidden character that is not just dots or spaces.
  if (name.length <= MAX_FILENAME_LENGTH && PLAIN_NAME_RE.test(name)) return null;
  if (name === '') return 'it is empty';
  if (trimXmlWhitespace(name) === '') return 'it is only whitespace';
  if (name === '.' || name === '..') return `"${name}" is not a file name`;
  if (/[/\\]/.test(name)) return 'it contains a path separator (/ or \\)';
  if (name.includes(':')) return 'it contains ":"';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters (line breaks, tabs) are what we refuse
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'it contains control characters such as line breaks or tabs';
  if (name.length > MAX_FILENAME_LENGTH) return `it is longer than ${MAX_FILENAME_LENGTH} characters`;
  return null;
}

function dokumentnummerOf(el: XmlElement, source: SourceText): bigint | null {
  const v = childValue(el, 'dokumentnummer', source);
  return v !== null && /^[+-]?\d+$/.test(v) ? BigInt(v) : null;
}

export function applyEformidlingRules(root: XmlElement, source: SourceText): EformidlingOutcome {
  const errors: ProblemItem[] = [];
  const warnings: ProblemItem[] = [];
  const problem = source.problem.bind(source);
  const parts = locateParts(root);
  if (!parts) return { parts, summary: null, errors, warnings };
  const { saksmappe, journalpost } = parts;
  if (!saksmappe) {
    const topLevel = root.children.some((c) => c.local === 'registrering')
      ? 'it has registrering directly under arkivmelding'
      : childElements(root, 'mappe').length > 0
        ? 'no mappe has xsi:type="saksmappe"'
        : 'it has no mappe';
    errors.push(
      problem(
        PROBLEM_CODES.missingSaksmappe,
        `eFormidling requires a mappe with xsi:type="saksmappe" directly under arkivmelding, but ${topLevel}; put the journalpost in a saksmappe.`,
        '/arkivmelding',
        root.pos,
      ),
    );
    return { parts, summary: null, errors, warnings };
  }
  if (!journalpost) {
    errors.push(
      problem(
        PROBLEM_CODES.missingJournalpost,
        `eFormidling requires the saksmappe to hold a basisregistrering with xsi:type="journalpost"; add one (or set xsi:type="journalpost" on the basisregistrering).`,
        saksmappe.path,
        saksmappe.el.pos,
      ),
    );
    return { parts, summary: null, errors, warnings };
  }

  const beskrivelser = childElements(journalpost.el, 'dokumentbeskrivelse').map((el, i) => ({
    el,
    path: `${journalpost.path}/dokumentbeskrivelse[${i + 1}]`,
    nummer: dokumentnummerOf(el, source),
  }));
  // Stable sort: equal or missing dokumentnummer keep document order, missing ones last.
  beskrivelser.sort((a, b) => {
    if (a.nummer === null || b.nummer === null) return a.nummer === null ? (b.nummer === null ? 0 : 1) : -1;
    return a.nummer < b.nummer ? -1 : a.nummer > b.nummer ? 1 : 0;
  });
  const referencedFiles: string[] = [];
  const seenFiles = new Set<string>();
  for (const beskrivelse of beskrivelser) {
    childElements(beskrivelse.el, 'dokumentobjekt').forEach((objekt, i) => {
      const ref = firstChild(objekt, 'referanseDokumentfil');
      if (!ref) return;
      const name = elementText(ref, source);
      const path = `${beskrivelse.path}/dokumentobjekt[${i + 1}]/referanseDokumentfil`;
      const why = filenameProblem(name);
      if (why) {
        errors.push(
          problem(
            PROBLEM_CODES.invalidReferanseDokumentfil,
            `referanseDokumentfil must be the plain name of an uploaded file, but ${why}; write just the file name, such as vedtak.pdf.`,
            path,
            ref.textPos === -1 ? ref.pos : ref.textPos,
            name,
          ),
        );
      } else if (!seenFiles.has(name)) {
        seenFiles.add(name);
        referencedFiles.push(name);
      }
    });
  }
  const loose = childElements(journalpost.el, 'dokumentobjekt');
  if (loose.length > 0) {
    warnings.push(
      problem(
        PROBLEM_CODES.dokumentobjektIgnored,
        `${loose.length} dokumentobjekt directly under the journalpost ${loose.length === 1 ? 'is' : 'are'} ignored; eFormidling only sends files referenced from a dokumentobjekt inside its dokumentbeskrivelse.`,
        journalpost.path,
        loose[0]?.pos ?? journalpost.el.pos,
      ),
    );
  }

  const antallFilerEl = firstChild(root, 'antallFiler');
  const antallFilerText = antallFilerEl ? trimXmlWhitespace(elementText(antallFilerEl, source)) : '';
  const antallFiler = /^[+-]?\d+$/.test(antallFilerText) ? Number(antallFilerText) : Number.NaN;
  if (antallFilerEl && Number.isFinite(antallFiler) && antallFiler !== referencedFiles.length) {
    warnings.push(
      problem(
        PROBLEM_CODES.antallFilerMismatch,
        `antallFiler is ${antallFiler}, but the journalpost references ${referencedFiles.length} file${referencedFiles.length === 1 ? '' : 's'}; set antallFiler to ${referencedFiles.length} (arkivmelding.xml itself is not counted).`,
        '/arkivmelding/antallFiler',
        antallFilerEl.pos,
        antallFilerText,
      ),
    );
  }

  const saksmappeSystemId = childValue(saksmappe.el, 'systemID', source);
  const journalpostnummer = childValue(journalpost.el, 'journalpostnummer', source);
  const saksaar = childValue(saksmappe.el, 'saksaar', source);
  const sakssekvensnummer = childValue(saksmappe.el, 'sakssekvensnummer', source);
  const tittel = childValue(journalpost.el, 'tittel', source);
  const summary: ArkivmeldingSummary = {
    publicTitle: childValue(journalpost.el, 'offentligTittel', source) ?? tittel,
    confidentialTitle: tittel,
    referencedFiles,
    saksmappeSystemId,
    journalpostnummer,
    caseNumber: saksaar !== null && sakssekvensnummer !== null ? `${saksaar}/${sakssekvensnummer}` : null,
    messageReference:
      journalpostnummer !== null && saksmappeSystemId !== null
        ? `${saksmappeSystemId}-${journalpostnummer}`
        : null,
    antallFiler: Number.isFinite(antallFiler) ? antallFiler : 0,
  };
  return { parts, summary, errors, warnings };
}
