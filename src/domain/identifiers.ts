/**
 * Partner identifiers as the SBD carries them. Only the form is checked, not a mod-11 check digit:
 * the test environment's synthetic organisation numbers fail mod-11 and the reference accepts them.
 */
export const ISO6523_AUTHORITY = 'iso6523-actorid-upis';
/** ICD codes for Norwegian organisation numbers (0192 today, 9908 in older messages). */
const NORWEGIAN_ICDS = new Set(['0192', '9908']);

export interface OrgIdentifier {
  icd: string;
  /** The organisation number (9 digits). */
  orgnr: string;
  /** On-behalf-of organisation number, if any. */
  part?: string;
}

const ISO6523 = /^(\d{4}):(\d{9})(?::(\d{9}))?$/;

export function parseOrgIdentifier(value: string): OrgIdentifier | null {
  if (/^\d{9}$/.test(value)) return { icd: '0192', orgnr: value };
  const m = ISO6523.exec(value);
  if (!m || !NORWEGIAN_ICDS.has(m[1]!)) return null;
  return m[3] ? { icd: m[1]!, orgnr: m[2]!, part: m[3] } : { icd: m[1]!, orgnr: m[2]! };
}

export const IDENTIFIER_FORM_HINT =
  'must be 0192:<9-digit organisation number>, a bare 9-digit organisation number, or 0192:<orgnr>:<on-behalf-of orgnr>';

/** Full identifier as conversations show it: 0192:orgnr[:part]. */
export function fullIdentifier(id: OrgIdentifier): string {
  return id.part ? `${id.icd}:${id.orgnr}:${id.part}` : `${id.icd}:${id.orgnr}`;
}

/** The organisation a conversation names as sender: the on-behalf-of party when present. */
export function senderIdentifierOf(id: OrgIdentifier): string {
  return id.part ?? id.orgnr;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
