/**
 * A strict, non-expanding XML 1.0 + Namespaces reader for arkivmelding.xml.
 *
 * One pass over the decoded text refuses what we never accept (DOCTYPE and any other markup declaration,
 * entity references other than the five predefined ones, nesting deeper than the limit) at the point it is
 * met, before anything below it is read, checks well-formedness as libxml2 does, resolves namespaces and keeps
 * the source offset of every element so problems can carry line and column.
 *
 * Not fast-xml-parser: its tree builder costs about 50 ms per MB on our hardware (the budget is 20 ms for
 * everything) and its XMLValidator accepts documents libxml2 rejects (two roots, "<" in attribute values,
 * "]]>" in text, control characters, undeclared entities), so it cannot give xmllint's verdict.
 */
import { isUtf8 } from 'node:buffer';
import { ARKIVMELDING_CODES, PROBLEM_CODES } from './codes.js';
import { SourceText } from './source-text.js';

export const XML_NS = 'http://www.w3.org/XML/1998/namespace';
export const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

export interface XmlAttribute {
  readonly qname: string;
  readonly prefix: string;
  readonly local: string;
  /** '' when the attribute has no namespace. */
  readonly ns: string;
  /** Normalised (attribute-value normalisation) and with references replaced. */
  readonly value: string;
  readonly pos: number;
}

/** Namespace bindings as a linked list; elements without declarations share their parent's scope. */
export interface NamespaceScope {
  readonly parent: NamespaceScope | null;
  readonly prefix: string;
  /** '' undeclares the default namespace. */
  readonly uri: string;
}

export interface XmlElement {
  readonly qname: string;
  readonly prefix: string;
  readonly local: string;
  /** '' when the element has no namespace. */
  readonly ns: string;
  /** Source offset of the '<' of the start tag. */
  readonly pos: number;
  readonly attributes: readonly XmlAttribute[];
  readonly scope: NamespaceScope | null;
  /** Shared empty array until the first child arrives, so leaves allocate nothing. */
  children: readonly XmlElement[];
  /**
   * Text content is kept as source offsets while it is one plain segment, and only turned into a string
   * (textValue) when it needs joining or decoding; read it with elementText().
   */
  textStart: number;
  textEnd: number;
  textValue: string | null;
  /** Offset of the first non-whitespace character data or CDATA section, -1 when there is none. */
  textPos: number;
  hasCdata: boolean;
}

export interface ReadLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
}

export type ReadFailureCode =
  | typeof ARKIVMELDING_CODES.tooLarge
  | typeof ARKIVMELDING_CODES.unsupportedEncoding
  | typeof ARKIVMELDING_CODES.unsafe
  | typeof ARKIVMELDING_CODES.malformed;

export interface ReadFailure {
  readonly ok: false;
  readonly code: ReadFailureCode;
  readonly problemCode: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
  readonly rejectedValue?: string;
  /** Elements open where reading stopped, root first (empty before the root element). */
  readonly openElements?: readonly XmlElement[];
}

export type ReadResult =
  | { readonly ok: true; readonly root: XmlElement; readonly source: SourceText }
  | ReadFailure;

/** All character data and CDATA directly inside `el`, concatenated, with references replaced. */
export function elementText(el: XmlElement, source: SourceText): string {
  if (el.textValue !== null) return el.textValue;
  return el.textStart === -1 ? '' : source.text.slice(el.textStart, el.textEnd);
}

const NAME_START_CHARS =
  ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D' +
  '\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD';
const NAME_CHARS = `${NAME_START_CHARS}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040`;
// Supplementary-plane name characters (#x10000-#xEFFFF) arrive as surrogate pairs.
const ASTRAL = '[\\uD800-\\uDB7F][\\uDC00-\\uDFFF]';
const NAME_RE = new RegExp(`(?:[${NAME_START_CHARS}]|${ASTRAL})(?:[${NAME_CHARS}]|${ASTRAL})*`, 'y');
const CONTINUE_NAME_RE = new RegExp(`(?:[${NAME_CHARS}]|${ASTRAL})*`, 'y');
const NCNAME_RE = new RegExp(
  `^(?:[${NAME_START_CHARS.slice(1)}]|${ASTRAL})(?:[${NAME_CHARS.slice(1)}]|${ASTRAL})*$`,
);
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters XML 1.0 forbids
const FORBIDDEN_CHAR_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const PREDEFINED_ENTITIES: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};
const UTF8_LABELS = new Set(['utf-8', 'utf8']);

class ReadError extends Error {
  constructor(
    readonly code: ReadFailureCode,
    readonly problemCode: string,
    message: string,
    readonly pos: number,
    readonly rejectedValue?: string,
  ) {
    super(message);
  }
}

const malformed = (message: string, pos: number, problemCode: string = PROBLEM_CODES.malformedXml) =>
  new ReadError(ARKIVMELDING_CODES.malformed, problemCode, message, pos);
const namespaceError = (message: string, pos: number) =>
  new ReadError(ARKIVMELDING_CODES.malformed, PROBLEM_CODES.namespaceError, message, pos);

const isXmlWhitespace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;

// ASCII name characters decided by table lookups; anything above 0x7f goes to NAME_RE.
const ASCII_NAME_START = new Uint8Array(128);
const ASCII_NAME_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  ASCII_NAME_START[c] = /[:A-Z_a-z]/.test(ch) ? 1 : 0;
  ASCII_NAME_CHAR[c] = /[:A-Z_a-z\-.0-9]/.test(ch) ? 1 : 0;
}

/** End offset of the XML name starting at `from`, or `from` when no name starts there. */
function scanName(s: string, from: number): number {
  const c0 = s.charCodeAt(from);
  if (c0 < 128) {
    if (ASCII_NAME_START[c0] !== 1) return from;
  } else if (Number.isNaN(c0)) {
    return from;
  }
  let j = c0 < 128 ? from + 1 : from;
  for (;;) {
    const c = s.charCodeAt(j);
    if (c < 128) {
      if (ASCII_NAME_CHAR[c] !== 1) return j;
      j++;
    } else if (Number.isNaN(c)) {
      return j;
    } else {
      // Non-ASCII: let the full regular expression decide the rest of the name.
      const re = j === from ? NAME_RE : CONTINUE_NAME_RE;
      re.lastIndex = j;
      const m = re.exec(s);
      return m ? j + m[0].length : j;
    }
  }
}

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/** Reads and checks a document; never throws for anything in `xml`. */
export function readXml(xml: Buffer, limits: ReadLimits): ReadResult {
  if (xml.length > limits.maxBytes) {
    return {
      ok: false,
      code: ARKIVMELDING_CODES.tooLarge,
      problemCode: PROBLEM_CODES.tooLarge,
      message: `arkivmelding.xml is ${xml.length} bytes, more than the limit of ${limits.maxBytes} bytes; send a smaller document.`,
    };
  }
  const decoded = decodeUtf8(xml);
  if (!decoded.ok) return decoded;
  const source = new SourceText(decoded.text);
  const reader = new Reader(decoded.text, limits.maxDepth);
  try {
    return { ok: true, root: reader.read(), source };
  } catch (e) {
    if (!(e instanceof ReadError)) throw e;
    const { line, column } = source.locate(e.pos);
    return {
      ok: false,
      code: e.code,
      problemCode: e.problemCode,
      message: e.message,
      line,
      column,
      ...(e.rejectedValue === undefined ? {} : { rejectedValue: e.rejectedValue }),
      openElements: reader.openElements(),
    };
  }
}

function decodeUtf8(xml: Buffer): { ok: true; text: string } | ReadFailure {
  const b0 = xml[0];
  const b1 = xml[1];
  if ((b0 === 0xfe && b1 === 0xff) || (b0 === 0xff && b1 === 0xfe) || b0 === 0x00 || b1 === 0x00) {
    return unsupportedEncoding(
      'arkivmelding.xml is UTF-16 or UTF-32 encoded; send it as UTF-8.',
      PROBLEM_CODES.unsupportedEncoding,
      1,
      1,
    );
  }
  // A declared encoding is honoured (by refusing) before the bytes are judged as UTF-8.
  const declared = /^(?:\xef\xbb\xbf)?<\?xml\s[^>]*?encoding\s*=\s*["']([^"']*)["']/.exec(
    xml.subarray(0, 200).toString('latin1'),
  )?.[1];
  if (declared !== undefined && !UTF8_LABELS.has(declared.toLowerCase())) {
    return unsupportedEncoding(
      `The declared encoding "${declared}" is not supported; encode the document as UTF-8 and declare encoding="UTF-8" (or leave the encoding out).`,
      PROBLEM_CODES.unsupportedEncoding,
      1,
      1,
      declared,
    );
  }
  if (isUtf8(xml)) {
    const bom = b0 === 0xef && b1 === 0xbb && xml[2] === 0xbf;
    return { ok: true, text: (bom ? xml.subarray(3) : xml).toString('utf8') };
  }
  const offset = firstInvalidUtf8(xml);
  const before = xml.subarray(0, offset);
  const line = before.reduce((n, b) => (b === 0x0a ? n + 1 : n), 1);
  const column = offset - before.lastIndexOf(0x0a);
  return unsupportedEncoding(
    `arkivmelding.xml is not valid UTF-8 (byte offset ${offset}); encode the document as UTF-8.`,
    PROBLEM_CODES.invalidUtf8,
    line,
    column,
  );
}

function unsupportedEncoding(
  message: string,
  problemCode: string,
  line: number,
  column: number,
  rejectedValue?: string,
): ReadFailure {
  return {
    ok: false,
    code: ARKIVMELDING_CODES.unsupportedEncoding,
    problemCode,
    message,
    line,
    column,
    ...(rejectedValue === undefined ? {} : { rejectedValue }),
  };
}

/** Byte offset of the first byte that does not start a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] ?? 0;
    let need: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return b.length;
}

const EMPTY_ATTRIBUTES: readonly XmlAttribute[] = Object.freeze([]);
const NO_CHILDREN: readonly XmlElement[] = Object.freeze([]);

interface RawAttribute {
  qname: string;
  value: string;
  pos: number;
}

class Reader {
  private i = 0;
  private readonly len: number;
  private readonly hasCR: boolean;
  private readonly stack: XmlElement[] = [];
  private nextAmp = -2;
  private nextCdataEnd = -2;
  /** Whether the start tag read last was `<x>` rather than `<x/>`. */
  private lastTagOpen = false;
  /** Element and attribute names seen so far, by hash, so repeated names share one string. */
  private readonly names = new Map<number, string[]>();
  private readonly qnameParts = new Map<string, { prefix: string; local: string }>();

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {
    this.len = s.length;
    this.hasCR = s.indexOf('\r') !== -1;
  }

  openElements(): readonly XmlElement[] {
    return [...this.stack];
  }

  read(): XmlElement {
    const s = this.s;
    const bad = FORBIDDEN_CHAR_RE.exec(s);
    if (bad) {
      const code = bad[0].charCodeAt(0);
      throw malformed(
        `Character U+${code.toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML; remove it.`,
        bad.index,
      );
    }
    if (s.startsWith('<?xml') && isXmlWhitespace(s.charCodeAt(5))) this.readXmlDeclaration();
    let root: XmlElement | null = null;
    for (;;) {
      this.skipWhitespace();
      if (this.i >= this.len) break;
      const at = this.i;
      if (s.charCodeAt(at) !== 0x3c) {
        throw malformed(
          root
            ? 'Text after the end of the root element is not allowed; remove it.'
            : 'Text before the root element is not allowed; the document must start with <arkivmelding>.',
          at,
        );
      }
      if (s.startsWith('<!--', at)) this.readComment();
      else if (s.charCodeAt(at + 1) === 0x3f) this.readProcessingInstruction();
      else if (s.charCodeAt(at + 1) === 0x21) this.refuseDeclaration(at);
      else if (root) throw malformed('Only one root element is allowed; remove the second one.', at);
      else root = this.readElementTree();
    }
    if (!root) throw malformed('The document has no root element; send a complete arkivmelding.', this.len);
    return root;
  }

  private skipWhitespace(): void {
    while (this.i < this.len && isXmlWhitespace(this.s.charCodeAt(this.i))) this.i++;
  }

  private readXmlDeclaration(): void {
    const s = this.s;
    const end = s.indexOf('?>', 5);
    if (end === -1) throw malformed('The XML declaration is not closed with ?>.', 0);
    const body = s.slice(5, end);
    const m =
      /^\s+version\s*=\s*(?:"([^"]*)"|'([^']*)')(?:\s+encoding\s*=\s*(?:"([^"]*)"|'([^']*)'))?(?:\s+standalone\s*=\s*(?:"(yes|no)"|'(yes|no)'))?\s*$/.exec(
        body,
      );
    if (!m) {
      throw malformed(
        'The XML declaration is malformed; use <?xml version="1.0" encoding="UTF-8"?>.',
        0,
        PROBLEM_CODES.malformedXml,
      );
    }
    const version = m[1] ?? m[2] ?? '';
    if (!/^1\.[0-9]+$/.test(version)) {
      throw malformed(`XML version "${version}" is not supported; use version="1.0".`, 0);
    }
    const encoding = m[3] ?? m[4];
    if (encoding !== undefined && !UTF8_LABELS.has(encoding.toLowerCase())) {
      throw new ReadError(
        ARKIVMELDING_CODES.unsupportedEncoding,
        PROBLEM_CODES.unsupportedEncoding,
        `The declared encoding "${encoding}" is not supported; encode the document as UTF-8 and declare encoding="UTF-8" (or leave the encoding out).`,
        0,
        encoding,
      );
    }
    this.i = end + 2;
  }

  private readComment(): void {
    const start = this.i;
    const end = this.s.indexOf('-->', start + 4);
    if (end === -1) throw malformed('A comment is not closed with -->.', start);
    const dashes = this.s.indexOf('--', start + 4);
    if (dashes < end) throw malformed('"--" is not allowed inside a comment.', dashes);
    this.i = end + 3;
  }

  private readProcessingInstruction(): void {
    const s = this.s;
    const start = this.i;
    const nameEnd = scanName(s, start + 2);
    if (nameEnd === start + 2) throw malformed('A processing instruction has no valid target name.', start);
    const target = s.slice(start + 2, nameEnd);
    if (target.toLowerCase() === 'xml') {
      throw malformed(
        target === 'xml'
          ? 'The XML declaration is only allowed at the very start of the document.'
          : `"${target}" is a reserved processing-instruction name.`,
        start,
      );
    }
    let j = start + 2 + target.length;
    if (!s.startsWith('?>', j)) {
      if (!isXmlWhitespace(s.charCodeAt(j))) throw malformed('A processing instruction is malformed.', start);
      j++;
    }
    const end = s.indexOf('?>', j);
    if (end === -1) throw malformed('A processing instruction is not closed with ?>.', start);
    this.i = end + 2;
  }

  /** `<!` outside comments and CDATA: DOCTYPE or another markup declaration, all refused. */
  private refuseDeclaration(at: number): never {
    const s = this.s;
    if (s.startsWith('<![CDATA[', at)) {
      throw malformed('A CDATA section is only allowed inside an element.', at);
    }
    const word = /^<!([A-Za-z]+)/.exec(s.slice(at, at + 20))?.[1];
    if (word) {
      const isDoctype = word.toUpperCase() === 'DOCTYPE';
      throw new ReadError(
        ARKIVMELDING_CODES.unsafe,
        isDoctype ? PROBLEM_CODES.doctypeNotAllowed : PROBLEM_CODES.declarationNotAllowed,
        isDoctype
          ? 'A DOCTYPE (DTD) is not allowed in arkivmelding.xml; remove the <!DOCTYPE ...> declaration.'
          : `Markup declarations (<!${word} ...>) are not allowed in arkivmelding.xml; remove them.`,
        at,
      );
    }
    throw malformed('Markup starting with "<!" is not valid here.', at);
  }

  /** Reads the root element and everything inside it, iteratively so nesting never grows the call stack. */
  private readElementTree(): XmlElement {
    const s = this.s;
    const root = this.readStartTag(null);
    if (!this.lastTagOpen) return root;
    const stack = this.stack;
    stack.push(root);
    while (stack.length > 0) {
      const current = stack[stack.length - 1] as XmlElement;
      const lt = s.indexOf('<', this.i);
      if (lt === -1) {
        throw malformed(`Element <${current.qname}> is not closed; add </${current.qname}>.`, current.pos);
      }
      if (lt > this.i) this.readText(current, this.i, lt);
      this.i = lt;
      const c1 = s.charCodeAt(lt + 1);
      if (c1 === 0x2f) {
        this.readEndTag(current);
        stack.pop();
      } else if (c1 === 0x21) {
        if (s.startsWith('<!--', lt)) this.readComment();
        else if (s.startsWith('<![CDATA[', lt)) this.readCdata(current);
        else this.refuseDeclaration(lt);
      } else if (c1 === 0x3f) {
        this.readProcessingInstruction();
      } else {
        const child = this.readStartTag(current);
        if (current.children === NO_CHILDREN) current.children = [child];
        else (current.children as XmlElement[]).push(child);
        if (this.lastTagOpen) stack.push(child);
      }
    }
    return root;
  }

  private readText(el: XmlElement, from: number, to: number): void {
    const s = this.s;
    if (this.nextCdataEnd !== -1 && this.nextCdataEnd < from) this.nextCdataEnd = s.indexOf(']]>', from);
    if (this.nextCdataEnd !== -1 && this.nextCdataEnd < to) {
      throw malformed('"]]>" is not allowed in text; write it as ]]&gt;.', this.nextCdataEnd);
    }
    if (this.nextAmp !== -1 && this.nextAmp < from) this.nextAmp = s.indexOf('&', from);
    const hasReference = this.nextAmp !== -1 && this.nextAmp < to;
    let firstNonWhitespace = -1;
    for (let k = from; k < to; k++) {
      if (!isXmlWhitespace(s.charCodeAt(k))) {
        firstNonWhitespace = k;
        break;
      }
    }
    // Whitespace between child elements never matters: such an element is element-only or already invalid.
    if (firstNonWhitespace === -1 && el.children.length > 0) return;
    if (!hasReference && !this.hasCR && el.textStart === -1 && el.textValue === null) {
      el.textStart = from;
      el.textEnd = to;
      if (el.textPos === -1) el.textPos = firstNonWhitespace;
      return;
    }
    let text = s.slice(from, to);
    if (this.hasCR) text = text.replace(/\r\n?/g, '\n');
    if (hasReference) text = this.replaceReferences(text, from);
    // A character reference to whitespace (&#32;) is whitespace, as libxml2 sees it.
    if (el.textPos === -1 && firstNonWhitespace !== -1 && (!hasReference || /[^ \t\n\r]/.test(text))) {
      el.textPos = firstNonWhitespace;
    }
    this.appendText(el, text);
  }

  private appendText(el: XmlElement, text: string): void {
    const before = el.textValue ?? (el.textStart === -1 ? '' : this.s.slice(el.textStart, el.textEnd));
    el.textValue = before + text;
    el.textStart = -1;
    el.textEnd = -1;
  }

  private readCdata(el: XmlElement): void {
    const start = this.i;
    const end = this.s.indexOf(']]>', start + 9);
    if (end === -1) throw malformed('A CDATA section is not closed with ]]>.', start);
    let text = this.s.slice(start + 9, end);
    if (this.hasCR) text = text.replace(/\r\n?/g, '\n');
    this.appendText(el, text);
    el.hasCdata = true;
    if (el.textPos === -1) el.textPos = start;
    this.i = end + 3;
  }

  /** Replaces the predefined entities and character references; anything else is refused. */
  private replaceReferences(text: string, offset: number): string {
    let out = '';
    let last = 0;
    let amp = text.indexOf('&');
    while (amp !== -1) {
      const semi = text.indexOf(';', amp + 1);
      const name = semi === -1 ? '' : text.slice(amp + 1, semi);
      const pos = offset + amp;
      let replacement: string | undefined;
      if (name.startsWith('#')) {
        const m = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(name);
        const cp = m
          ? m[1] !== undefined
            ? Number.parseInt(m[1], 16)
            : Number.parseInt(m[2] ?? '', 10)
          : Number.NaN;
        if (!isXmlChar(cp)) {
          throw malformed(
            `The character reference &${name}; does not refer to a character allowed in XML.`,
            pos,
          );
        }
        replacement = String.fromCodePoint(cp);
      } else {
        replacement = PREDEFINED_ENTITIES[name];
        if (replacement === undefined) {
          const isName = name !== '' && scanName(name, 0) === name.length;
          if (isName) {
            throw new ReadError(
              ARKIVMELDING_CODES.unsafe,
              PROBLEM_CODES.entityNotAllowed,
              `The entity reference &${name}; is not allowed; only &amp; &lt; &gt; &quot; &apos; and numeric character references (such as &#160;) may be used.`,
              pos,
              `&${name};`,
            );
          }
          throw malformed('A bare "&" is not allowed; write it as &amp;.', pos);
        }
      }
      out += text.slice(last, amp) + replacement;
      last = semi + 1;
      amp = text.indexOf('&', last);
    }
    return out + text.slice(last);
  }

  private readStartTag(parent: XmlElement | null): XmlElement {
    const s = this.s;
    const start = this.i;
    const depth = this.stack.length + 1;
    if (depth > this.maxDepth) {
      throw new ReadError(
        ARKIVMELDING_CODES.unsafe,
        PROBLEM_CODES.tooDeep,
        `Elements are nested more than ${this.maxDepth} levels deep; arkivmelding.xml may not nest deeper.`,
        start,
      );
    }
    const nameEnd = scanName(s, start + 1);
    if (nameEnd === start + 1)
      throw malformed('"<" must start a valid element name; write a literal "<" as &lt;.', start);
    const qname = this.intern(start + 1, nameEnd);
    let j = nameEnd;
    let raw: RawAttribute[] | null = null;
    let open: boolean;
    for (;;) {
      const before = j;
      while (j < this.len && isXmlWhitespace(s.charCodeAt(j))) j++;
      const c = s.charCodeAt(j);
      if (c === 0x3e) {
        open = true;
        j++;
        break;
      }
      if (c === 0x2f && s.charCodeAt(j + 1) === 0x3e) {
        open = false;
        j += 2;
        break;
      }
      if (j >= this.len) throw malformed(`The start tag <${qname}> is not closed with ">".`, start);
      if (j === before) {
        throw malformed(`Attributes of <${qname}> must be separated by whitespace.`, j);
      }
      const attrEnd = scanName(s, j);
      if (attrEnd === j) throw malformed(`The start tag <${qname}> contains an invalid attribute name.`, j);
      const attrName = this.intern(j, attrEnd);
      const attrPos = j;
      j = attrEnd;
      while (isXmlWhitespace(s.charCodeAt(j))) j++;
      if (s.charCodeAt(j) !== 0x3d)
        throw malformed(`Attribute ${attrName} has no value; write ${attrName}="...".`, j);
      j++;
      while (isXmlWhitespace(s.charCodeAt(j))) j++;
      const quote = s[j];
      if (quote !== '"' && quote !== "'")
        throw malformed(`The value of attribute ${attrName} must be quoted.`, j);
      const end = s.indexOf(quote, j + 1);
      if (end === -1) throw malformed(`The value of attribute ${attrName} is not closed.`, j);
      const rawValue = s.slice(j + 1, end);
      const lt = rawValue.indexOf('<');
      if (lt !== -1) throw malformed(`"<" is not allowed in attribute values; write it as &lt;.`, j + 1 + lt);
      raw ??= [];
      raw.push({ qname: attrName, value: this.attributeValue(rawValue, j + 1), pos: attrPos });
      j = end + 1;
    }
    this.i = j;
    this.lastTagOpen = open;
    return this.buildElement(qname, start, raw, parent);
  }

  private attributeValue(raw: string, offset: number): string {
    if (!/[&\t\n\r]/.test(raw)) return raw;
    let v = this.hasCR ? raw.replace(/\r\n?/g, '\n') : raw;
    v = v.replace(/[\t\n\r]/g, ' ');
    return v.indexOf('&') === -1 ? v : this.replaceReferences(v, offset);
  }

  private buildElement(
    qname: string,
    pos: number,
    raw: RawAttribute[] | null,
    parent: XmlElement | null,
  ): XmlElement {
    let scope = parent ? parent.scope : null;
    let attributes = EMPTY_ATTRIBUTES;
    if (raw) {
      if (raw.length > 1) this.checkDuplicateNames(raw);
      for (const a of raw) {
        if (a.qname === 'xmlns') {
          if (a.value === XML_NS || a.value === XMLNS_NS) {
            throw namespaceError(`The namespace ${a.value} cannot be the default namespace.`, a.pos);
          }
          scope = { parent: scope, prefix: '', uri: a.value };
        } else if (a.qname.startsWith('xmlns:')) {
          const prefix = a.qname.slice(6);
          if (!NCNAME_RE.test(prefix))
            throw namespaceError(`"${a.qname}" is not a valid namespace declaration.`, a.pos);
          if (prefix === 'xmlns') throw namespaceError('The xmlns prefix cannot be declared.', a.pos);
          if ((prefix === 'xml') !== (a.value === XML_NS)) {
            throw namespaceError(
              'The xml prefix and the XML namespace can only be bound to each other.',
              a.pos,
            );
          }
          if (a.value === XMLNS_NS) throw namespaceError(`The namespace ${XMLNS_NS} cannot be bound.`, a.pos);
          if (a.value === '') {
            throw namespaceError(
              `${a.qname}="" is not allowed; a prefix must be bound to a namespace.`,
              a.pos,
            );
          }
          scope = { parent: scope, prefix, uri: a.value };
        }
      }
      const resolved: XmlAttribute[] = [];
      for (const a of raw) {
        if (a.qname === 'xmlns' || a.qname.startsWith('xmlns:')) continue;
        const { prefix, local } = splitQName(a.qname, a.pos);
        const ns = prefix === '' ? '' : resolvePrefix(scope, prefix);
        if (ns === null)
          throw namespaceError(
            `The namespace prefix "${prefix}" of attribute ${a.qname} is not declared.`,
            a.pos,
          );
        resolved.push({ qname: a.qname, prefix, local, ns, value: a.value, pos: a.pos });
      }
      if (resolved.length > 1) checkDuplicateExpandedNames(resolved);
      if (resolved.length > 0) attributes = resolved;
    }
    let prefix = '';
    let local = qname;
    if (qname.indexOf(':') !== -1) {
      let parts = this.qnameParts.get(qname);
      if (!parts) {
        parts = splitQName(qname, pos);
        this.qnameParts.set(qname, parts);
      }
      ({ prefix, local } = parts);
    }
    const ns = resolvePrefix(scope, prefix);
    if (ns === null)
      throw namespaceError(`The namespace prefix "${prefix}" of element <${qname}> is not declared.`, pos);
    return {
      qname,
      prefix,
      local,
      ns,
      pos,
      attributes,
      scope,
      children: NO_CHILDREN,
      textStart: -1,
      textEnd: -1,
      textValue: null,
      textPos: -1,
      hasCdata: false,
    };
  }

  private intern(start: number, end: number): string {
    const s = this.s;
    let h = end - start;
    for (let k = start; k < end; k++) h = (Math.imul(h, 31) + s.charCodeAt(k)) | 0;
    const bucket = this.names.get(h);
    if (bucket) {
      for (const name of bucket) if (name.length === end - start && s.startsWith(name, start)) return name;
    }
    const name = s.slice(start, end);
    if (bucket) bucket.push(name);
    else this.names.set(h, [name]);
    return name;
  }

  private checkDuplicateNames(raw: RawAttribute[]): void {
    const seen = new Set<string>();
    for (const a of raw) {
      if (seen.has(a.qname)) throw malformed(`Attribute ${a.qname} appears more than once.`, a.pos);
      seen.add(a.qname);
    }
  }

  private readEndTag(current: XmlElement): void {
    const s = this.s;
    const start = this.i;
    const qname = current.qname;
    let j = start + 2 + qname.length;
    // The common case needs no name scan: the open element's name followed by '>' or whitespace.
    if (!s.startsWith(qname, start + 2) || (s.charCodeAt(j) !== 0x3e && !isXmlWhitespace(s.charCodeAt(j)))) {
      const nameEnd = scanName(s, start + 2);
      throw malformed(
        `The end tag </${s.slice(start + 2, nameEnd)}> does not match the open element <${qname}>; close it with </${qname}>.`,
        start,
      );
    }
    while (isXmlWhitespace(s.charCodeAt(j))) j++;
    if (s.charCodeAt(j) !== 0x3e) throw malformed(`The end tag </${qname}> is not closed with ">".`, start);
    this.i = j + 1;
  }
}

/** True for an XML name without a colon (an NCName). */
export function isNCName(name: string): boolean {
  return NCNAME_RE.test(name);
}

function splitQName(qname: string, pos: number): { prefix: string; local: string } {
  const colon = qname.indexOf(':');
  if (colon === -1) return { prefix: '', local: qname };
  const prefix = qname.slice(0, colon);
  const local = qname.slice(colon + 1);
  if (prefix === '' || local === '' || local.indexOf(':') !== -1) {
    throw namespaceError(
      `"${qname}" is not a valid qualified name (at most one ":" between two names).`,
      pos,
    );
  }
  return { prefix, local };
}

/** The namespace bound to `prefix` ('' = default namespace), or null when a prefix is not declared. */
export function resolvePrefix(scope: NamespaceScope | null, prefix: string): string | null {
  if (prefix === 'xml') return XML_NS;
  for (let s = scope; s; s = s.parent) if (s.prefix === prefix) return s.uri;
  return prefix === '' ? '' : null;
}

function checkDuplicateExpandedNames(attributes: XmlAttribute[]): void {
  const seen = new Set<string>();
  for (const a of attributes) {
    const key = `${a.ns} ${a.local}`;
    if (seen.has(key))
      throw namespaceError(`Attribute ${a.local} in namespace ${a.ns} appears more than once.`, a.pos);
    seen.add(key);
  }
}
