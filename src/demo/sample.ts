import { randomUUID } from 'node:crypto';
import { TAUSHETSBELAGT_PROCESS } from '../config.js';

/** A confidential sample message for the demo: the SBD a fagsystem posts, its arkivmelding.xml and one document. */

export const SAMPLE_DOCUMENT = 'vedtak.pdf';

export function sampleSbd(
  receiver: string,
  messageId: string,
  conversationId: string,
): Record<string, unknown> {
  return {
    standardBusinessDocumentHeader: {
      headerVersion: '1.0',
      receiver: [{ identifier: { authority: 'iso6523-actorid-upis', value: `0192:${receiver}` } }],
      documentIdentification: {
        standard: 'urn:no:difi:arkivmelding:xsd::arkivmelding',
        typeVersion: '2.0',
        instanceIdentifier: messageId,
        type: 'arkivmelding',
      },
      businessScope: {
        scope: [
          { type: 'ConversationId', instanceIdentifier: conversationId, identifier: TAUSHETSBELAGT_PROCESS },
        ],
      },
    },
    arkivmelding: {
      hoveddokument: SAMPLE_DOCUMENT,
      dpv: { varselType: 'VarselDPVMedRevarsel', varselTransportType: 'EpostOgSMS', dagerTilSvarfrist: 14 },
    },
  };
}

/** A schema-valid arkivmelding.xml whose public title names the case, as confidential post requires. */
export function sampleArkivmelding(now = new Date()): string {
  const day = now.toISOString().slice(0, 10);
  const stamp = `${day}T09:00:00+01:00`;
  const mappe = randomUUID();
  return `<?xml version="1.0" encoding="UTF-8"?>
<arkivmelding xmlns="http://www.arkivverket.no/standarder/noark5/arkivmelding" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <system>Demo-fagsystem</system>
  <meldingId>${randomUUID()}</meldingId>
  <tidspunkt>${stamp}</tidspunkt>
  <antallFiler>1</antallFiler>
  <mappe xsi:type="saksmappe">
    <systemID>${mappe}</systemID>
    <tittel>Oppfølging etter bekymringsmelding</tittel>
    <opprettetDato>${stamp}</opprettetDato>
    <opprettetAv>Demo</opprettetAv>
    <basisregistrering xsi:type="journalpost">
      <systemID>${randomUUID()}</systemID>
      <opprettetDato>${stamp}</opprettetDato>
      <opprettetAv>Demo</opprettetAv>
      <arkivertDato>${stamp}</arkivertDato>
      <arkivertAv>Demo</arkivertAv>
      <referanseForelderMappe>${mappe}</referanseForelderMappe>
      <dokumentbeskrivelse>
        <systemID>${randomUUID()}</systemID>
        <dokumenttype>Brev</dokumenttype>
        <dokumentstatus>Dokumentet er ferdigstilt</dokumentstatus>
        <tittel>Vedtak</tittel>
        <opprettetDato>${stamp}</opprettetDato>
        <opprettetAv>Demo</opprettetAv>
        <tilknyttetRegistreringSom>Hoveddokument</tilknyttetRegistreringSom>
        <dokumentnummer>1</dokumentnummer>
        <tilknyttetDato>${stamp}</tilknyttetDato>
        <tilknyttetAv>Demo</tilknyttetAv>
        <dokumentobjekt>
          <versjonsnummer>1</versjonsnummer>
          <variantformat>Produksjonsformat</variantformat>
          <opprettetDato>${stamp}</opprettetDato>
          <opprettetAv>Demo</opprettetAv>
          <referanseDokumentfil>${SAMPLE_DOCUMENT}</referanseDokumentfil>
        </dokumentobjekt>
      </dokumentbeskrivelse>
      <tittel>Vedtak om tiltak for navngitt person</tittel>
      <offentligTittel>Vedtak i sak 2026/1234</offentligTittel>
      <journalpostnummer>1</journalpostnummer>
      <journalposttype>Utgående dokument</journalposttype>
      <journalstatus>Journalført</journalstatus>
      <journaldato>${day}</journaldato>
    </basisregistrering>
    <saksaar>2026</saksaar>
    <sakssekvensnummer>1234</sakssekvensnummer>
    <saksdato>${day}</saksdato>
    <administrativEnhet>Demo-enheten</administrativEnhet>
    <saksansvarlig>Demo</saksansvarlig>
    <saksstatus>Under behandling</saksstatus>
  </mappe>
</arkivmelding>
`;
}

/** A tiny, valid one-page PDF. */
export function samplePdf(): Buffer {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const text = 'BT /F1 18 Tf 72 760 Td (Demo: konfidensielt vedtak) Tj ET';
  objects[3] = `<< /Length ${text.length} >>\nstream\n${text}\nendstream`;
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
