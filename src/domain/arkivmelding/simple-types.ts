/**
 * Lexical checks for the XML Schema built-in types arkivmelding uses (and the few more xsi:type may name).
 *
 * Whitespace follows libxml2, which our validator must agree with: xs:integer, xs:decimal and xs:boolean
 * (and types restricting them) accept surrounding whitespace; the other built-ins, including xs:int and the
 * date types, accept none.
 */
import { PROBLEM_CODES } from './codes.js';

export interface ValueProblem {
  readonly code: string;
  readonly message: string;
}

export interface BuiltinType {
  /** Local name of the base type in the XML Schema namespace; null for xs:anyType. */
  readonly base: string | null;
  readonly trims: boolean;
  readonly check?: (value: string) => ValueProblem | null;
}

const INTEGER_RE = /^[+-]?\d+$/;
const DECIMAL_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
/** libxml2 keeps integers in a fixed-width decimal; more significant digits than this are refused. */
const MAX_INTEGER_DIGITS = 24;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** Value of the `n` digits at `at`, or -1 when they are not all digits. */
function digitsAt(v: string, at: number, n: number): number {
  let x = 0;
  for (let k = at; k < at + n; k++) {
    const c = v.charCodeAt(k);
    if (!isDigit(c)) return -1;
    x = x * 10 + (c - 0x30);
  }
  return x;
}

function isLeapYear(v: string, from: number, to: number, negative: boolean): boolean {
  // Only the last four digits matter for divisibility by 4, 100 and 400.
  let y = digitsAt(v, Math.max(from, to - 4), Math.min(4, to - from));
  if (negative) y = -y;
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/**
 * Reads the `-?YYYY-MM-DD` at the start of `v` (a year of four or more digits, no superfluous leading zero,
 * not zero, a real calendar day) and returns the offset after it, or -1.
 */
function readDate(v: string): number {
  let i = 0;
  const negative = v.charCodeAt(0) === 0x2d;
  if (negative) i = 1;
  const yearStart = i;
  let allZero = true;
  while (isDigit(v.charCodeAt(i))) {
    if (v.charCodeAt(i) !== 0x30) allZero = false;
    i++;
  }
  const yearLength = i - yearStart;
  if (yearLength < 4 || allZero || (yearLength > 4 && v.charCodeAt(yearStart) === 0x30)) return -1;
  if (v.charCodeAt(i) !== 0x2d || v.charCodeAt(i + 3) !== 0x2d) return -1;
  const month = digitsAt(v, i + 1, 2);
  const day = digitsAt(v, i + 4, 2);
  if (month < 1 || month > 12 || day < 1) return -1;
  const max = month === 2 && isLeapYear(v, yearStart, i, negative) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  return day <= max ? i + 6 : -1;
}

/** True when `v` from `at` is empty, Z, or a timezone offset of at most ±14:00. */
function isTimezoneOrEnd(v: string, at: number): boolean {
  if (at === v.length) return true;
  const c = v.charCodeAt(at);
  if (c === 0x5a) return at + 1 === v.length;
  if ((c !== 0x2b && c !== 0x2d) || at + 6 !== v.length || v.charCodeAt(at + 3) !== 0x3a) return false;
  const hh = digitsAt(v, at + 1, 2);
  const mm = digitsAt(v, at + 4, 2);
  return hh >= 0 && mm >= 0 && mm <= 59 && (hh < 14 || (hh === 14 && mm === 0));
}

function checkDate(value: string): ValueProblem | null {
  const end = readDate(value);
  if (end !== -1 && isTimezoneOrEnd(value, end)) return null;
  return {
    code: PROBLEM_CODES.invalidDate,
    message: `'${value}' is not a valid xs:date; write a real calendar date as YYYY-MM-DD (for example 2024-03-15), optionally followed by Z or +01:00, with no spaces.`,
  };
}

function isValidDateTime(v: string): boolean {
  const t = readDate(v);
  if (t === -1 || v.charCodeAt(t) !== 0x54 || v.charCodeAt(t + 3) !== 0x3a || v.charCodeAt(t + 6) !== 0x3a) {
    return false;
  }
  const hh = digitsAt(v, t + 1, 2);
  const mi = digitsAt(v, t + 4, 2);
  const ss = digitsAt(v, t + 7, 2);
  if (hh < 0 || mi < 0 || ss < 0 || mi > 59 || ss > 59) return false;
  let i = t + 9;
  let fractionIsZero = true;
  if (v.charCodeAt(i) === 0x2e) {
    const fractionStart = ++i;
    while (isDigit(v.charCodeAt(i))) {
      if (v.charCodeAt(i) !== 0x30) fractionIsZero = false;
      i++;
    }
    if (i === fractionStart) return false;
  }
  // 24:00:00 is allowed as the end of a day.
  if (hh > 23 && !(hh === 24 && mi === 0 && ss === 0 && fractionIsZero)) return false;
  return isTimezoneOrEnd(v, i);
}

function checkDateTime(value: string): ValueProblem | null {
  if (isValidDateTime(value)) return null;
  return {
    code: PROBLEM_CODES.invalidDateTime,
    message: `'${value}' is not a valid xs:dateTime; write it as YYYY-MM-DDThh:mm:ss (for example 2024-03-15T09:30:00), optionally with fractions of a second and Z or +01:00, with no spaces.`,
  };
}

function invalidInteger(value: string, typeName: string): ValueProblem {
  return {
    code: PROBLEM_CODES.invalidInteger,
    message: `'${value}' is not a valid ${typeName}; write a whole number using the digits 0-9 only (an optional leading + or -), with no decimals or spaces.`,
  };
}

/** Integer check with optional inclusive bounds; `typeName` names the type in messages. */
function integerIn(typeName: string, min?: bigint, max?: bigint) {
  return (value: string): ValueProblem | null => {
    if (!INTEGER_RE.test(value)) return invalidInteger(value, typeName);
    if (value.length > MAX_INTEGER_DIGITS && value.replace(/^[+-]?0*/, '').length > MAX_INTEGER_DIGITS) {
      return {
        code: PROBLEM_CODES.integerOutOfRange,
        message: `'${value}' has more than ${MAX_INTEGER_DIGITS} digits; use a smaller number.`,
      };
    }
    if (min === undefined && max === undefined) return null;
    const n = BigInt(value);
    if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
      const range = `${min ?? '-∞'} to ${max ?? '∞'}`;
      return {
        code: PROBLEM_CODES.integerOutOfRange,
        message: `'${value}' is outside the range of ${typeName} (${range}); use a number in that range.`,
      };
    }
    return null;
  };
}

const pow2 = (n: number) => 2n ** BigInt(n);

/** The built-in types we can validate, by local name in the XML Schema namespace. */
export const BUILTIN_TYPES: Readonly<Record<string, BuiltinType>> = {
  anyType: { base: null, trims: false },
  anySimpleType: { base: 'anyType', trims: false },
  string: { base: 'anySimpleType', trims: false },
  normalizedString: { base: 'string', trims: false },
  token: { base: 'normalizedString', trims: false },
  boolean: {
    base: 'anySimpleType',
    trims: true,
    check: (v) =>
      /^(?:true|false|1|0)$/.test(v)
        ? null
        : {
            code: PROBLEM_CODES.invalidValue,
            message: `'${v}' is not a valid xs:boolean; use true or false.`,
          },
  },
  decimal: {
    base: 'anySimpleType',
    trims: true,
    check: (v) =>
      DECIMAL_RE.test(v)
        ? null
        : {
            code: PROBLEM_CODES.invalidValue,
            message: `'${v}' is not a valid xs:decimal; write a number like 12.5.`,
          },
  },
  integer: { base: 'decimal', trims: true, check: integerIn('xs:integer') },
  long: { base: 'integer', trims: false, check: integerIn('xs:long', -pow2(63), pow2(63) - 1n) },
  int: { base: 'long', trims: false, check: integerIn('xs:int', -pow2(31), pow2(31) - 1n) },
  short: { base: 'int', trims: false, check: integerIn('xs:short', -pow2(15), pow2(15) - 1n) },
  byte: { base: 'short', trims: false, check: integerIn('xs:byte', -pow2(7), pow2(7) - 1n) },
  nonNegativeInteger: { base: 'integer', trims: false, check: integerIn('xs:nonNegativeInteger', 0n) },
  positiveInteger: { base: 'nonNegativeInteger', trims: false, check: integerIn('xs:positiveInteger', 1n) },
  nonPositiveInteger: {
    base: 'integer',
    trims: false,
    check: integerIn('xs:nonPositiveInteger', undefined, 0n),
  },
  negativeInteger: {
    base: 'nonPositiveInteger',
    trims: false,
    check: integerIn('xs:negativeInteger', undefined, -1n),
  },
  unsignedLong: {
    base: 'nonNegativeInteger',
    trims: false,
    check: integerIn('xs:unsignedLong', 0n, pow2(64) - 1n),
  },
  unsignedInt: { base: 'unsignedLong', trims: false, check: integerIn('xs:unsignedInt', 0n, pow2(32) - 1n) },
  unsignedShort: {
    base: 'unsignedInt',
    trims: false,
    check: integerIn('xs:unsignedShort', 0n, pow2(16) - 1n),
  },
  unsignedByte: {
    base: 'unsignedShort',
    trims: false,
    check: integerIn('xs:unsignedByte', 0n, pow2(8) - 1n),
  },
  date: { base: 'anySimpleType', trims: false, check: checkDate },
  dateTime: { base: 'anySimpleType', trims: false, check: checkDateTime },
};

/** XML Schema "collapse" trimming: the XML whitespace characters only. */
export function trimXmlWhitespace(value: string): string {
  return value.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, '');
}
