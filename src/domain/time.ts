/** Date-times as the reference writes them: ISO-8601 with offset (Europe/Oslo for our own clock), `Z` for UTC. */
const OSLO = 'Europe/Oslo';
/** Built on first use: creating it loads time-zone data, which start-up does not need. */
let offsetFmt: Intl.DateTimeFormat | undefined;

const offsetByHour = new Map<number, number>();

/** Oslo's UTC offset in minutes at the given instant (offsets change on whole hours, so an hour's answer is kept). */
export function osloOffsetMinutes(at: Date): number {
  const hour = Math.floor(at.getTime() / 3_600_000);
  const cached = offsetByHour.get(hour);
  if (cached !== undefined) return cached;
  const off = computeOffset(at);
  if (offsetByHour.size > 10_000) offsetByHour.clear();
  offsetByHour.set(hour, off);
  return off;
}

function computeOffset(at: Date): number {
  offsetFmt ??= new Intl.DateTimeFormat('en-US', { timeZone: OSLO, timeZoneName: 'longOffset' });
  const part = offsetFmt.formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(part);
  if (!m) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Formats an instant in Oslo time, e.g. 2026-11-22T10:15:30.123+01:00. */
export function formatOslo(at: Date): string {
  const off = osloOffsetMinutes(at);
  const local = new Date(at.getTime() + off * 60_000);
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  const ms = local.getUTCMilliseconds();
  return (
    `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
    (ms ? `.${pad(ms, 3)}` : '') +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

const MAX_OFFSET_MINUTES = 18 * 60;

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

export interface ParsedDateTime {
  /** The instant. */
  date: Date;
  /** The value as it will be written back: offset preserved, local times given Oslo's offset. */
  text: string;
}

/** Parses an ISO date-time; one without offset is Oslo local time, as in the reference. */
export function parseDateTime(raw: string): ParsedDateTime | null {
  const m = DATE_TIME.exec(raw);
  if (!m) return null;
  const [, y, mo, d, h, mi, s = '00', frac, zone] = m;
  const fracMs = frac ? Number(`0.${frac}`) * 1000 : 0;
  const wallUtc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + fracMs;
  if (Number.isNaN(wallUtc)) return null;
  const check = new Date(wallUtc);
  if (
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  )
    return null;
  if (zone) {
    if (zone === 'Z') return { date: new Date(wallUtc), text: raw };
    const zm = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    // ISO-8601 offsets in use, as java.time accepts them: at most ±18:00, minutes 00-59.
    if (Number(zm[3]) > 59 || Number(zm[2]) * 60 + Number(zm[3]) > MAX_OFFSET_MINUTES) return null;
    const off = (zm[1] === '-' ? -1 : 1) * (Number(zm[2]) * 60 + Number(zm[3]));
    const text = /^[+-]00:?00$/.test(zone) ? raw.slice(0, -zone.length) + 'Z' : raw;
    return { date: new Date(wallUtc - off * 60_000), text };
  }
  // Two passes settle the offset across a DST change.
  let off = osloOffsetMinutes(new Date(wallUtc));
  off = osloOffsetMinutes(new Date(wallUtc - off * 60_000));
  const date = new Date(wallUtc - off * 60_000);
  const sign = off < 0 ? '-' : '+';
  return { date, text: `${raw}${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}` };
}
