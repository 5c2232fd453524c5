import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { arkivmeldingXml, sbd } from '../test/helpers/messages.js';
import { cpuMsOf, MB, memOf, RssSampler } from './proc.js';
import type { ServerMode, ServerProcess } from './server-process.js';

/**
 * The whole-message load: each of `clients` keep-alive connections runs messages back to back, a message
 * being create (JSON SBD) + PUT arkivmelding.xml + PUT a 100 KB document + send; every answer must be 200.
 */

export interface LoadOptions {
  clients: number;
  warmupSeconds: number;
  /** Measured seconds per server, split over `rounds` slices that alternate between the servers. */
  seconds: number;
  rounds: number;
}

export const STEPS = ['create', 'arkivmelding', 'document', 'send'] as const;
export type Step = (typeof STEPS)[number];

export interface LoadResult {
  server: ServerMode;
  /** Whole messages (all four requests 200) completed inside the measured windows. */
  messages: number;
  messagesPerSecond: number;
  requestsPerSecond: number;
  errors: number;
  errorsByKind: Record<string, number>;
  errorSamples: string[];
  /** Per-request latency inside the measured windows, ms. */
  latency: Record<Step, { p50: number; p99: number }>;
  /** Whole-message latency (create to send answered) of messages finished inside the windows, ms. */
  message: { p50: number; p99: number };
  /** Messages/s of each measured slice, in order (slice i of ours pairs with slice i of bare). */
  slices: number[];
  /** Server process CPU (user + system) per whole message over the load slices, ms. */
  serverCpuMsPerMessage: number;
  rss: {
    /** RSS 3 s after the server answered ready (start-up's garbage not yet given back). */
    startMb: number;
    /** RSS after IDLE_MS without requests. */
    baselineMb: number;
    peakMb: number;
    source: string;
  };
}

const DOCUMENT_BYTES = 100 * 1024;
const DOCUMENT_NAME = 'dokument.pdf';
const FIXTURE_POOL = 64;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_LATENCY_SAMPLES = 500_000;
const MAX_ERROR_SAMPLES = 5;
/** Each slice starts with all clients at step one; this much of it is not measured. */
const SLICE_RAMP_MS = 500;
/** How long the servers sit idle after start before their first RSS reading. */
const IDLE_START_MS = 3000;
/**
 * Idle RSS is read this long after ready: V8 gives start-up's garbage back to the system only after some seconds
 * of idling (its memory reducer, seen 10–20 s after start), which a service that idles most of the day reaches.
 */
const IDLE_MS = 30_000;

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

function percentile(sorted: number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** One server's load: a keep-alive pool, fixtures and counters that add up over its slices. */
export class WholeMessageLoad {
  private readonly pool: Pool;
  // Built up front so the load generator spends its CPU on HTTP, not on templating.
  private readonly xmls = Array.from({ length: FIXTURE_POOL }, () =>
    Buffer.from(arkivmeldingXml({ files: [DOCUMENT_NAME] }), 'utf8'),
  );
  private readonly document = randomBytes(DOCUMENT_BYTES);
  private readonly latencies: Record<Step, number[]> = {
    create: [],
    arkivmelding: [],
    document: [],
    send: [],
  };
  private readonly errorsByKind: Record<string, number> = {};
  private readonly errorSamples: string[] = [];
  private readonly sampler: RssSampler;
  private errors = 0;
  private messages = 0;
  private requests = 0;
  private measuredMs = 0;
  private sliceMessages = 0;
  private sliceCpuMs = 0;
  private readonly messageLatencies: number[] = [];
  private readonly sliceRates: number[] = [];
  private window = { from: 0, to: 0 };

  constructor(
    readonly server: ServerProcess,
    private readonly clients: number,
    private readonly idle: { startMb: number },
  ) {
    this.pool = new Pool(server.base, {
      connections: clients,
      pipelining: 1,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: 60_000,
    });
    this.sampler = new RssSampler(server.pid);
  }

  private inWindow(t: number): boolean {
    return t >= this.window.from && t <= this.window.to;
  }

  private fail(kind: string, detail: string): void {
    this.errors++;
    this.errorsByKind[kind] = (this.errorsByKind[kind] ?? 0) + 1;
    if (this.errorSamples.length < MAX_ERROR_SAMPLES)
      this.errorSamples.push(`${kind}: ${detail.slice(0, 300)}`);
  }

  private async step(
    name: Step,
    method: 'POST' | 'PUT',
    path: string,
    headers: Record<string, string>,
    body?: string | Buffer,
  ): Promise<boolean> {
    const t0 = performance.now();
    try {
      const res = await this.pool.request({ method, path, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.body.text();
      const t1 = performance.now();
      if (res.statusCode !== 200) {
        this.fail(`${name} ${res.statusCode}`, text);
        return false;
      }
      if (this.inWindow(t1)) {
        this.requests++;
        if (this.latencies[name].length < MAX_LATENCY_SAMPLES) this.latencies[name].push(t1 - t0);
      }
      return true;
    } catch (e) {
      this.fail(`${name} ${(e as { code?: string }).code ?? 'exception'}`, String(e));
      // A dead server answers instantly; back off so the loop does not spin.
      await sleep(20);
      return false;
    }
  }

  private async message(w: number, n: number): Promise<boolean> {
    const id = randomUUID();
    const path = `/api/messages/out/${id}`;
    const xml = this.xmls[(w + n) % this.xmls.length]!;
    return (
      (await this.step(
        'create',
        'POST',
        '/api/messages/out',
        { 'content-type': 'application/json' },
        JSON.stringify(sbd({ messageId: id })),
      )) &&
      (await this.step(
        'arkivmelding',
        'PUT',
        path,
        {
          'content-type': 'application/xml',
          'content-disposition': 'attachment; name="Arkivmelding"; filename="arkivmelding.xml"',
        },
        xml,
      )) &&
      (await this.step(
        'document',
        'PUT',
        path,
        {
          'content-type': 'application/pdf',
          'content-disposition': `attachment; name="Vedtak"; filename="${DOCUMENT_NAME}"`,
        },
        this.document,
      )) &&
      (await this.step('send', 'POST', path, {}))
    );
  }

  /** Runs all clients for rampMs + measureMs; only answers inside the measured part are counted. */
  async slice(rampMs: number, measureMs: number): Promise<void> {
    const start = performance.now();
    this.window = { from: start + rampMs, to: start + rampMs + measureMs };
    const cpu0 = cpuMsOf(this.server.pid);
    let completed = 0;
    let inWindow = 0;
    const worker = async (w: number) => {
      for (let n = 0; performance.now() < this.window.to; n++) {
        const t0 = performance.now();
        const ok = await this.message(w, n);
        const t1 = performance.now();
        if (ok) completed++;
        if (ok && this.inWindow(t1)) {
          this.messages++;
          inWindow++;
          if (this.messageLatencies.length < MAX_LATENCY_SAMPLES) this.messageLatencies.push(t1 - t0);
        }
      }
    };
    await Promise.all(Array.from({ length: this.clients }, (_, w) => worker(w)));
    if (measureMs > 0) {
      this.measuredMs += measureMs;
      this.sliceMessages += completed;
      this.sliceCpuMs += cpuMsOf(this.server.pid) - cpu0;
      this.sliceRates.push(round(inWindow / (measureMs / 1000)));
    }
  }

  async finish(): Promise<LoadResult> {
    await this.pool.close().catch(() => undefined);
    const mem = this.sampler.stop();
    const latency = {} as LoadResult['latency'];
    for (const s of STEPS) {
      const sorted = this.latencies[s].sort((a, b) => a - b);
      latency[s] = { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)) };
    }
    const seconds = this.measuredMs / 1000;
    const perMessage = this.messageLatencies.sort((a, b) => a - b);
    return {
      server: this.server.mode,
      messages: this.messages,
      messagesPerSecond: round(seconds ? this.messages / seconds : 0),
      requestsPerSecond: round(seconds ? this.requests / seconds : 0),
      errors: this.errors,
      errorsByKind: this.errorsByKind,
      errorSamples: this.errorSamples,
      latency,
      message: { p50: round(percentile(perMessage, 0.5)), p99: round(percentile(perMessage, 0.99)) },
      slices: this.sliceRates,
      serverCpuMsPerMessage: round(this.sliceMessages ? this.sliceCpuMs / this.sliceMessages : Number.NaN, 2),
      rss: {
        startMb: this.idle.startMb,
        baselineMb: round(mem.baseline / MB),
        peakMb: round(mem.peak / MB),
        source:
          mem.hwm !== null
            ? 'VmHWM of the server child (reset before its warm-up) and its VmRSS every 50 ms'
            : 'VmRSS of the server child every 50 ms',
      },
    };
  }
}

/**
 * Warms each server up, then alternates measured slices between them (ABBA order), so drift in what
 * else the machine is doing falls on both alike; the ratio is what this is for.
 */
export async function runInterleaved(servers: ServerProcess[], o: LoadOptions): Promise<LoadResult[]> {
  // RSS 3 s after ready, then idle RSS after IDLE_MS (each load's sampler takes that as its baseline).
  await sleep(IDLE_START_MS);
  const startMb = servers.map((s) => round((memOf(s.pid)?.rss ?? Number.NaN) / MB));
  await sleep(IDLE_MS - IDLE_START_MS);
  const loads = servers.map((s, i) => new WholeMessageLoad(s, o.clients, { startMb: startMb[i]! }));
  let failure: unknown = null;
  try {
    for (const l of loads) await l.slice(o.warmupSeconds * 1000, 0);
    const sliceMs = (o.seconds * 1000) / o.rounds;
    for (let r = 0; r < o.rounds; r++) {
      const order = r % 2 === 0 ? loads : [...loads].reverse();
      for (const l of order) await l.slice(SLICE_RAMP_MS, sliceMs);
    }
  } catch (e) {
    failure = e;
  }
  // Pools are closed and samplers stopped even when a slice throws.
  const results = await Promise.all(loads.map((l) => l.finish()));
  if (failure) throw failure;
  return results;
}
