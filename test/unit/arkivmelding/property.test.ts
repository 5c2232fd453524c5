import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { validateArkivmelding, validateArkivmeldingSchema } from '../../../src/domain/arkivmelding/index.js';
import { DEFAULT_OPTIONS } from './support/corpus.js';
import {
  eformidlingDocumentArb,
  mutatedDocumentArb,
  schemaDocumentArb,
  serialize,
  styleArb,
} from './support/generator.js';

const RUNS = 150;

describe('generated arkivmelding documents', () => {
  test('every generated eFormidling document is accepted for confidential post, with the files in dokumentnummer order', () => {
    fc.assert(
      fc.property(eformidlingDocumentArb, styleArb, (doc, style) => {
        const xml = serialize(doc.root, style);
        const result = validateArkivmelding(Buffer.from(xml), DEFAULT_OPTIONS);
        if (!result.ok)
          throw new Error(`${result.code}: ${JSON.stringify(result.problems.slice(0, 3))}\n${xml}`);
        expect(result.summary.referencedFiles).toEqual(doc.referencedFiles);
        expect(result.summary.antallFiler).toBe(doc.referencedFiles.length);
        expect(result.warnings.filter((w) => w.code === 'AntallFilerMismatch')).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  test('every generated schema-valid document passes the schema check', () => {
    fc.assert(
      fc.property(schemaDocumentArb, styleArb, (doc, style) => {
        const xml = serialize(doc.root, style);
        const verdict = validateArkivmeldingSchema(Buffer.from(xml), DEFAULT_OPTIONS);
        if (!verdict.valid) throw new Error(`${JSON.stringify(verdict.problems.slice(0, 3))}\n${xml}`);
      }),
      { numRuns: RUNS },
    );
  });

  test('a single breaking mutation (drop, swap, corrupt, bad code value, unknown element) is always refused', () => {
    fc.assert(
      fc.property(mutatedDocumentArb(eformidlingDocumentArb), ({ mutation, xml }) => {
        const verdict = validateArkivmeldingSchema(Buffer.from(xml), DEFAULT_OPTIONS);
        if (verdict.valid) throw new Error(`accepted after: ${mutation.description}\n${xml}`);
        const result = validateArkivmelding(Buffer.from(xml), DEFAULT_OPTIONS);
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.code).toBe('InvalidArkivmeldingException');
          for (const p of result.problems) expect(p.line, p.message).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: RUNS * 2 },
    );
  });

  test('mutations of the wider schema documents are refused too', () => {
    fc.assert(
      fc.property(mutatedDocumentArb(schemaDocumentArb), ({ mutation, xml }) => {
        const verdict = validateArkivmeldingSchema(Buffer.from(xml), DEFAULT_OPTIONS);
        if (verdict.valid) throw new Error(`accepted after: ${mutation.description}\n${xml}`);
      }),
      { numRuns: RUNS },
    );
  });

  test('arbitrary bytes never throw and always get a code', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc.string({ maxLength: 300 }).map((s) => Buffer.from(s)),
          eformidlingDocumentArb.chain((doc) =>
            fc
              .tuple(fc.constant(serialize(doc.root)), fc.nat(), fc.nat({ max: 40 }))
              .map(([xml, at, cut]) => {
                const i = at % xml.length;
                return Buffer.from(xml.slice(0, i) + xml.slice(i + cut));
              }),
          ),
        ),
        (bytes) => {
          // The validator turns its own exceptions into a refusal; onInternalError lets the property see them.
          const result = validateArkivmelding(bytes, {
            ...DEFAULT_OPTIONS,
            onInternalError: (err) => {
              throw err;
            },
          });
          if (!result.ok) {
            expect(result.code).toMatch(/Exception$/);
            expect(result.problems.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  test('an exception inside the validator is reported to onInternalError and still refused', () => {
    const seen: unknown[] = [];
    const result = validateArkivmelding(undefined as unknown as Buffer, {
      ...DEFAULT_OPTIONS,
      onInternalError: (err) => seen.push(err),
    });
    expect(result.ok).toBe(false);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(TypeError);
  });
});
