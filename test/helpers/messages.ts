import { randomUUID } from 'node:crypto';
import { ORG_DPV_TAUSHETSBELAGT } from '../../src/sandbox/address-service-seed.js';

export const TAUSHETSBELAGT = 'urn:no:difi:profile:arkivmelding:taushetsbelagt:ver1.0';
export const ADMINISTRASJON = 'urn:no:difi:profile:arkivmelding:administrasjon:ver1.0';

export interface SbdOptions {
  receiver?: string;
  process?: string;
  messageId?: string | null;
  conversationId?: string | null;
  expectedResponseDateTime?: string | null;
  hoveddokument?: string;
  sender?: string | null;
}

/** A taushetsbelagt arkivmelding SBD as a fagsystem would post it. */
export function sbd(o: SbdOptions = {}): Record<string, unknown> {
  const ttl = o.expectedResponseDateTime === undefined ? undefined : o.expectedResponseDateTime;
  return {
    standardBusinessDocumentHeader: {
      headerVersion: '1.0',
      ...(o.sender === null
        ? {}
        : {
            sender: [
              { identifier: { authority: 'iso6523-actorid-upis', value: o.sender ?? '0192:910077473' } },
            ],
          }),
      receiver: [
        {
          identifier: {
            authority: 'iso6523-actorid-upis',
            value: `0192:${o.receiver ?? ORG_DPV_TAUSHETSBELAGT}`,
          },
        },
      ],
      documentIdentification: {
        standard: 'urn:no:difi:arkivmelding:xsd::arkivmelding',
        typeVersion: '2.0',
        ...(o.messageId === null ? {} : { instanceIdentifier: o.messageId ?? randomUUID() }),
        type: 'arkivmelding',
      },
      businessScope: {
        scope: [
          {
            type: 'ConversationId',
            ...(o.conversationId === null ? {} : { instanceIdentifier: o.conversationId ?? randomUUID() }),
            identifier: o.process ?? TAUSHETSBELAGT,
            ...(ttl ? { scopeInformation: [{ expectedResponseDateTime: ttl }] } : {}),
          },
        ],
      },
    },
    arkivmelding: {
      sikkerhetsnivaa: 3,
      ...(o.hoveddokument ? { hoveddokument: o.hoveddokument } : {}),
      dpv: { varselType: 'VarselDPVMedRevarsel', varselTransportType: 'EpostOgSMS', dagerTilSvarfrist: 7 },
    },
  };
}

export interface ArkivmeldingOptions {
  files?: string[];
  offentligTittel?: string | null;
  tittel?: string;
  saksaar?: number | null;
  antallFiler?: number;
}

/** A schema-valid arkivmelding.xml with one saksmappe and one journalpost referencing `files`. */
export function arkivmeldingXml(o: ArkivmeldingOptions = {}): string {
  const files = o.files ?? ['vedtak.pdf'];
  const docs = files
    .map(
      (f, i) => `
      <dokumentbeskrivelse>
        <systemID>${randomUUID()}</systemID>
        <dokumenttype>Brev</dokumenttype>
        <dokumentstatus>Dokumentet er ferdigstilt</dokumentstatus>
        <tittel>Dokument ${i + 1}</tittel>
        <opprettetDato>2026-11-20T09:00:00+01:00</opprettetDato>
        <opprettetAv>Saksbehandler</opprettetAv>
        <tilknyttetRegistreringSom>${i === 0 ? 'Hoveddokument' : 'Vedlegg'}</tilknyttetRegistreringSom>
        <dokumentnummer>${i + 1}</dokumentnummer>
        <tilknyttetDato>2026-11-20T09:00:00+01:00</tilknyttetDato>
        <tilknyttetAv>Saksbehandler</tilknyttetAv>
        <dokumentobjekt>
          <versjonsnummer>1</versjonsnummer>
          <variantformat>Produksjonsformat</variantformat>
          <opprettetDato>2026-11-20T09:00:00+01:00</opprettetDato>
          <opprettetAv>Saksbehandler</opprettetAv>
          <referanseDokumentfil>${f}</referanseDokumentfil>
        </dokumentobjekt>
      </dokumentbeskrivelse>`,
    )
    .join('');
  const mappeId = randomUUID();
  const offentlig =
    o.offentligTittel === null
      ? ''
      : `<offentligTittel>${o.offentligTittel ?? 'Melding om tiltak, sak 2026/4711'}</offentligTittel>`;
  const saksaar =
    o.saksaar === null
      ? ''
      : `<saksaar>${o.saksaar ?? 2026}</saksaar><sakssekvensnummer>4711</sakssekvensnummer>`;
  return `<?xml version="1.0" encoding="utf-8"?>
<arkivmelding xmlns="http://www.arkivverket.no/standarder/noark5/arkivmelding" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <system>Fagsystem</system>
  <meldingId>${randomUUID()}</meldingId>
  <tidspunkt>2026-11-20T09:00:00+01:00</tidspunkt>
  <antallFiler>${o.antallFiler ?? files.length}</antallFiler>
  <mappe xsi:type="saksmappe">
    <systemID>${mappeId}</systemID>
    <tittel>Barnevernssak for navngitt barn</tittel>
    <opprettetDato>2026-11-01T09:00:00+01:00</opprettetDato>
    <opprettetAv>Saksbehandler</opprettetAv>
    <basisregistrering xsi:type="journalpost">
      <systemID>${randomUUID()}</systemID>
      <opprettetDato>2026-11-20T09:00:00+01:00</opprettetDato>
      <opprettetAv>Saksbehandler</opprettetAv>
      <arkivertDato>2026-11-20T09:00:00+01:00</arkivertDato>
      <arkivertAv>Saksbehandler</arkivertAv>
      <referanseForelderMappe>${mappeId}</referanseForelderMappe>${docs}
      <tittel>${o.tittel ?? 'Konfidensiell tittel med personopplysninger'}</tittel>
      ${offentlig}
      <journalpostnummer>12</journalpostnummer>
      <journalposttype>Utgående dokument</journalposttype>
      <journalstatus>Journalført</journalstatus>
      <journaldato>2026-11-20</journaldato>
    </basisregistrering>
    ${saksaar}
    <saksdato>2026-11-01</saksdato>
    <administrativEnhet>Barneverntjenesten</administrativEnhet>
    <saksansvarlig>Saksbehandler</saksansvarlig>
    <saksstatus>Under behandling</saksstatus>
  </mappe>
</arkivmelding>`;
}
