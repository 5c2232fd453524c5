import { describe, expect, test } from 'vitest';
import type { SchemaDefinition } from '../../../schemas/arkivmelding/schema.js';
import { validateAgainstSchema } from '../../../src/domain/arkivmelding/schema-validator.js';
import { BUILTIN_TYPES } from '../../../src/domain/arkivmelding/simple-types.js';
import { readXml } from '../../../src/domain/arkivmelding/xml-reader.js';

const check = (type: string, value: string) => BUILTIN_TYPES[type]?.check?.(value) ?? null;
const accepts = (type: string, value: string) => check(type, value) === null;

describe('xs:dateTime, as libxml2 reads it', () => {
  test.each([
    '2025-03-14T09:12:44',
    '2025-03-14T09:12:44Z',
    '2025-03-14T09:12:44.5+01:00',
    '2025-03-14T09:12:44.000000000001-14:00',
    '2024-02-29T00:00:00',
    '2000-02-29T12:00:00',
    '2024-12-31T24:00:00',
    '2024-12-31T24:00:00.000',
    '-0004-02-29T10:00:00',
    '12024-01-01T10:00:00',
  ])('accepts %s', (v) => expect(accepts('dateTime', v)).toBe(true));

  test.each([
    '2025-03-14 09:12:44',
    ' 2025-03-14T09:12:44',
    '2025-03-14T09:12:44 ',
    '2025-03-14',
    '2023-02-29T00:00:00',
    '1900-02-29T00:00:00',
    '-0001-02-29T00:00:00',
    '0000-01-01T00:00:00',
    '02024-01-01T00:00:00',
    '+2024-01-01T00:00:00',
    '2024-01-01T24:00:01',
    '2024-01-01T24:00:00.5',
    '2024-01-01T23:60:00',
    '2024-01-01T23:59:60',
    '2024-01-01T10:00:00.',
    '2024-01-01T10:00:00,5',
    '2024-01-01T10:00:00+14:01',
    '2024-01-01T10:00:00+01',
    '2024-01-01T10:00:00z',
    '2024-01-01t10:00:00',
    '２０２４-01-01T10:00:00',
  ])('refuses %j', (v) => expect(check('dateTime', v)).toMatchObject({ code: 'InvalidDateTime' }));
});

describe('xs:date', () => {
  test.each([
    '2025-03-14',
    '2024-02-29Z',
    '2024-01-01+14:00',
    '2024-01-01-00:00',
    '-2024-02-29',
    '99999-12-31',
  ])('accepts %s', (v) => expect(accepts('date', v)).toBe(true));
  test.each([
    '14.03.2025',
    '2025-02-30',
    '2025-04-31',
    '2025-1-01',
    '2024-01-01T',
    '20240101',
    '2024-01-01 ',
    '-2023-02-29',
  ])('refuses %j', (v) => expect(check('date', v)).toMatchObject({ code: 'InvalidDate' }));
});

describe('integers', () => {
  test('xs:int: a 32-bit range, leading zeros and signs allowed, no whitespace', () => {
    for (const v of [
      '0',
      '-0',
      '+0',
      '-2147483648',
      '2147483647',
      '+00002147483647',
      '0000000000000000000000000000001',
    ]) {
      expect(accepts('int', v), v).toBe(true);
    }
    expect(check('int', '2147483648')).toMatchObject({ code: 'IntegerOutOfRange' });
    expect(check('int', '-2147483649')).toMatchObject({ code: 'IntegerOutOfRange' });
    for (const v of [' 1', '1 ', '', '1.0', 'en', '+', '1e3'])
      expect(check('int', v), v).toMatchObject({ code: 'InvalidInteger' });
  });

  test('xs:integer: any whole number of up to 24 significant digits; whitespace is trimmed by the caller', () => {
    expect(BUILTIN_TYPES.integer?.trims).toBe(true);
    expect(BUILTIN_TYPES.int?.trims).toBe(false);
    expect(BUILTIN_TYPES.date?.trims).toBe(false);
    expect(accepts('integer', '123456789012345678901234')).toBe(true);
    expect(accepts('integer', '-000000000000000000000000000001234')).toBe(true);
    expect(check('integer', '1234567890123456789012345')).toMatchObject({ code: 'IntegerOutOfRange' });
    expect(check('integer', '20 24')).toMatchObject({ code: 'InvalidInteger' });
  });
});

describe('string facets the arkivmelding schema does not use', () => {
  // arkivmelding.xsd has no length facets; this small schema (type names reuse the am: prefix) shows they work.
  const schema: SchemaDefinition = {
    targetNamespace: 'urn:test',
    globalElements: { rot: 'am:rot' },
    complexTypes: {
      'am:rot': {
        content: {
          kind: 'sequence',
          min: 1,
          max: 1,
          particles: [
            { kind: 'element', name: 'kort', type: 'am:kort', min: 1, max: 1 },
            { kind: 'element', name: 'kode', type: 'am:kode', min: 1, max: 1 },
          ],
        },
      },
    },
    simpleTypes: {
      'am:kort': { restricts: 'xs:string', minLength: 2, maxLength: 5 },
      'am:kode': { restricts: 'xs:string', length: 3, pattern: '[A-Z]+' },
    },
  };
  const problems = (kort: string, kode: string) => {
    const read = readXml(
      Buffer.from(`<rot xmlns="urn:test"><kort>${kort}</kort><kode>${kode}</kode></rot>`),
      {
        maxBytes: 10_000,
        maxDepth: 10,
      },
    );
    if (!read.ok) throw new Error(read.message);
    return validateAgainstSchema(read.root, read.source, schema).map((p) => [p.path, p.code]);
  };
  test('minLength, maxLength and length count characters, not bytes', () => {
    expect(problems('ab', 'ABC')).toEqual([]);
    expect(problems('æøåæø', 'XYZ')).toEqual([]);
    expect(problems('a', 'ABC')).toEqual([['/rot/kort', 'LengthViolation']]);
    expect(problems('abcdef', 'ABC')).toEqual([['/rot/kort', 'LengthViolation']]);
    expect(problems('abc', 'ABCD')).toEqual([['/rot/kode', 'LengthViolation']]);
    expect(problems('abc', 'abc')).toEqual([['/rot/kode', 'PatternMismatch']]);
  });
});
