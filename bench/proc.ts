import { readFileSync, writeFileSync } from 'node:fs';

export const MB = 1024 * 1024;

/** VmRSS and VmHWM (peak RSS) of a process in bytes, from /proc (Linux only). */
export function memOf(pid: number): { rss: number; hwm: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m?.[1] ? Number(m[1]) * 1024 : Number.NaN;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Resets VmHWM to the current RSS (clear_refs "5"), so a later VmHWM is the peak since now. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples a process's RSS every `intervalMs`; VmHWM catches peaks between samples where it can be reset. */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private maxRss = 0;
  samples = 0;
  readonly baseline: number;
  readonly peakResettable: boolean;

  constructor(
    private readonly pid: number,
    intervalMs = 50,
  ) {
    this.baseline = memOf(pid)?.rss ?? Number.NaN;
    this.peakResettable = resetPeak(pid);
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const m = memOf(this.pid);
    if (!m) return;
    this.samples++;
    if (m.rss > this.maxRss) this.maxRss = m.rss;
  }

  /** Stops sampling; peak is the larger of the sampled maximum and VmHWM (when it was reset at the start). */
  stop(): { baseline: number; peak: number; sampledPeak: number; hwm: number | null } {
    clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    const hwm = this.peakResettable ? (memOf(this.pid)?.hwm ?? null) : null;
    return {
      baseline: this.baseline,
      peak: Math.max(this.maxRss, hwm ?? 0),
      sampledPeak: this.maxRss,
      hwm,
    };
  }
}

const CLOCK_TICK_MS = 10;

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat (USER_HZ = 100). */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 overall.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * CLOCK_TICK_MS;
  } catch {
    return Number.NaN;
  }
}
