/** Stable codes for the error body (`code`) when arkivmelding.xml is refused. */
export const ARKIVMELDING_CODES = {
  invalid: 'InvalidArkivmeldingException',
  unsafe: 'UnsafeXmlException',
  tooLarge: 'ArkivmeldingTooLargeException',
  unsupportedEncoding: 'UnsupportedEncodingException',
  malformed: 'MalformedXmlException',
  confidentiality: 'ConfidentialityRequirementException',
} as const;

export type ArkivmeldingCode = (typeof ARKIVMELDING_CODES)[keyof typeof ARKIVMELDING_CODES];

/** Stable codes for each problem (`problems[].code`), one per kind of mistake. */
export const PROBLEM_CODES = {
  // Reading
  tooLarge: 'DocumentTooLarge',
  unsupportedEncoding: 'UnsupportedEncoding',
  invalidUtf8: 'InvalidUtf8',
  doctypeNotAllowed: 'DoctypeNotAllowed',
  declarationNotAllowed: 'MarkupDeclarationNotAllowed',
  entityNotAllowed: 'EntityReferenceNotAllowed',
  tooDeep: 'NestingTooDeep',
  malformedXml: 'NotWellFormed',
  namespaceError: 'NamespaceNotWellFormed',
  // Schema
  wrongRoot: 'WrongRootElement',
  wrongNamespace: 'WrongNamespace',
  unknownElement: 'UnknownElement',
  misplacedElement: 'ElementOutOfOrder',
  duplicateElement: 'ElementRepeated',
  choiceConflict: 'ChoiceConflict',
  missingElement: 'MissingElement',
  textNotAllowed: 'TextNotAllowed',
  elementContentNotAllowed: 'ChildElementsNotAllowed',
  attributeNotAllowed: 'AttributeNotAllowed',
  notNillable: 'NotNillable',
  unknownXsiType: 'UnknownXsiType',
  missingXsiType: 'MissingXsiType',
  xsiTypeNotDerived: 'XsiTypeNotAllowed',
  invalidValue: 'InvalidValue',
  invalidDate: 'InvalidDate',
  invalidDateTime: 'InvalidDateTime',
  invalidInteger: 'InvalidInteger',
  integerOutOfRange: 'IntegerOutOfRange',
  invalidEnumeration: 'InvalidCodeValue',
  patternMismatch: 'PatternMismatch',
  lengthViolation: 'LengthViolation',
  tooManyProblems: 'TooManyProblems',
  validationFailed: 'ValidationFailed',
  // eFormidling
  missingSaksmappe: 'MissingSaksmappe',
  missingJournalpost: 'MissingJournalpost',
  invalidReferanseDokumentfil: 'InvalidReferanseDokumentfil',
  antallFilerMismatch: 'AntallFilerMismatch',
  dokumentobjektIgnored: 'DokumentobjektIgnored',
  // Confidentiality
  missingOffentligTittel: 'MissingOffentligTittel',
  emptyOffentligTittel: 'EmptyOffentligTittel',
  placeholderOffentligTittel: 'PlaceholderOffentligTittel',
  missingCaseOrRecipient: 'MissingCaseOrRecipient',
  // At send
  missingArkivmeldingFile: 'MissingArkivmeldingFileException',
  hoveddokumentNotReferenced: 'HoveddokumentNotReferenced',
} as const;
