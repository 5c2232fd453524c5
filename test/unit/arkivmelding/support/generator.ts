/**
 * fast-check arbitraries for arkivmelding documents, written from the published schema independently of
 * schemas/arkivmelding (so a mistake there is not mirrored here), plus single mutations that must break
 * validity. Used by the property tests and by the xmllint cross-check in test/xsd.
 */
import fc from 'fast-check';

export const AM_NS = 'http://www.arkivverket.no/standarder/noark5/arkivmelding';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';

export type ValueKind = 'string' | 'int' | 'integer' | 'date' | 'dateTime' | 'guid' | 'enum' | 'filename';

/** One element of a generated document. */
export interface Node {
  name: string;
  xsiType?: string;
  /** Simple content; `text` is the unescaped value. */
  value?: { kind: ValueKind; text: string; enumValues?: readonly string[] };
  children?: Node[];
  /** Raw XML for xs:anyType content, already well-formed and namespace-correct. */
  anyContent?: string;
  /** Removing this element (when it is the only one of its name in its parent) breaks validity. */
  required: boolean;
  /** Member of registrering's freely interleaved dokumentbeskrivelse/dokumentobjekt group. */
  interleaved?: boolean;
}

const v = (
  name: string,
  kind: ValueKind,
  text: string,
  required = true,
  enumValues?: readonly string[],
): Node => ({
  name,
  value: { kind, text, ...(enumValues ? { enumValues } : {}) },
  required,
});
const e = (
  name: string,
  children: Array<Node | undefined | Node[]>,
  required = true,
  xsiType?: string,
): Node => ({
  name,
  children: children.flat().filter((c): c is Node => c !== undefined),
  required,
  ...(xsiType ? { xsiType } : {}),
});
const optional = (n: Node | undefined): Node | undefined => (n ? { ...n, required: false } : undefined);
const optionals = (ns: Node[]): Node[] => ns.map((n) => ({ ...n, required: false }));

// Value arbitraries -------------------------------------------------------------------------------------

const WORDS = [
  'søknad',
  'vedtak',
  'tilskudd',
  'barnevern',
  'byggesak',
  'klage',
  'melding',
  'oppfølging',
  'tilsyn',
  'skoleskyss',
  'helsestasjon',
  'Fjordvik',
  'kommune',
  'Åsheim',
  'Ørnes',
  'rådmann',
  'plan',
  'møte',
];
/** Text with Norwegian words and, now and then, characters that must be escaped. */
export const textArb = fc
  .tuple(
    fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 6 }),
    fc.option(fc.constantFrom('&', '<', '>', '"', "'", ' & co', '§ 13', '«sitat»', '–', '😀'), {
      nil: undefined,
    }),
  )
  .map(([words, extra]) => words.join(' ') + (extra ?? ''));
/** Any string of XML characters (xs:string accepts them all); no CR, which XML would normalise. */
export const anyStringArb = fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: characters XML cannot carry are removed
  s.replace(/[\u0000-\u0008\u000B-\u001F\uFFFE\uFFFF]/g, ''),
);
const NAMES = [
  'Kari Nordmann',
  'Ola Hansen',
  'Barneverntjenesten i Åsheim',
  'Rektor ved Ørnes skole',
  'Lise Berg',
];
const personArb = fc
  .tuple(fc.constantFrom(...NAMES), fc.option(textArb, { nil: undefined }))
  .map(([name, extra]) => (extra ? `${name} (${extra})` : name));
const stringArb = fc.oneof({ weight: 4, arbitrary: textArb }, { weight: 1, arbitrary: anyStringArb });
const nonEmptyTextArb = textArb;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const dateParts = fc.record({
  year: fc.integer({ min: 1900, max: 2099 }),
  month: fc.integer({ min: 1, max: 12 }),
  day: fc.integer({ min: 1, max: 28 }),
});
const tzArb = fc.constantFrom('', 'Z', '+01:00', '+02:00', '-05:00', '+14:00', '-00:00');
export const dateArb = fc
  .tuple(dateParts, tzArb)
  .map(([d, tz]) => `${d.year}-${pad(d.month)}-${pad(d.day)}${tz}`);
export const dateTimeArb = fc
  .tuple(
    dateParts,
    fc.integer({ min: 0, max: 23 }),
    fc.integer({ min: 0, max: 59 }),
    fc.integer({ min: 0, max: 59 }),
    fc.option(fc.stringMatching(/^[0-9]{1,6}$/), { nil: undefined }),
    tzArb,
  )
  .map(
    ([d, h, mi, s, frac, tz]) =>
      `${d.year}-${pad(d.month)}-${pad(d.day)}T${pad(h)}:${pad(mi)}:${pad(s)}${frac ? `.${frac}` : ''}${tz}`,
  );
export const guidArb = fc.tuple(fc.uuid(), fc.boolean(), fc.boolean()).map(([u, upper, braces]) => {
  const g = upper ? u.toUpperCase() : u;
  return braces ? `{${g}}` : g;
});
const filenameArb = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9æøå][a-z0-9æøå_-]{0,15}$/),
    fc.constantFrom('pdf', 'docx', 'txt', 'odt', 'xml'),
  )
  .map(([stem, ext]) => `${stem}.${ext}`);

const ENUMS = {
  saksstatus: ['Under behandling', 'Avsluttet', 'Utgår'],
  journalstatus: [
    'Journalført',
    'Ferdigstilt fra saksbehandler',
    'Godkjent av leder',
    'Ekspedert',
    'Arkivert',
    'Utgår',
  ],
  dokumentstatus: ['Dokumentet er under redigering', 'Dokumentet er ferdigstilt'],
  journalposttype: [
    'Inngående dokument',
    'Utgående dokument',
    'Organinternt dokument for oppfølging',
    'Organinternt dokument uten oppfølging',
    'Saksframlegg',
  ],
  korrespondanseparttype: [
    'Avsender',
    'Mottaker',
    'Kopimottaker',
    'Gruppemottaker',
    'Intern avsender',
    'Intern mottaker',
  ],
  tilknyttetRegistreringSom: ['Hoveddokument', 'Vedlegg'],
  dokumentmedium: ['Fysisk medium', 'Elektronisk arkiv', 'Blandet fysisk og elektronisk arkiv'],
  variantformat: ['Produksjonsformat', 'Arkivformat', 'Dokument hvor deler av innholdet er skjermet'],
  skjermingDokument: ['Skjerming av hele dokumentet', 'Skjerming av deler av dokumentet'],
  gradering: [
    'Strengt hemmelig (sikkerhetsgrad)',
    'Hemmelig (sikkerhetsgrad)',
    'Konfidensielt (sikkerhetsgrad)',
    'Begrenset (sikkerhetsgrad)',
    'Fortrolig (beskyttelsesgrad)',
    'Strengt fortrolig (beskyttelsesgrad)',
  ],
  avskrivningsmaate: [
    'Besvart med brev',
    'Besvart med e-post',
    'Besvart på telefon',
    'Tatt til etterretning',
    'Tatt til orientering',
  ],
  presedensstatus: ['Gjeldende', 'Foreldet'],
} as const;
type EnumName = keyof typeof ENUMS;
const enumNode = (name: string, list: EnumName, required = true) =>
  fc.constantFrom(...ENUMS[list]).map((t) => v(name, 'enum', t, required, ENUMS[list]));

// Element arbitraries -----------------------------------------------------------------------------------

const s = (name: string, required = true) => stringArb.map((t) => v(name, 'string', t, required));
const d = (name: string, required = true) => dateArb.map((t) => v(name, 'date', t, required));
const dt = (name: string, required = true) => dateTimeArb.map((t) => v(name, 'dateTime', t, required));
const g = (name: string, required = true) => guidArb.map((t) => v(name, 'guid', t, required));
const n = (name: string, min: number, max: number, required = true) =>
  fc.integer({ min, max }).map((i) => v(name, 'integer', String(i), required));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const some = <T>(arb: fc.Arbitrary<T>, maxLength = 2, minLength = 0) =>
  fc.array(arb, { minLength, maxLength });

/** Well-formed, namespace-correct content for xs:anyType (nothing named like a global element). */
const anyContentArb = fc.constantFrom(
  '',
  'fritekst',
  '<felt>1</felt>',
  '<sak nr="12"><del>tekst &amp; mer</del><tom/></sak>',
  '<x:data xmlns:x="urn:example:fagsystem" x:versjon="2">verdi</x:data>',
  'blandet <b>innhold</b> her',
  '<system>ikke validert i lax-innhold</system>',
);

const merknad = fc
  .tuple(s('merknadstekst'), maybe(s('merknadstype')), dt('merknadsdato'), s('merknadRegistrertAv'))
  .map(([a, b, c, d2]) => e('merknad', [a, optional(b), c, d2]));
const kryssreferanse = fc
  .tuple(maybe(s('referanseTilKlasse')), maybe(s('referanseTilMappe')), maybe(s('referanseTilRegistrering')))
  .map(([a, b, c]) => e('kryssreferanse', [optional(a), optional(b), optional(c)]));
const skjerming = fc
  .tuple(
    s('tilgangsrestriksjon'),
    s('skjermingshjemmel'),
    some(s('skjermingMetadata'), 3, 1),
    maybe(enumNode('skjermingDokument', 'skjermingDokument')),
    maybe(n('skjermingsvarighet', 0, 100)),
    maybe(d('skjermingOpphoererDato')),
  )
  .map(([a, b, metadata, c, d2, f]) =>
    e('skjerming', [
      a,
      b,
      // skjermingMetadata is 1..n: each is required only when it is the only one.
      metadata.length === 1 ? metadata : optionals(metadata),
      optional(c),
      optional(d2),
      optional(f),
    ]),
  );
const gradering = fc
  .tuple(
    enumNode('gradering', 'gradering'),
    dt('graderingsdato'),
    s('gradertAv'),
    maybe(dt('nedgraderingsdato')),
    maybe(s('nedgradertAv')),
  )
  .map(([a, b, c, d2, f]) => e('gradering', [a, b, c, optional(d2), optional(f)]));
const klassifikasjon = fc
  .tuple(
    s('referanseKlassifikasjonssystem'),
    s('klasseID'),
    s('tittel'),
    maybe(s('beskrivelse')),
    some(s('noekkelord', false)),
    maybe(dt('opprettetDato')),
    maybe(s('opprettetAv')),
  )
  .map(([a, b, c, d2, nk, f, h]) =>
    e('klassifikasjon', [a, b, c, optional(d2), optionals(nk), optional(f), optional(h)]),
  );
const presedens = fc
  .tuple(
    d('presedensDato'),
    dt('opprettetDato'),
    s('opprettetAv'),
    s('tittel'),
    maybe(s('beskrivelse')),
    maybe(s('presedensHjemmel')),
    s('rettskildefaktor'),
    maybe(dt('presedensGodkjentDato')),
    maybe(s('presedensGodkjentAv')),
    maybe(dt('avsluttetDato')),
    maybe(s('avsluttetAv')),
    maybe(enumNode('presedensStatus', 'presedensstatus')),
  )
  .map(([a, b, c, d2, f, h, i, j, k, l, m, o]) =>
    e('presedens', [
      a,
      b,
      c,
      d2,
      optional(f),
      optional(h),
      i,
      optional(j),
      optional(k),
      optional(l),
      optional(m),
      optional(o),
    ]),
  );
const addressFields = fc.tuple(
  some(s('postadresse', false)),
  maybe(s('postnummer')),
  maybe(s('poststed')),
  maybe(s('land')),
  maybe(s('epostadresse')),
  some(s('telefonnummer', false)),
  maybe(s('kontaktperson')),
);
const sakspart = fc
  .tuple(maybe(s('sakspartID')), s('sakspartNavn'), s('sakspartRolle'), addressFields, maybe(anyContentArb))
  .map(([id, navn, rolle, [pa, pn, ps, land, ep, tlf, kp], meta]) =>
    e('sakspart', [
      optional(id),
      navn,
      rolle,
      pa,
      optional(pn),
      optional(ps),
      optional(land),
      optional(ep),
      tlf,
      optional(kp),
      meta === undefined
        ? undefined
        : { name: 'virksomhetsspesifikkeMetadata', anyContent: meta, required: false },
    ]),
  );
const korrespondansepart = (type?: fc.Arbitrary<Node>) =>
  fc
    .tuple(
      type ?? enumNode('korrespondanseparttype', 'korrespondanseparttype'),
      personArb.map((t) => v('korrespondansepartNavn', 'string', t)),
      addressFields,
      maybe(s('administrativEnhet')),
      maybe(s('saksbehandler')),
    )
    .map(([type2, navn, [pa, pn, ps, land, ep, tlf, kp], ae, sb]) =>
      e('korrespondansepart', [
        type2,
        navn,
        pa,
        optional(pn),
        optional(ps),
        optional(land),
        optional(ep),
        tlf,
        optional(kp),
        optional(ae),
        optional(sb),
      ]),
    );
const avskrivning = fc
  .tuple(
    d('avskrivningsdato'),
    s('avskrevetAv'),
    enumNode('avskrivningsmaate', 'avskrivningsmaate'),
    maybe(s('referanseAvskrivesAvJournalpost')),
  )
  .map(([a, b, c, d2]) => e('avskrivning', [a, b, c, optional(d2)]));
const dokumentflyt = fc
  .tuple(
    s('flytTil'),
    s('flytFra'),
    dt('flytMottattDato'),
    dt('flytSendtDato'),
    s('flytStatus'),
    maybe(s('flytMerknad')),
  )
  .map(([a, b, c, d2, f, h]) => e('dokumentflyt', [a, b, c, d2, f, optional(h)]));

const dokumentobjekt = (file: string) =>
  fc
    .tuple(
      n('versjonsnummer', 1, 9),
      enumNode('variantformat', 'variantformat'),
      dt('opprettetDato'),
      s('opprettetAv'),
    )
    .map(([a, b, c, d2]) => e('dokumentobjekt', [a, b, c, d2, v('referanseDokumentfil', 'filename', file)]));

const dokumentbeskrivelse = (nummer: number, files: string[]) =>
  fc
    .tuple(
      g('systemID'),
      s('dokumenttype'),
      enumNode('dokumentstatus', 'dokumentstatus'),
      s('tittel'),
      maybe(s('beskrivelse')),
      some(s('forfatter', false)),
      dt('opprettetDato'),
      s('opprettetAv'),
      maybe(enumNode('dokumentmedium', 'dokumentmedium')),
      maybe(s('oppbevaringssted')),
      some(s('referanseArkivdel', false)),
      enumNode('tilknyttetRegistreringSom', 'tilknyttetRegistreringSom'),
      dt('tilknyttetDato'),
      s('tilknyttetAv'),
      some(
        merknad.map((m) => ({ ...m, required: false })),
        1,
      ),
      maybe(skjerming),
      maybe(gradering),
      fc.tuple(...files.map((f) => dokumentobjekt(f))),
    )
    .map(
      ([sid, type, status, tittel, besk, forf, od, oa, med, opp, ref, som, td, ta, mk, skj, gr, objekter]) =>
        e('dokumentbeskrivelse', [
          sid,
          type,
          status,
          tittel,
          optional(besk),
          forf,
          od,
          oa,
          optional(med),
          optional(opp),
          ref,
          som,
          v('dokumentnummer', 'integer', String(nummer)),
          td,
          ta,
          mk,
          optional(skj),
          optional(gr),
          optionals(objekter),
        ]),
    );

/** The registrering base content, then the files; `reference` picks the required choice. */
const registreringBase = (files: string[][]) =>
  fc
    .tuple(
      g('systemID'),
      dt('opprettetDato'),
      s('opprettetAv'),
      dt('arkivertDato'),
      s('arkivertAv'),
      maybe(s('registreringsID')),
      fc.oneof(g('referanseForelderMappe'), s('referanseArkivdel'), g('referanseKlasse')),
      maybe(skjerming),
      maybe(gradering),
      fc.shuffledSubarray(
        files.map((_, i) => i + 1),
        { minLength: files.length, maxLength: files.length },
      ),
    )
    .chain(([sid, od, oa, ad, aa, rid, ref, skj, gr, order]) =>
      fc
        .tuple(...order.map((nr) => dokumentbeskrivelse(nr, files[nr - 1] ?? [])))
        .map((beskrivelser) => [
          sid,
          od,
          oa,
          ad,
          aa,
          optional(rid),
          ref,
          optional(skj),
          optional(gr),
          beskrivelser.map((b) => ({ ...b, required: false, interleaved: true })),
        ]),
    );

const basisregistreringExtension = (offentligTittel: fc.Arbitrary<Node | undefined>) =>
  fc
    .tuple(
      nonEmptyTextArb.map((t) => v('tittel', 'string', t)),
      offentligTittel,
      maybe(s('beskrivelse')),
      some(s('noekkelord', false)),
      some(s('forfatter', false)),
      maybe(enumNode('dokumentmedium', 'dokumentmedium')),
      some(s('oppbevaringssted', false)),
      maybe(anyContentArb),
      some(
        merknad.map((m) => ({ ...m, required: false })),
        1,
      ),
      some(
        kryssreferanse.map((k) => ({ ...k, required: false })),
        1,
      ),
    )
    .map(([tittel, ot, besk, nk, forf, med, opp, meta, mk, kr]) => [
      tittel,
      optional(ot),
      optional(besk),
      nk,
      forf,
      optional(med),
      opp,
      meta === undefined
        ? undefined
        : { name: 'virksomhetsspesifikkeMetadata', anyContent: meta, required: false },
      mk,
      kr,
    ]);

/** How a confidential journalpost tells the receiver which case or reader it concerns. */
type Identification = 'caseNumber' | 'mottaker' | 'titleReference';

const journalpostExtension = (identification: Identification | null) =>
  fc
    .tuple(
      maybe(n('journalaar', 1990, 2099)),
      maybe(n('journalsekvensnummer', 1, 99999)),
      maybe(n('journalpostnummer', 1, 999)),
      enumNode('journalposttype', 'journalposttype'),
      enumNode('journalstatus', 'journalstatus'),
      d('journaldato'),
      maybe(d('dokumentetsDato')),
      maybe(dt('mottattDato')),
      maybe(dt('sendtDato')),
      maybe(d('forfallsdato')),
      maybe(d('offentlighetsvurdertDato')),
      maybe(n('antallVedlegg', 0, 20)),
      maybe(fc.tuple(d('utlaantDato'), s('utlaantTil'))),
      maybe(s('journalenhet')),
      some(korrespondansepart(), 2),
      identification === 'mottaker'
        ? korrespondansepart(
            fc.constant(v('korrespondanseparttype', 'enum', 'Mottaker', true, ENUMS.korrespondanseparttype)),
          ).map((k) => [k])
        : fc.constant([] as Node[]),
      some(avskrivning, 1),
      some(dokumentflyt, 1),
      some(presedens, 1),
    )
    .map(
      ([ja, js, jn, type, status, jd, dd, md, sd, fd, od, av, ut, je, parts, mottaker, avs, flyt, pres]) => [
        optional(ja),
        optional(js),
        optional(jn),
        type,
        status,
        jd,
        optional(dd),
        optional(md),
        optional(sd),
        optional(fd),
        optional(od),
        optional(av),
        ut ? optionals(ut) : undefined,
        optional(je),
        optionals([...mottaker, ...parts]),
        optionals(avs),
        optionals(flyt),
        optionals(pres),
      ],
    );

const PUBLIC_TITLES = [
  'Vedtak om',
  'Melding om',
  'Tilsynsrapport for',
  'Svar på henvendelse om',
  'Innkalling til',
];
const publicTitleArb = (withCase: boolean) =>
  fc
    .tuple(
      fc.constantFrom(...PUBLIC_TITLES),
      textArb,
      fc.integer({ min: 2000, max: 2099 }),
      fc.integer({ min: 1, max: 99999 }),
    )
    .map(([start, rest, year, seq]) => `${start} ${rest}${withCase ? `, sak ${year}/${seq}` : ''}`);

function filesArb(): fc.Arbitrary<string[][]> {
  // Each dokumentbeskrivelse gets 0-2 distinct files; names are unique across the document.
  return fc.uniqueArray(filenameArb, { maxLength: 6 }).chain((names) =>
    fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 0, maxLength: 4 }).map((sizes) => {
      const groups: string[][] = [];
      let at = 0;
      for (const size of sizes) {
        groups.push(names.slice(at, at + size));
        at += size;
      }
      return groups;
    }),
  );
}

/** A journalpost (as basisregistrering xsi:type="journalpost") valid for confidential eFormidling. */
const journalpostArb = (elementName: string, confidential: boolean) =>
  fc
    .tuple(filesArb(), fc.constantFrom<Identification>('caseNumber', 'mottaker', 'titleReference'))
    .chain(([files, identification]) =>
      fc
        .tuple(
          registreringBase(files),
          basisregistreringExtension(
            confidential
              ? publicTitleArb(identification === 'titleReference').map((t) =>
                  v('offentligTittel', 'string', t, true),
                )
              : maybe(s('offentligTittel')),
          ),
          journalpostExtension(confidential ? identification : null),
        )
        .map(([base, ext, jp]) => ({
          node: e(elementName, [...base, ...ext, ...jp], true, 'journalpost'),
          files: files.flat(),
          identification,
        })),
    );

const mappeBase = (children: fc.Arbitrary<Node[]>) =>
  fc
    .tuple(
      g('systemID'),
      maybe(s('mappeID')),
      maybe(g('ReferanseForeldermappe')),
      nonEmptyTextArb.map((t) => v('tittel', 'string', t)),
      maybe(s('offentligTittel')),
      maybe(s('beskrivelse')),
      some(s('noekkelord', false)),
      maybe(enumNode('dokumentmedium', 'dokumentmedium')),
      some(s('oppbevaringssted', false)),
      dt('opprettetDato'),
      s('opprettetAv'),
      maybe(dt('avsluttetDato')),
      maybe(s('avsluttetAv')),
      some(s('referanseArkivdel', false)),
      maybe(anyContentArb),
      some(
        kryssreferanse.map((k) => ({ ...k, required: false })),
        1,
      ),
      some(
        merknad.map((m) => ({ ...m, required: false })),
        1,
      ),
      maybe(skjerming),
      maybe(gradering),
      some(
        klassifikasjon.map((k) => ({ ...k, required: false })),
        2,
      ),
      children,
    )
    .map(
      ([
        sid,
        mid,
        rfm,
        tittel,
        ot,
        besk,
        nk,
        med,
        opp,
        od,
        oa,
        ad,
        aa,
        ref,
        meta,
        kr,
        mk,
        skj,
        gr,
        kl,
        ch,
      ]) => [
        sid,
        optional(mid),
        optional(rfm),
        tittel,
        optional(ot),
        optional(besk),
        nk,
        optional(med),
        opp,
        od,
        oa,
        optional(ad),
        optional(aa),
        ref,
        meta === undefined
          ? undefined
          : { name: 'virksomhetsspesifikkeMetadata', anyContent: meta, required: false },
        kr,
        mk,
        optional(skj),
        optional(gr),
        kl,
        ch,
      ],
    );

const saksmappeExtension = (caseNumber: boolean) =>
  fc
    .tuple(
      fc.integer({ min: 1990, max: 2099 }),
      fc.integer({ min: 1, max: 99999 }),
      d('saksdato'),
      s('administrativEnhet'),
      s('saksansvarlig'),
      maybe(s('journalenhet')),
      enumNode('saksstatus', 'saksstatus'),
      some(s('referanseSekundaerKlassifikasjon', false)),
      some(
        sakspart.map((p) => ({ ...p, required: false })),
        1,
      ),
      some(
        presedens.map((p) => ({ ...p, required: false })),
        1,
      ),
    )
    .map(([aar, seq, sd, ae, sa, je, st, rsk, sp, pr]) => [
      caseNumber
        ? [v('saksaar', 'integer', String(aar), false), v('sakssekvensnummer', 'integer', String(seq), false)]
        : [],
      sd,
      ae,
      sa,
      optional(je),
      st,
      rsk,
      sp,
      pr,
    ]);

/** A plain mappe, possibly nested, for variety around the saksmappe. */
const plainMappeArb: fc.Arbitrary<Node> = fc.letrec<{ mappe: Node }>((tie) => ({
  mappe: mappeBase(
    fc.oneof(
      { weight: 3, arbitrary: fc.constant([] as Node[]) },
      { weight: 1, arbitrary: fc.array(tie('mappe'), { maxLength: 1 }).map((ms) => optionals(ms)) },
    ),
  ).map((children) => e('mappe', children, false)),
})).mappe;

export interface GeneratedDocument {
  root: Node;
  /** Files the journalpost references, as validateArkivmelding should list them (dokumentnummer order). */
  referencedFiles: string[];
}

/** A document eFormidling accepts for confidential post: saksmappe → journalpost, plus optional variety. */
export const eformidlingDocumentArb: fc.Arbitrary<GeneratedDocument> = journalpostArb(
  'basisregistrering',
  true,
).chain(({ node: journalpost, files, identification }) =>
  fc
    .tuple(
      stringArb,
      stringArb,
      dateTimeArb,
      mappeBase(fc.constant([{ ...journalpost, required: false }])),
      saksmappeExtension(identification === 'caseNumber'),
      fc.array(plainMappeArb, { maxLength: 1 }),
    )
    .map(([system, meldingId, tidspunkt, base, ext, more]) => {
      const saksmappe = e('mappe', [...base, ...ext], false, 'saksmappe');
      return {
        root: e('arkivmelding', [
          v('system', 'string', system),
          v('meldingId', 'string', meldingId),
          v('tidspunkt', 'dateTime', tidspunkt),
          v('antallFiler', 'int', String(files.length)),
          saksmappe,
          more,
        ]),
        referencedFiles: orderedFiles(journalpost),
      };
    }),
);

function orderedFiles(journalpost: Node): string[] {
  const beskrivelser = (journalpost.children ?? []).filter((c) => c.name === 'dokumentbeskrivelse');
  const nummer = (b: Node) => Number(b.children?.find((c) => c.name === 'dokumentnummer')?.value?.text);
  return [...beskrivelser]
    .sort((a, b) => nummer(a) - nummer(b))
    .flatMap((b) =>
      (b.children ?? [])
        .filter((c) => c.name === 'dokumentobjekt')
        .map((o) => o.children?.find((c) => c.name === 'referanseDokumentfil')?.value?.text ?? ''),
    );
}

/** Schema-valid documents with more variety than eFormidling needs: registrering at the top, plain mapper. */
export const schemaDocumentArb: fc.Arbitrary<GeneratedDocument> = fc.oneof(
  eformidlingDocumentArb,
  fc
    .tuple(
      stringArb,
      stringArb,
      dateTimeArb,
      fc.integer({ min: 0, max: 2147483647 }),
      fc.array(plainMappeArb, { maxLength: 2 }),
    )
    .map(([system, meldingId, tidspunkt, antall, mapper]) => ({
      root: e('arkivmelding', [
        v('system', 'string', system),
        v('meldingId', 'string', meldingId),
        v('tidspunkt', 'dateTime', tidspunkt),
        v('antallFiler', 'int', String(antall)),
        mapper,
      ]),
      referencedFiles: [],
    })),
  fc
    .tuple(
      stringArb,
      dateTimeArb,
      fc.array(journalpostArb('registrering', false), { minLength: 1, maxLength: 2 }),
    )
    .map(([system, tidspunkt, registreringer]) => ({
      root: e('arkivmelding', [
        v('system', 'string', system),
        v('meldingId', 'string', 'm-1'),
        v('tidspunkt', 'dateTime', tidspunkt),
        v('antallFiler', 'int', '0'),
        registreringer.map((r) => ({ ...r.node, required: false })),
      ]),
      referencedFiles: [],
    })),
);

// Serialisation -----------------------------------------------------------------------------------------

export interface Style {
  /** Prefix for the arkivmelding namespace; '' makes it the default namespace. */
  prefix: '' | 'am' | 'n5a';
  xsiPrefix: 'xsi' | 'i';
  indent: boolean;
  /** Every n-th element is preceded by a comment (0: none). */
  commentEvery: number;
  /** Write string values as CDATA sections where possible. */
  cdata: boolean;
  /** Write non-ASCII characters as numeric character references. */
  charRefs: boolean;
}

export const styleArb: fc.Arbitrary<Style> = fc.record({
  prefix: fc.constantFrom<Style['prefix']>('', '', 'am', 'n5a'),
  xsiPrefix: fc.constantFrom<Style['xsiPrefix']>('xsi', 'i'),
  indent: fc.boolean(),
  commentEvery: fc.constantFrom(0, 0, 3, 7),
  cdata: fc.boolean(),
  charRefs: fc.boolean(),
});

export const DEFAULT_STYLE: Style = {
  prefix: '',
  xsiPrefix: 'xsi',
  indent: true,
  commentEvery: 0,
  cdata: false,
  charRefs: false,
};

function escapeText(text: string, style: Style, kind: ValueKind): string {
  if (style.cdata && kind === 'string' && !text.includes(']]>') && text !== '') return `<![CDATA[${text}]]>`;
  let out = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  if (style.charRefs)
    out = out.replace(/[\u0080-\u{10FFFF}]/gu, (ch) => `&#x${(ch.codePointAt(0) ?? 0).toString(16)};`);
  return out;
}

export function serialize(doc: Node, style: Style = DEFAULT_STYLE): string {
  const p = style.prefix ? `${style.prefix}:` : '';
  const nsDecl = style.prefix ? `xmlns:${style.prefix}="${AM_NS}"` : `xmlns="${AM_NS}"`;
  let counter = 0;
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  const write = (node: Node, depth: number, root: boolean) => {
    const ind = style.indent ? '  '.repeat(depth) : '';
    const nl = style.indent ? '\n' : '';
    counter++;
    if (style.commentEvery > 0 && counter % style.commentEvery === 0)
      out.push(`${ind}<!-- element ${counter} -->${nl}`);
    let attrs = root ? ` ${nsDecl} xmlns:${style.xsiPrefix}="${XSI_NS}"` : '';
    if (node.xsiType) attrs += ` ${style.xsiPrefix}:type="${p}${node.xsiType}"`;
    const tag = `${p}${node.name}`;
    if (node.value) {
      out.push(`${ind}<${tag}${attrs}>${escapeText(node.value.text, style, node.value.kind)}</${tag}>${nl}`);
    } else if (node.anyContent !== undefined) {
      out.push(`${ind}<${tag}${attrs}>${node.anyContent}</${tag}>${nl}`);
    } else {
      const children = node.children ?? [];
      if (children.length === 0) {
        out.push(`${ind}<${tag}${attrs}/>${nl}`);
        return;
      }
      out.push(`${ind}<${tag}${attrs}>${nl}`);
      for (const c of children) write(c, depth + 1, false);
      out.push(`${ind}</${tag}>${nl}`);
    }
  };
  write(doc, 0, true);
  return out.join('');
}

// Mutations ---------------------------------------------------------------------------------------------

export type MutationKind =
  | 'dropRequired'
  | 'swapSiblings'
  | 'corruptValue'
  | 'changeEnum'
  | 'addUnknownElement';

export interface Mutation {
  kind: MutationKind;
  description: string;
  root: Node;
}

interface Located {
  node: Node;
  parent: Node | null;
  index: number;
}

function walk(root: Node): Located[] {
  const all: Located[] = [];
  const visit = (node: Node, parent: Node | null, index: number) => {
    all.push({ node, parent, index });
    for (const [i, c] of (node.children ?? []).entries()) visit(c, node, i);
  };
  visit(root, null, 0);
  return all;
}

/** A deep copy in which `at` (a path of child indexes) is replaced by what `change` returns for its parent. */
function changeAt(root: Node, path: number[], change: (parent: Node) => Node): Node {
  if (path.length === 0) return change(root);
  const [head, ...rest] = path;
  const children = [...(root.children ?? [])];
  const child = children[head as number];
  if (!child) return root;
  children[head as number] = changeAt(child, rest, change);
  return { ...root, children };
}

function pathTo(root: Node, target: Node): number[] | null {
  if (root === target) return [];
  for (const [i, c] of (root.children ?? []).entries()) {
    const sub = pathTo(c, target);
    if (sub) return [i, ...sub];
  }
  return null;
}

const CORRUPT: Partial<Record<ValueKind, readonly string[]>> = {
  int: ['en', '1.5', '2147483648', '', '12 3', '0x10'],
  integer: ['1.0', 'tolv', '', '1e3', '--1', '12345678901234567890123456'],
  date: ['14.03.2025', '2025-02-30', '2025-13-01', '2025-1-01', '', '2025-03-14T10:00:00', '0000-01-01'],
  dateTime: [
    '2025-03-14 10:00:00',
    '2025-03-14',
    '2025-03-14T25:00:00',
    'i går',
    '2025-03-14T10:00:00+15:00',
    '',
  ],
  guid: ['ikke-en-guid', '12345678-1234-1234-1234-1234567890', '{12345678-1234-1234-1234-123456789012', ''],
};

/** Every mutation of `root` that must make it schema-invalid, as a function of a random index. */
export function breakingMutations(root: Node): Array<() => Mutation> {
  const located = walk(root);
  const mutations: Array<() => Mutation> = [];
  for (const { node, parent, index } of located) {
    if (!parent) continue;
    const parentPath = pathTo(root, parent) as number[];
    const siblings = parent.children ?? [];
    const sameName = siblings.filter((c) => c.name === node.name).length;
    if (node.required && sameName === 1 && !node.interleaved) {
      mutations.push(() => ({
        kind: 'dropRequired',
        description: `drop required <${node.name}> from <${parent.name}>`,
        root: changeAt(root, parentPath, (p) => ({ ...p, children: siblings.filter((_, i) => i !== index) })),
      }));
    }
    const next = siblings[index + 1];
    if (next && next.name !== node.name && !(node.interleaved && next.interleaved)) {
      mutations.push(() => ({
        kind: 'swapSiblings',
        description: `swap <${node.name}> and <${next.name}> in <${parent.name}>`,
        root: changeAt(root, parentPath, (p) => {
          const cs = [...siblings];
          cs[index] = next;
          cs[index + 1] = node;
          return { ...p, children: cs };
        }),
      }));
    }
    const bad = node.value ? CORRUPT[node.value.kind] : undefined;
    if (node.value && bad) {
      const value = node.value;
      for (const text of bad) {
        mutations.push(() => ({
          kind: 'corruptValue',
          description: `set <${node.name}> (${value.kind}) to '${text}'`,
          root: changeAt(root, [...parentPath, index], (n2) => ({ ...n2, value: { ...value, text } })),
        }));
      }
    }
    if (node.value?.kind === 'enum' && node.value.enumValues) {
      const value = node.value;
      const enumValues = value.enumValues ?? [];
      for (const text of [value.text.toLowerCase(), `${value.text}x`, ` ${value.text}`]) {
        if (enumValues.includes(text)) continue;
        mutations.push(() => ({
          kind: 'changeEnum',
          description: `set <${node.name}> to '${text}'`,
          root: changeAt(root, [...parentPath, index], (n2) => ({ ...n2, value: { ...value, text } })),
        }));
      }
    }
  }
  for (const { node } of located) {
    if (!node.children) continue;
    const path = pathTo(root, node) as number[];
    const count = node.children.length;
    for (const at of new Set([0, Math.floor(count / 2), count])) {
      mutations.push(() => ({
        kind: 'addUnknownElement',
        description: `add <ukjentElement> to <${node.name}> at ${at}`,
        root: changeAt(root, path, (p) => {
          const cs = [...(p.children ?? [])];
          cs.splice(at, 0, v('ukjentElement', 'string', 'x'));
          return { ...p, children: cs };
        }),
      }));
    }
  }
  return mutations;
}

/** A generated document with one mutation that must break schema validity. */
export const mutatedDocumentArb = (docs: fc.Arbitrary<GeneratedDocument>) =>
  fc.tuple(docs, fc.nat(), styleArb).map(([doc, pick, style]) => {
    const mutations = breakingMutations(doc.root);
    const mutation = (mutations[pick % mutations.length] as () => Mutation)();
    return { mutation, xml: serialize(mutation.root, style) };
  });

const XSI_TYPES = [
  'mappe',
  'saksmappe',
  'registrering',
  'basisregistrering',
  'journalpost',
  'klasse',
  'GUID',
  'Saksmappe',
];
const EDGE_VALUES: Partial<Record<ValueKind, readonly string[]>> = {
  int: ['-2147483648', '2147483647', '+0', '-0', '000012'],
  integer: [' 7 ', '+0012', '-0', '123456789012345678901234', '1234567890123456789012345'],
  date: [
    '2024-02-29',
    '2023-02-29',
    '-0004-02-29',
    '-0001-02-29',
    '10000-01-01',
    '2024-01-01+14:00',
    '2024-01-01+14:30',
  ],
  dateTime: [
    '2024-01-01T24:00:00',
    '2024-01-01T24:00:00.5',
    '2024-12-31T23:59:60',
    '2024-01-01T10:00:00.',
    '2024-01-01T10:00:00-14:00',
  ],
  guid: [
    '{00000000-0000-0000-0000-000000000000}',
    '00000000-0000-0000-0000-00000000000G',
    ' 00000000-0000-0000-0000-000000000000',
  ],
};

/**
 * Mutations whose effect on validity is not known in advance (whitespace around typed values, edge values,
 * dropping or repeating any element, moving it, another xsi:type): only agreement with xmllint is checked.
 */
export function uncertainMutations(root: Node): Array<() => { description: string; root: Node }> {
  const mutations: Array<() => { description: string; root: Node }> = [];
  for (const { node, parent, index } of walk(root)) {
    if (!parent) continue;
    const parentPath = pathTo(root, parent) as number[];
    const siblings = parent.children ?? [];
    const here = [...parentPath, index];
    mutations.push(() => ({
      description: `drop <${node.name}>`,
      root: changeAt(root, parentPath, (p) => ({ ...p, children: siblings.filter((_, i) => i !== index) })),
    }));
    mutations.push(() => ({
      description: `repeat <${node.name}>`,
      root: changeAt(root, parentPath, (p) => ({
        ...p,
        children: [...siblings.slice(0, index + 1), ...siblings.slice(index)],
      })),
    }));
    const target = (index * 7 + 3) % Math.max(1, siblings.length);
    mutations.push(() => ({
      description: `move <${node.name}> to ${target}`,
      root: changeAt(root, parentPath, (p) => {
        const cs = siblings.filter((_, i) => i !== index);
        cs.splice(target, 0, node);
        return { ...p, children: cs };
      }),
    }));
    if (node.value) {
      const value = node.value;
      mutations.push(() => ({
        description: `surround <${node.name}> (${value.kind}) with whitespace`,
        root: changeAt(root, here, (n2) => ({ ...n2, value: { ...value, text: ` ${value.text}\n` } })),
      }));
      for (const text of EDGE_VALUES[value.kind] ?? []) {
        mutations.push(() => ({
          description: `set <${node.name}> (${value.kind}) to '${text}'`,
          root: changeAt(root, here, (n2) => ({ ...n2, value: { ...value, text } })),
        }));
      }
    }
    if (node.children && ['mappe', 'basisregistrering', 'registrering'].includes(node.name)) {
      for (const xsiType of XSI_TYPES) {
        mutations.push(() => ({
          description: `xsi:type="${xsiType}" on <${node.name}>`,
          root: changeAt(root, here, (n2) => ({ ...n2, xsiType })),
        }));
      }
      mutations.push(() => ({
        description: `no xsi:type on <${node.name}>`,
        root: changeAt(root, here, (n2) => {
          const { xsiType: _dropped, ...rest } = n2;
          return rest;
        }),
      }));
    }
  }
  return mutations;
}

/** A generated document with one mutation of unknown effect. */
export const uncertainDocumentArb = (docs: fc.Arbitrary<GeneratedDocument>) =>
  fc.tuple(docs, fc.nat(), styleArb).map(([doc, pick, style]) => {
    const mutations = uncertainMutations(doc.root);
    const mutation = (mutations[pick % mutations.length] as () => { description: string; root: Node })();
    return { description: mutation.description, xml: serialize(mutation.root, style) };
  });
