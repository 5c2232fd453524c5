import { describe, expect, test } from 'vitest';
import { validateArkivmelding, validateArkivmeldingSchema } from '../../../src/domain/arkivmelding/index.js';
import { isPlainFilename } from '../../../src/domain/sbd.js';
import { type CorpusEntry, corpusDocument, loadCorpus, optionsFor } from './support/corpus.js';

const corpus = loadCorpus();

describe('arkivmelding corpus', () => {
  test('has at least 60 documents, valid and invalid', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60);
    expect(corpus.filter((e) => e.valid).length).toBeGreaterThanOrEqual(10);
    expect(new Set(corpus.map((e) => e.file)).size).toBe(corpus.length);
  });

  test.each(corpus.map((e) => [e.file, e] as const))('%s', (_file, entry: CorpusEntry) => {
    const xml = corpusDocument(entry);
    const result = validateArkivmelding(xml, optionsFor(entry));
    if (entry.valid) {
      if (!result.ok) expect.fail(`expected valid, got ${result.code}: ${JSON.stringify(result.problems)}`);
      expect(result.warnings.map((w) => w.code).sort()).toEqual([...(entry.warnings ?? [])].sort());
      expect(result.summary).toMatchObject(entry.summary ?? {});
      // A valid eFormidling arkivmelding references at least one file, each by a plain name.
      expect(result.summary.referencedFiles.length).toBeGreaterThan(0);
      for (const f of result.summary.referencedFiles) expect(isPlainFilename(f), f).toBe(true);
    } else {
      if (result.ok) expect.fail(`expected ${entry.code}, got ok`);
      expect(result.code).toBe(entry.code);
      expect(result.message).toMatch(/\S.*[.;]$/);
      expect(result.problems.length).toBeGreaterThan(0);
      const codes = result.problems.map((p) => p.code);
      expect(codes).toContain(entry.problemCode);
      if (entry.path)
        expect(result.problems.map((p) => p.path ?? '')).toContainEqual(expect.stringContaining(entry.path));
      if (entry.line) expect(result.problems.map((p) => p.line)).toContain(entry.line);
      if (entry.problemCount) expect(result.problems).toHaveLength(entry.problemCount);
      if (entry.allProblemCodes)
        expect([...new Set(codes)].sort()).toEqual([...entry.allProblemCodes].sort());
      for (const p of result.problems) {
        expect(p.message).toMatch(/^\S.*\.$/s);
        if (p.line !== undefined) expect(p.line).toBeGreaterThanOrEqual(1);
        if (p.column !== undefined) expect(p.column).toBeGreaterThanOrEqual(1);
        if (p.path !== undefined) expect(p.path).toMatch(/^(\/[A-Za-z][\w.-]*(\[\d+\])?)+$/);
      }
    }
    // The schema verdict alone: what xmllint says, except where our policy refuses first.
    const schema = validateArkivmeldingSchema(xml, optionsFor(entry));
    expect(schema.valid).toBe(entry.policy ? false : entry.schemaValid);
    if (entry.policy) expect(schema.refusedCode).toBe(entry.code);
  });
});
