/** The arkivmelding corpus: our own documents under test/fixtures/arkivmelding and what each must give. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ArkivmeldingOptions, ArkivmeldingSummary } from '../../../../src/domain/arkivmelding/index.js';

export const FIXTURES_DIR = fileURLToPath(new URL('../../../fixtures/arkivmelding/', import.meta.url));

/** The service defaults (ARKIVMELDING_MAX_SIZE=10MB, ARKIVMELDING_MAX_DEPTH=40) and the confidential process. */
export const DEFAULT_OPTIONS: ArkivmeldingOptions = {
  maxBytes: 10_000_000,
  maxDepth: 40,
  confidential: true,
  recipientRule: 'error',
};

/** Why we refuse a document that the schema alone (and xmllint) may accept. */
export type Policy = 'unsafe' | 'size' | 'encoding' | 'namespace';

export interface CorpusEntry {
  /** File name under FIXTURES_DIR, or `generated:<name>` for documents built at test time. */
  file: string;
  description: string;
  /** What validateArkivmelding answers with the (default or given) options. */
  valid: boolean;
  /**
   * xmllint's verdict against the arkivmelding schema. For documents with a `policy` we refuse regardless, and
   * this only records what xmllint says.
   */
  schemaValid: boolean;
  code?: string;
  problemCode?: string;
  /** A fragment that the path of some problem contains. */
  path?: string;
  line?: number;
  options?: Partial<ArkivmeldingOptions>;
  warnings?: string[];
  summary?: Partial<ArkivmeldingSummary>;
  policy?: Policy;
  generate?: 'deep-nesting' | 'fifty-megabytes';
  problemCount?: number;
  allProblemCodes?: string[];
}

export function loadCorpus(): CorpusEntry[] {
  return JSON.parse(readFileSync(`${FIXTURES_DIR}corpus.json`, 'utf8')) as CorpusEntry[];
}

export function fixture(file: string): Buffer {
  return readFileSync(`${FIXTURES_DIR}${file}`);
}

const INSERT_BEFORE = '      <journalposttype>';

function withMetadata(open: string, repeatedBody: Buffer | string, close: string): Buffer {
  const text = fixture('valid-minimal.xml').toString('utf8');
  const at = text.indexOf(INSERT_BEFORE);
  return Buffer.concat([
    Buffer.from(`${text.slice(0, at)}      <virksomhetsspesifikkeMetadata>${open}`),
    typeof repeatedBody === 'string' ? Buffer.from(repeatedBody) : repeatedBody,
    Buffer.from(`${close}</virksomhetsspesifikkeMetadata>\n${text.slice(at)}`),
  ]);
}

/** A valid document except that `levels` elements are nested inside virksomhetsspesifikkeMetadata. */
export function deepNestingDocument(levels = 10_000): Buffer {
  return withMetadata('<n>'.repeat(levels), '', '</n>'.repeat(levels));
}

/** A schema-valid document of about `bytes` bytes, its bulk in virksomhetsspesifikkeMetadata. */
export function largeDocument(bytes = 50 * 1024 * 1024): Buffer {
  const line = Buffer.from('<linje>Fyllinnhold for en stor arkivmelding, ikke relevant for saken.</linje>\n');
  const count = Math.ceil(bytes / line.length);
  const body = Buffer.alloc(line.length * count);
  for (let k = 0; k < count; k++) line.copy(body, k * line.length);
  return withMetadata('', body, '');
}

export function corpusDocument(entry: CorpusEntry): Buffer {
  if (entry.generate === 'deep-nesting') return deepNestingDocument();
  if (entry.generate === 'fifty-megabytes') return largeDocument();
  return fixture(entry.file);
}

export function optionsFor(entry: CorpusEntry): ArkivmeldingOptions {
  return { ...DEFAULT_OPTIONS, ...entry.options };
}
