/**
 * Our own description of the arkivmelding 2.x schema (Arkivverket's arkivmelding.xsd, which imports the Noark 5
 * metadatakatalog), written as data that src/domain/arkivmelding interprets. Element names, order, occurrence
 * bounds, type derivations, patterns and enumerations follow the published schema; nothing here is read from
 * the XSD at runtime.
 */

export const ARKIVMELDING_NS = 'http://www.arkivverket.no/standarder/noark5/arkivmelding';
export const METADATAKATALOG_NS = 'http://www.arkivverket.no/standarder/noark5/metadatakatalog';
export const XSD_NS = 'http://www.w3.org/2001/XMLSchema';
export const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';

/** Type names are written prefix:local with these fixed prefixes; the prefix is ours, not the document's. */
export const TYPE_PREFIXES = { am: ARKIVMELDING_NS, n5: METADATAKATALOG_NS, xs: XSD_NS } as const;
export type TypeName = `${keyof typeof TYPE_PREFIXES}:${string}`;

export type MaxOccurs = number | 'unbounded';

export interface ElementParticle {
  readonly kind: 'element';
  readonly name: string;
  readonly type: TypeName;
  readonly min: number;
  readonly max: MaxOccurs;
}

export interface GroupParticle {
  readonly kind: 'sequence' | 'choice';
  readonly particles: readonly Particle[];
  readonly min: number;
  readonly max: MaxOccurs;
}

export type Particle = ElementParticle | GroupParticle;

export interface ComplexTypeDefinition {
  /** Derivation by extension: the base's content comes first, then this sequence. */
  readonly extends?: TypeName;
  readonly content: GroupParticle;
}

export interface SimpleTypeDefinition {
  readonly restricts: TypeName;
  readonly enumeration?: readonly string[];
  /** XSD regular expression, implicitly anchored; the syntax used here is also valid JavaScript. */
  readonly pattern?: string;
  readonly length?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
}

export interface SchemaDefinition {
  readonly targetNamespace: string;
  readonly globalElements: Readonly<Record<string, TypeName>>;
  readonly complexTypes: Readonly<Record<TypeName, ComplexTypeDefinition>>;
  readonly simpleTypes: Readonly<Record<TypeName, SimpleTypeDefinition>>;
}

// Small constructors keep the tables below close to how the schema reads.
const req = (name: string, type: TypeName): ElementParticle => ({
  kind: 'element',
  name,
  type,
  min: 1,
  max: 1,
});
const opt = (name: string, type: TypeName): ElementParticle => ({
  kind: 'element',
  name,
  type,
  min: 0,
  max: 1,
});
const many = (name: string, type: TypeName, min = 0): ElementParticle => ({
  kind: 'element',
  name,
  type,
  min,
  max: 'unbounded',
});
const seq = (particles: Particle[], min = 1, max: MaxOccurs = 1): GroupParticle => ({
  kind: 'sequence',
  particles,
  min,
  max,
});
const choice = (particles: Particle[], min = 1, max: MaxOccurs = 1): GroupParticle => ({
  kind: 'choice',
  particles,
  min,
  max,
});
const n5 = (local: string): TypeName => `n5:${local}`;

const complexTypes: Record<TypeName, ComplexTypeDefinition> = {
  'am:arkivmelding': {
    content: seq([
      req('system', 'xs:string'),
      req('meldingId', 'xs:string'),
      req('tidspunkt', 'xs:dateTime'),
      req('antallFiler', 'xs:int'),
      choice([many('mappe', 'am:mappe'), many('registrering', 'am:registrering')]),
    ]),
  },
  'am:mappe': {
    content: seq([
      req('systemID', 'am:GUID'),
      opt('mappeID', n5('mappeID')),
      opt('ReferanseForeldermappe', 'am:GUID'),
      req('tittel', n5('tittel')),
      opt('offentligTittel', n5('offentligTittel')),
      opt('beskrivelse', n5('beskrivelse')),
      many('noekkelord', n5('noekkelord')),
      opt('dokumentmedium', n5('dokumentmedium')),
      many('oppbevaringssted', n5('oppbevaringssted')),
      req('opprettetDato', n5('opprettetDato')),
      req('opprettetAv', n5('opprettetAv')),
      opt('avsluttetDato', n5('avsluttetDato')),
      opt('avsluttetAv', n5('avsluttetAv')),
      many('referanseArkivdel', n5('referanseArkivdel')),
      opt('virksomhetsspesifikkeMetadata', 'xs:anyType'),
      many('kryssreferanse', 'am:kryssreferanse'),
      many('merknad', 'am:merknad'),
      opt('skjerming', 'am:skjerming'),
      opt('gradering', 'am:gradering'),
      many('klassifikasjon', 'am:klassifikasjon'),
      choice([many('mappe', 'am:mappe'), many('basisregistrering', 'am:basisregistrering')], 0),
    ]),
  },
  'am:saksmappe': {
    extends: 'am:mappe',
    content: seq([
      opt('saksaar', n5('saksaar')),
      opt('sakssekvensnummer', n5('sakssekvensnummer')),
      req('saksdato', n5('saksdato')),
      req('administrativEnhet', n5('administrativEnhet')),
      req('saksansvarlig', n5('saksansvarlig')),
      opt('journalenhet', n5('journalenhet')),
      req('saksstatus', n5('saksstatus')),
      many('referanseSekundaerKlassifikasjon', n5('referanseSekundaerKlassifikasjon')),
      many('sakspart', 'am:sakspart'),
      many('presedens', 'am:presedens'),
    ]),
  },
  'am:sakspart': {
    content: seq([
      opt('sakspartID', n5('sakspartID')),
      req('sakspartNavn', n5('sakspartNavn')),
      req('sakspartRolle', n5('sakspartRolle')),
      many('postadresse', n5('postadresse')),
      opt('postnummer', n5('postnummer')),
      opt('poststed', n5('poststed')),
      opt('land', n5('land')),
      opt('epostadresse', n5('epostadresse')),
      many('telefonnummer', n5('telefonnummer')),
      opt('kontaktperson', n5('kontaktperson')),
      opt('virksomhetsspesifikkeMetadata', 'xs:anyType'),
    ]),
  },
  'am:registrering': {
    content: seq([
      req('systemID', 'am:GUID'),
      req('opprettetDato', n5('opprettetDato')),
      req('opprettetAv', n5('opprettetAv')),
      req('arkivertDato', n5('arkivertDato')),
      req('arkivertAv', n5('arkivertAv')),
      opt('registreringsID', n5('registreringsID')),
      choice([
        req('referanseForelderMappe', 'am:GUID'),
        req('referanseArkivdel', n5('referanseArkivdel')),
        req('referanseKlasse', 'am:GUID'),
      ]),
      opt('skjerming', 'am:skjerming'),
      opt('gradering', 'am:gradering'),
      // Documents and loose document objects may interleave freely.
      seq(
        [many('dokumentbeskrivelse', 'am:dokumentbeskrivelse'), many('dokumentobjekt', 'am:dokumentobjekt')],
        0,
        'unbounded',
      ),
    ]),
  },
  'am:basisregistrering': {
    extends: 'am:registrering',
    content: seq([
      req('tittel', n5('tittel')),
      opt('offentligTittel', n5('offentligTittel')),
      opt('beskrivelse', n5('beskrivelse')),
      many('noekkelord', n5('noekkelord')),
      many('forfatter', n5('forfatter')),
      opt('dokumentmedium', n5('dokumentmedium')),
      many('oppbevaringssted', n5('oppbevaringssted')),
      opt('virksomhetsspesifikkeMetadata', 'xs:anyType'),
      many('merknad', 'am:merknad'),
      many('kryssreferanse', 'am:kryssreferanse'),
    ]),
  },
  'am:journalpost': {
    extends: 'am:basisregistrering',
    content: seq([
      opt('journalaar', n5('journalaar')),
      opt('journalsekvensnummer', n5('journalsekvensnummer')),
      opt('journalpostnummer', n5('journalpostnummer')),
      req('journalposttype', n5('journalposttype')),
      req('journalstatus', n5('journalstatus')),
      req('journaldato', n5('journaldato')),
      opt('dokumentetsDato', n5('dokumentetsDato')),
      opt('mottattDato', n5('mottattDato')),
      opt('sendtDato', n5('sendtDato')),
      opt('forfallsdato', n5('forfallsdato')),
      opt('offentlighetsvurdertDato', n5('offentlighetsvurdertDato')),
      opt('antallVedlegg', n5('antallVedlegg')),
      opt('utlaantDato', n5('utlaantDato')),
      opt('utlaantTil', n5('utlaantTil')),
      opt('journalenhet', n5('journalenhet')),
      many('korrespondansepart', 'am:korrespondansepart'),
      many('avskrivning', 'am:avskrivning'),
      many('dokumentflyt', 'am:dokumentflyt'),
      many('presedens', 'am:presedens'),
    ]),
  },
  'am:korrespondansepart': {
    content: seq([
      req('korrespondanseparttype', n5('korrespondanseparttype')),
      req('korrespondansepartNavn', n5('korrespondansepartNavn')),
      many('postadresse', n5('postadresse')),
      opt('postnummer', n5('postnummer')),
      opt('poststed', n5('poststed')),
      opt('land', n5('land')),
      opt('epostadresse', n5('epostadresse')),
      many('telefonnummer', n5('telefonnummer')),
      opt('kontaktperson', n5('kontaktperson')),
      opt('administrativEnhet', n5('administrativEnhet')),
      opt('saksbehandler', n5('saksbehandler')),
    ]),
  },
  'am:avskrivning': {
    content: seq([
      req('avskrivningsdato', n5('avskrivningsdato')),
      req('avskrevetAv', n5('avskrevetAv')),
      req('avskrivningsmaate', n5('avskrivningsmaate')),
      opt('referanseAvskrivesAvJournalpost', n5('referanseAvskrivesAvJournalpost')),
    ]),
  },
  'am:dokumentflyt': {
    content: seq([
      req('flytTil', n5('flytTil')),
      req('flytFra', n5('flytFra')),
      req('flytMottattDato', n5('flytMottattDato')),
      req('flytSendtDato', n5('flytSendtDato')),
      req('flytStatus', n5('flytStatus')),
      opt('flytMerknad', n5('flytMerknad')),
    ]),
  },
  'am:dokumentbeskrivelse': {
    content: seq([
      req('systemID', 'am:GUID'),
      req('dokumenttype', n5('dokumenttype')),
      req('dokumentstatus', n5('dokumentstatus')),
      req('tittel', n5('tittel')),
      opt('beskrivelse', n5('beskrivelse')),
      many('forfatter', n5('forfatter')),
      req('opprettetDato', n5('opprettetDato')),
      req('opprettetAv', n5('opprettetAv')),
      opt('dokumentmedium', n5('dokumentmedium')),
      opt('oppbevaringssted', n5('oppbevaringssted')),
      many('referanseArkivdel', n5('referanseArkivdel')),
      req('tilknyttetRegistreringSom', n5('tilknyttetRegistreringSom')),
      req('dokumentnummer', n5('dokumentnummer')),
      req('tilknyttetDato', n5('tilknyttetDato')),
      req('tilknyttetAv', n5('tilknyttetAv')),
      many('merknad', 'am:merknad'),
      opt('skjerming', 'am:skjerming'),
      opt('gradering', 'am:gradering'),
      many('dokumentobjekt', 'am:dokumentobjekt'),
    ]),
  },
  'am:dokumentobjekt': {
    content: seq([
      req('versjonsnummer', n5('versjonsnummer')),
      req('variantformat', n5('variantformat')),
      req('opprettetDato', n5('opprettetDato')),
      req('opprettetAv', n5('opprettetAv')),
      req('referanseDokumentfil', n5('referanseDokumentfil')),
    ]),
  },
  'am:kryssreferanse': {
    content: seq([
      opt('referanseTilKlasse', n5('referanseTilKlasse')),
      opt('referanseTilMappe', n5('referanseTilMappe')),
      opt('referanseTilRegistrering', n5('referanseTilRegistrering')),
    ]),
  },
  'am:merknad': {
    content: seq([
      req('merknadstekst', n5('merknadstekst')),
      opt('merknadstype', n5('merknadstype')),
      req('merknadsdato', n5('merknadsdato')),
      req('merknadRegistrertAv', n5('merknadRegistrertAv')),
    ]),
  },
  'am:klassifikasjon': {
    content: seq([
      req('referanseKlassifikasjonssystem', n5('systemID')),
      req('klasseID', n5('klasseID')),
      req('tittel', n5('tittel')),
      opt('beskrivelse', n5('beskrivelse')),
      many('noekkelord', n5('noekkelord')),
      opt('opprettetDato', n5('opprettetDato')),
      opt('opprettetAv', n5('opprettetAv')),
    ]),
  },
  'am:skjerming': {
    content: seq([
      req('tilgangsrestriksjon', n5('tilgangsrestriksjon')),
      req('skjermingshjemmel', n5('skjermingshjemmel')),
      many('skjermingMetadata', n5('skjermingMetadata'), 1),
      opt('skjermingDokument', n5('skjermingDokument')),
      opt('skjermingsvarighet', n5('skjermingsvarighet')),
      opt('skjermingOpphoererDato', n5('skjermingOpphoererDato')),
    ]),
  },
  'am:gradering': {
    content: seq([
      req('gradering', n5('gradering')),
      req('graderingsdato', n5('graderingsdato')),
      req('gradertAv', n5('gradertAv')),
      opt('nedgraderingsdato', n5('nedgraderingsdato')),
      opt('nedgradertAv', n5('nedgradertAv')),
    ]),
  },
  'am:presedens': {
    content: seq([
      req('presedensDato', n5('presedensDato')),
      req('opprettetDato', n5('opprettetDato')),
      req('opprettetAv', n5('opprettetAv')),
      req('tittel', n5('tittel')),
      opt('beskrivelse', n5('beskrivelse')),
      opt('presedensHjemmel', n5('presedensHjemmel')),
      req('rettskildefaktor', n5('rettskildefaktor')),
      opt('presedensGodkjentDato', n5('presedensGodkjentDato')),
      opt('presedensGodkjentAv', n5('presedensGodkjentAv')),
      opt('avsluttetDato', n5('avsluttetDato')),
      opt('avsluttetAv', n5('avsluttetAv')),
      opt('presedensStatus', n5('presedensstatus')),
    ]),
  },
  // Declared by the schema but used by no element; reachable only through xsi:type.
  'am:klasse': {
    content: seq([
      req('systemID', 'am:GUID'),
      req('klasseID', n5('klasseID')),
      req('tittel', n5('tittel')),
      opt('beskrivelse', n5('beskrivelse')),
      many('noekkelord', n5('noekkelord')),
      req('opprettetDato', n5('opprettetDato')),
      req('opprettetAv', n5('opprettetAv')),
    ]),
  },
};

// Whitespace-separated name lists keep the long tables readable.
const words = (list: string): string[] => list.trim().split(/\s+/);

/** Metadatakatalog types that restrict a built-in type without facets, grouped by that built-in type. */
const metadatakatalogPlain: Record<
  'xs:string' | 'xs:integer' | 'xs:date' | 'xs:dateTime',
  readonly string[]
> = {
  'xs:string': words(`
    systemID klasseID mappeID registreringsID arkivskaperID moetenummer sakspartID tittel
    beskrivelse noekkelord arkivskaperNavn forfatter offentligTittel moeteregistreringsstatus
    dokumenttype merknadstype moeteregistreringstype klassifikasjonstype moetesakstype
    referanseForloeper referanseArvtaker referanseArkivdel referanseSekundaerKlassifikasjon
    referanseTilMappe referanseTilRegistrering referanseAvskrivesAvJournalpost referanseDokumentfil
    referanseTilKlasse referanseForrigeMoete referanseNesteMoete referanseTilMoeteregistrering
    referanseFraMoeteregistrering oppbevaringssted sakspartNavn sakspartRolle administrativEnhet
    saksansvarlig saksbehandler journalenhet utlaantTil merknadstekst presedensHjemmel
    rettskildefaktor seleksjon utvalg moetested moetedeltakerNavn moetedeltakerFunksjon
    korrespondansepartNavn postadresse postnummer poststed land epostadresse telefonnummer
    kontaktperson kassasjonshjemmel tilgangsrestriksjon skjermingshjemmel skjermingMetadata
    elektroniskSignaturSikkerhetsnivaa brukerNavn brukerRolle brukerstatus administrativEnhetNavn
    administrativEnhetsstatus referanseOverordnetEnhet opprettetAv avsluttetAv arkivertAv
    merknadRegistrertAv slettetAv konvertertAv avskrevetAv tilknyttetAv verifisertAv gradertAv
    nedgradertAv presedensGodkjentAv kassertAv flytTil flytStatus flytMerknad flytFra
    referanseArkivenhet referanseMetadata endretAv tidligereVerdi nyVerdi format formatDetaljer
    sjekksum sjekksumAlgoritme filstoerrelse konvertertFraFormat konvertertTilFormat
    konverteringsverktoey konverteringskommentar
  `),
  'xs:integer': words(`
    versjonsnummer dokumentnummer saksaar sakssekvensnummer journalaar journalsekvensnummer
    journalpostnummer antallVedlegg bevaringstid skjermingsvarighet antallJournalposter
  `),
  'xs:date': words(`
    saksdato journaldato moetedato dokumentetsDato utlaantDato arkivperiodeStartDato
    arkivperiodeSluttDato forfallsdato offentlighetsvurdertDato presedensDato journalStartDato
    journalSluttDato kassasjonsdato skjermingOpphoererDato avskrivningsdato verifisertDato
  `),
  'xs:dateTime': words(`
    mottattDato sendtDato opprettetDato avsluttetDato arkivertDato merknadsdato slettetDato
    konvertertDato tilknyttetDato graderingsdato nedgraderingsdato presedensGodkjentDato kassertDato
    flytMottattDato flytSendtDato endretDato
  `),
};

/** Metadatakatalog code lists (all restrict xs:string). */
export const METADATAKATALOG_ENUMERATIONS: Readonly<Record<string, readonly string[]>> = {
  arkivstatus: ['Opprettet', 'Avsluttet'],
  arkivdelstatus: ['Aktiv periode', 'Overlappingsperiode', 'Avsluttet periode', 'Uaktuelle mapper'],
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
  presedensstatus: ['Gjeldende', 'Foreldet'],
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
  slettingstype: [
    'Sletting av produksjonsformat',
    'Sletting av tidligere versjon',
    'Sletting av variant med sladdet informasjon',
    'Sletting av hele innholdet i arkivdelen',
  ],
  tilknyttetRegistreringSom: ['Hoveddokument', 'Vedlegg'],
  dokumentmedium: ['Fysisk medium', 'Elektronisk arkiv', 'Blandet fysisk og elektronisk arkiv'],
  kassasjonsvedtak: ['Bevares', 'Kasseres', 'Vurderes senere'],
  skjermingDokument: ['Skjerming av hele dokumentet', 'Skjerming av deler av dokumentet'],
  gradering: [
    'Strengt hemmelig (sikkerhetsgrad)',
    'Hemmelig (sikkerhetsgrad)',
    'Konfidensielt (sikkerhetsgrad)',
    'Begrenset (sikkerhetsgrad)',
    'Fortrolig (beskyttelsesgrad)',
    'Strengt fortrolig (beskyttelsesgrad)',
  ],
  elektroniskSignaturVerifisert: ['Signatur påført, ikke verifisert', 'Signatur påført og verifisert'],
  avskrivningsmaate: [
    'Besvart med brev',
    'Besvart med e-post',
    'Besvart på telefon',
    'Tatt til etterretning',
    'Tatt til orientering',
  ],
  variantformat: ['Produksjonsformat', 'Arkivformat', 'Dokument hvor deler av innholdet er skjermet'],
};

const HEX = '[0-9a-fA-F]';
/** A UUID, bare or in braces (arkivmelding's own GUID type). */
export const GUID_PATTERN = `(${HEX}{8}-${HEX}{4}-${HEX}{4}-${HEX}{4}-${HEX}{12})|(\\{${HEX}{8}-${HEX}{4}-${HEX}{4}-${HEX}{4}-${HEX}{12}\\})`;

function buildSimpleTypes(): Record<TypeName, SimpleTypeDefinition> {
  const types: Record<TypeName, SimpleTypeDefinition> = {
    'am:GUID': { restricts: 'xs:string', pattern: GUID_PATTERN },
  };
  for (const [base, names] of Object.entries(metadatakatalogPlain)) {
    for (const name of names) types[n5(name)] = { restricts: base as TypeName };
  }
  for (const [name, values] of Object.entries(METADATAKATALOG_ENUMERATIONS)) {
    types[n5(name)] = { restricts: 'xs:string', enumeration: values };
  }
  return types;
}

export const arkivmeldingSchema: SchemaDefinition = {
  targetNamespace: ARKIVMELDING_NS,
  globalElements: { arkivmelding: 'am:arkivmelding' },
  complexTypes,
  simpleTypes: buildSimpleTypes(),
};
