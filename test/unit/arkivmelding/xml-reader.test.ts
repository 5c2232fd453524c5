import { describe, expect, test } from 'vitest';
import { validateArkivmelding } from '../../../src/domain/arkivmelding/index.js';
import { elementText, readXml, type XmlElement } from '../../../src/domain/arkivmelding/xml-reader.js';
import { DEFAULT_OPTIONS, deepNestingDocument, fixture, largeDocument } from './support/corpus.js';

const LIMITS = { maxBytes: 1_000_000, maxDepth: 40 };

function read(xml: string | Buffer) {
  const result = readXml(typeof xml === 'string' ? Buffer.from(xml) : xml, LIMITS);
  if (!result.ok) throw new Error(`${result.code}: ${result.message}`);
  return result;
}

function failure(xml: string | Buffer, limits = LIMITS) {
  const result = readXml(typeof xml === 'string' ? Buffer.from(xml) : xml, limits);
  if (result.ok) throw new Error('expected the document to be refused');
  return result;
}

describe('reading safely', () => {
  test('refuses a DOCTYPE before anything declared in it is read, with the position of <!DOCTYPE', () => {
    const r = failure('<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY x "y">]>\n<a>&x;</a>');
    expect(r).toMatchObject({
      code: 'UnsafeXmlException',
      problemCode: 'DoctypeNotAllowed',
      line: 2,
      column: 1,
    });
  });

  test('refuses entity references other than the five predefined ones, even without a DTD', () => {
    expect(failure('<a>&copy;</a>')).toMatchObject({
      code: 'UnsafeXmlException',
      problemCode: 'EntityReferenceNotAllowed',
    });
    expect(failure('<a b="&ext;"/>')).toMatchObject({ code: 'UnsafeXmlException', rejectedValue: '&ext;' });
  });

  test('refuses markup declarations outside a DOCTYPE too', () => {
    expect(failure('<!ENTITY x "y"><a/>')).toMatchObject({
      code: 'UnsafeXmlException',
      problemCode: 'MarkupDeclarationNotAllowed',
    });
  });

  test('refuses nesting deeper than the limit at the first element too deep', () => {
    const r = failure(`${'<a>'.repeat(41)}${'</a>'.repeat(41)}`);
    expect(r).toMatchObject({
      code: 'UnsafeXmlException',
      problemCode: 'NestingTooDeep',
      line: 1,
      column: 121,
    });
    expect(read(`${'<a>'.repeat(40)}${'</a>'.repeat(40)}`).root.local).toBe('a');
  });

  test('refuses a body over maxBytes before decoding it', () => {
    expect(failure(Buffer.alloc(2_000_001, 0x20))).toMatchObject({ code: 'ArkivmeldingTooLargeException' });
  });

  // How fast they are refused is measured in `npm run bench`, not here.
  test('the billion laughs, 10 000 levels of nesting and a 50 MB body are refused, each for its reason', () => {
    for (const [name, xml, code] of [
      ['bomb', fixture('unsafe-billion-laughs.xml'), 'UnsafeXmlException'],
      ['deep', deepNestingDocument(10_000), 'UnsafeXmlException'],
      ['large', largeDocument(), 'ArkivmeldingTooLargeException'],
    ] as const) {
      const result = validateArkivmelding(xml, DEFAULT_OPTIONS);
      expect(result.ok, name).toBe(false);
      if (!result.ok) expect(result.code, name).toBe(code);
    }
  });
});

describe('encoding', () => {
  test('accepts a UTF-8 byte order mark and declarations of UTF-8 in any case', () => {
    const bom = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('<?xml version="1.0" encoding="utf8"?><a>ø</a>'),
    ]);
    const r = read(bom);
    expect(elementText(r.root, r.source)).toBe('ø');
  });

  test('refuses other declared encodings, UTF-16 and bytes that are not UTF-8', () => {
    expect(failure('<?xml version="1.0" encoding="windows-1252"?><a/>')).toMatchObject({
      code: 'UnsupportedEncodingException',
      rejectedValue: 'windows-1252',
      line: 1,
    });
    expect(failure(Buffer.from('\ufeff<a/>', 'utf16le'))).toMatchObject({
      code: 'UnsupportedEncodingException',
    });
    const invalid = failure(Buffer.from([0x3c, 0x61, 0x3e, 0x0a, 0x20, 0xff, 0x3c, 0x2f, 0x61, 0x3e]));
    expect(invalid).toMatchObject({
      code: 'UnsupportedEncodingException',
      problemCode: 'InvalidUtf8',
      line: 2,
      column: 2,
    });
  });
});

describe('well-formedness, as libxml2 judges it', () => {
  test.each([
    ['<a></b>', 1, 4],
    ['<a>\n<b>\n</a>', 3, 1],
    ['<a/><b/>', 1, 5],
    ['<a/>tekst', 1, 5],
    ['<a b=1/>', 1, 6],
    ['<a b="1"b="2"/>', 1, 9],
    ['<a b="1" b="2"/>', 1, 10],
    ['<a b="<"/>', 1, 7],
    ['<a>&</a>', 1, 4],
    ['<a>]]></a>', 1, 4],
    ['<a><!-- x -- y --></a>', 1, 11],
    ['<a>&#0;</a>', 1, 4],
    ['<a>&#xD800;</a>', 1, 4],
    ['<a>\u0007</a>', 1, 4],
    ['<a><?xml version="1.0"?></a>', 1, 4],
    [' <?xml version="1.0"?><a/>', 1, 2],
    ['<?xml version="2.0"?><a/>', 1, 1],
    ['<?xml encoding="UTF-8"?><a/>', 1, 1],
    ['<1a/>', 1, 1],
    ['', 1, 1],
    ['<a>', 1, 1],
    ['<![CDATA[x]]><a/>', 1, 1],
  ])('%j is refused at %i:%i', (xml, line, column) => {
    expect(failure(xml)).toMatchObject({ code: 'MalformedXmlException', line, column });
  });

  test.each([
    ['<p:a/>', 'NamespaceNotWellFormed'],
    ['<a xmlns:p=""/>', 'NamespaceNotWellFormed'],
    ['<a:b:c xmlns:a="urn:a"/>', 'NamespaceNotWellFormed'],
    ['<a xmlns:p="urn:x" xmlns:q="urn:x" p:x="1" q:x="2"/>', 'NamespaceNotWellFormed'],
    ['<a xmlns:xml="urn:x"/>', 'NamespaceNotWellFormed'],
  ])('%j is refused as a namespace error', (xml, problemCode) => {
    expect(failure(xml)).toMatchObject({ code: 'MalformedXmlException', problemCode });
  });
});

describe('what the reader keeps', () => {
  const find = (el: XmlElement, local: string): XmlElement => {
    const hit = el.children.find((c) => c.local === local);
    if (!hit) throw new Error(`no ${local}`);
    return hit;
  };

  test('replaces the five predefined entities and character references, and normalises line ends', () => {
    const r = read(
      '<a>\r\n<b>&lt;&gt;&amp;&quot;&apos;&#x41;&#66;\r\nx\ry</b><c><![CDATA[<&>\r\n]]>!</c></a>',
    );
    expect(elementText(find(r.root, 'b'), r.source)).toBe('<>&"\'AB\nx\ny');
    expect(elementText(find(r.root, 'c'), r.source)).toBe('<&>\n!');
  });

  test('normalises attribute values and resolves namespaces, prefixed and default', () => {
    const r = read('<r xmlns="urn:d" xmlns:p="urn:p"><p:e p:at="a\tb&#9;c" plain="x"/><e xmlns=""/></r>');
    const [pe, e] = r.root.children;
    expect(r.root.ns).toBe('urn:d');
    expect(pe).toMatchObject({ local: 'e', prefix: 'p', ns: 'urn:p' });
    expect(pe?.attributes.map((a) => [a.ns, a.local, a.value])).toEqual([
      ['urn:p', 'at', 'a b\tc'],
      ['', 'plain', 'x'],
    ]);
    expect(e?.ns).toBe('');
  });

  test('keeps element positions as 1-based line and column, counting CRLF as one line end', () => {
    const r = read('<a>\r\n  <b/>\r\n\t<c/></a>');
    const b = find(r.root, 'b');
    const c = find(r.root, 'c');
    expect(r.source.locate(b.pos)).toEqual({ line: 2, column: 3 });
    expect(r.source.locate(c.pos)).toEqual({ line: 3, column: 2 });
  });

  test('reports problems in the corpus at the right place', () => {
    const result = validateArkivmelding(fixture('schema-bad-date.xml'), DEFAULT_OPTIONS);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toMatchObject({ line: 42, column: 20 });
    const lines = fixture('schema-bad-date.xml').toString('utf8').split('\n');
    expect(lines[41]?.slice(19)).toMatch(/^2025-02-30</);
  });
});

describe('read failures carry the path of the element being read', () => {
  test('an undeclared entity inside a dokumentbeskrivelse tittel', () => {
    const result = validateArkivmelding(fixture('unsafe-undeclared-entity.xml'), DEFAULT_OPTIONS);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems[0]).toMatchObject({
        path: '/arkivmelding/mappe[1]/basisregistrering[1]/dokumentbeskrivelse[1]/tittel',
        line: 23,
      });
    }
  });

  test('none before the root element', () => {
    const result = validateArkivmelding(fixture('unsafe-doctype.xml'), DEFAULT_OPTIONS);
    expect(result.ok || result.problems[0]?.path).toBeUndefined();
  });
});
