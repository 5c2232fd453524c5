/**
 * arkivmelding.xml validation figures: median time to read and validate a ~1 MB document, and time and memory
 * to refuse an entity bomb and 10 000 levels of nesting. Run directly with `npx tsx bench/arkivmelding.ts`.
 */
import { pathToFileURL } from 'node:url';
import { type ArkivmeldingOptions, validateArkivmelding } from '../src/domain/arkivmelding/index.js';

export interface ArkivmeldingBenchFigures {
  parseValidate1MbMedianMs: number;
  bombRefusedMs: number;
  bombRssGrowthMb: number;
  deepRefusedMs: number;
  deepRssGrowthMb: number;
}

const OPTIONS: ArkivmeldingOptions = {
  maxBytes: 10_000_000,
  maxDepth: 40,
  confidential: true,
  recipientRule: 'error',
};
const TARGETS = { medianMs: 20, refusedMs: 100, rssGrowthMb: 16 };
const WARMUP = 20;
const RUNS = 30;

const HEAD = `<?xml version="1.0" encoding="UTF-8"?>
<arkivmelding xmlns="http://www.arkivverket.no/standarder/noark5/arkivmelding" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <system>Bench</system>
  <meldingId>bench-1</meldingId>
  <tidspunkt>2025-03-14T09:12:44+01:00</tidspunkt>
  <antallFiler>@ANTALL@</antallFiler>
  <mappe xsi:type="saksmappe">
    <systemID>5b1d2e6f-8c0a-4f3b-9d21-6a7e0c4b9f12</systemID>
    <tittel>Byggesak Storgata 12</tittel>
    <opprettetDato>2025-02-03T08:00:00+01:00</opprettetDato>
    <opprettetAv>Saksbehandler</opprettetAv>
    <basisregistrering xsi:type="journalpost">
      <systemID>c2f0a9e4-3d7b-4e1a-8b6c-1f9d0e2a7c35</systemID>
      <opprettetDato>2025-03-14T09:00:00+01:00</opprettetDato>
      <opprettetAv>Saksbehandler</opprettetAv>
      <arkivertDato>2025-03-14T09:10:00+01:00</arkivertDato>
      <arkivertAv>Saksbehandler</arkivertAv>
      <referanseForelderMappe>5b1d2e6f-8c0a-4f3b-9d21-6a7e0c4b9f12</referanseForelderMappe>
`;
const TAIL = `      <tittel>Vedtak i byggesak med vedlegg</tittel>
      <offentligTittel>Vedtak i byggesak 2025/1187</offentligTittel>
      <@METADATA@/>
      <journalposttype>Utgående dokument</journalposttype>
      <journalstatus>Ekspedert</journalstatus>
      <journaldato>2025-03-14</journaldato>
    </basisregistrering>
    <saksaar>2025</saksaar>
    <sakssekvensnummer>1187</sakssekvensnummer>
    <saksdato>2025-02-03</saksdato>
    <administrativEnhet>Plan og bygg</administrativEnhet>
    <saksansvarlig>Saksbehandler</saksansvarlig>
    <saksstatus>Under behandling</saksstatus>
  </mappe>
</arkivmelding>
`;

function dokumentbeskrivelse(nr: number): string {
  const id = `00000000-0000-4000-8000-${String(nr).padStart(12, '0')}`;
  return `      <dokumentbeskrivelse>
        <systemID>${id}</systemID>
        <dokumenttype>Vedlegg</dokumenttype>
        <dokumentstatus>Dokumentet er ferdigstilt</dokumentstatus>
        <tittel>Vedlegg ${nr} – tegninger og situasjonsplan for tiltaket</tittel>
        <opprettetDato>2025-03-14T09:00:00+01:00</opprettetDato>
        <opprettetAv>Saksbehandler</opprettetAv>
        <tilknyttetRegistreringSom>Vedlegg</tilknyttetRegistreringSom>
        <dokumentnummer>${nr}</dokumentnummer>
        <tilknyttetDato>2025-03-14T09:00:00+01:00</tilknyttetDato>
        <tilknyttetAv>Saksbehandler</tilknyttetAv>
        <dokumentobjekt>
          <versjonsnummer>1</versjonsnummer>
          <variantformat>Arkivformat</variantformat>
          <opprettetDato>2025-03-14T09:00:00+01:00</opprettetDato>
          <opprettetAv>Saksbehandler</opprettetAv>
          <referanseDokumentfil>vedlegg-${nr}.pdf</referanseDokumentfil>
        </dokumentobjekt>
      </dokumentbeskrivelse>
`;
}

/** A valid arkivmelding of about `bytes` bytes: one journalpost with many dokumentbeskrivelse. */
export function largeArkivmelding(bytes = 1024 * 1024): Buffer {
  const parts: string[] = [];
  let size = HEAD.length + TAIL.length;
  for (let nr = 1; size < bytes; nr++) {
    const d = dokumentbeskrivelse(nr);
    parts.push(d);
    size += Buffer.byteLength(d);
  }
  const head = HEAD.replace('@ANTALL@', String(parts.length));
  const tail = TAIL.replace('<@METADATA@/>', '<virksomhetsspesifikkeMetadata/>');
  return Buffer.from(head + parts.join('') + tail);
}

/** The billion-laughs entity bomb in front of an otherwise valid arkivmelding. */
export function entityBomb(): Buffer {
  let dtd = '<!DOCTYPE arkivmelding [\n  <!ENTITY lol0 "lol">\n';
  for (let k = 1; k <= 9; k++) dtd += `  <!ENTITY lol${k} "${`&lol${k - 1};`.repeat(10)}">\n`;
  dtd += ']>\n';
  const xml = largeArkivmelding(0).toString('utf8');
  const at = xml.indexOf('<arkivmelding');
  return Buffer.from(
    xml.slice(0, at) +
      dtd +
      xml.slice(at).replace('<tittel>Vedtak i byggesak', '<tittel>&lol9; Vedtak i byggesak'),
  );
}

/** An arkivmelding with `levels` elements nested inside virksomhetsspesifikkeMetadata. */
export function deeplyNested(levels = 10_000): Buffer {
  const xml = largeArkivmelding(0).toString('utf8');
  return Buffer.from(
    xml.replace(
      '<virksomhetsspesifikkeMetadata/>',
      `<virksomhetsspesifikkeMetadata>${'<n>'.repeat(levels)}${'</n>'.repeat(levels)}</virksomhetsspesifikkeMetadata>`,
    ),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Median refusal time over `runs`, and the largest RSS growth seen across them. */
function refusal(xml: Buffer, expectedCode: string, runs = 20): { ms: number; rssGrowthMb: number } {
  const times: number[] = [];
  let growth = 0;
  for (let k = 0; k < runs; k++) {
    const before = process.memoryUsage.rss();
    const started = performance.now();
    const result = validateArkivmelding(xml, OPTIONS);
    times.push(performance.now() - started);
    growth = Math.max(growth, process.memoryUsage.rss() - before);
    if (result.ok || result.code !== expectedCode) {
      throw new Error(`expected ${expectedCode}, got ${result.ok ? 'ok' : result.code}`);
    }
  }
  return { ms: median(times), rssGrowthMb: growth / (1024 * 1024) };
}

export async function benchArkivmelding(): Promise<ArkivmeldingBenchFigures> {
  const large = largeArkivmelding();
  const times: number[] = [];
  for (let k = 0; k < WARMUP + RUNS; k++) {
    const started = performance.now();
    const result = validateArkivmelding(large, OPTIONS);
    if (k >= WARMUP) times.push(performance.now() - started);
    if (!result.ok)
      throw new Error(`the bench document is invalid: ${JSON.stringify(result.problems.slice(0, 3))}`);
  }
  const bomb = refusal(entityBomb(), 'UnsafeXmlException');
  const deep = refusal(deeplyNested(), 'UnsafeXmlException');
  return {
    parseValidate1MbMedianMs: round(median(times)),
    bombRefusedMs: round(bomb.ms, 3),
    bombRssGrowthMb: round(bomb.rssGrowthMb),
    deepRefusedMs: round(deep.ms, 3),
    deepRssGrowthMb: round(deep.rssGrowthMb),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const f = await benchArkivmelding();
  const mark = (ok: boolean) => (ok ? 'ok' : 'OVER TARGET');
  console.log(
    `arkivmelding: read + validate ~1 MB, median of ${RUNS}: ${f.parseValidate1MbMedianMs} ms (target ≤ ${TARGETS.medianMs} ms) ${mark(f.parseValidate1MbMedianMs <= TARGETS.medianMs)}`,
  );
  console.log(
    `arkivmelding: entity bomb refused in ${f.bombRefusedMs} ms, RSS growth ${f.bombRssGrowthMb} MB (targets < ${TARGETS.refusedMs} ms, < ${TARGETS.rssGrowthMb} MB) ${mark(f.bombRefusedMs < TARGETS.refusedMs && f.bombRssGrowthMb < TARGETS.rssGrowthMb)}`,
  );
  console.log(
    `arkivmelding: 10 000 levels refused in ${f.deepRefusedMs} ms, RSS growth ${f.deepRssGrowthMb} MB (targets < ${TARGETS.refusedMs} ms, < ${TARGETS.rssGrowthMb} MB) ${mark(f.deepRefusedMs < TARGETS.refusedMs && f.deepRssGrowthMb < TARGETS.rssGrowthMb)}`,
  );
}
