/** Runs bench/arkivmelding.ts in a process of its own, so its RSS figures are not the load generator's. */

export interface ArkivmeldingFigures {
  parseValidate1MbMedianMs: number;
  bombRefusedMs: number;
  bombRssGrowthMb: number;
  deepRefusedMs: number;
  deepRssGrowthMb: number;
}

// A variable specifier: tsc must not require the module, which another engineer is still writing.
const MODULE = './arkivmelding.js';

/** Sends one message to the parent and exits once it is written. */
const reply = (message: object, code: number) => {
  if (!process.send) process.exit(code);
  process.send(message, () => process.exit(code));
};

async function main(): Promise<void> {
  const mod = (await import(MODULE)) as { benchArkivmelding?: () => Promise<ArkivmeldingFigures> };
  if (typeof mod.benchArkivmelding !== 'function') {
    throw new Error('bench/arkivmelding.ts exports no benchArkivmelding');
  }
  reply({ type: 'result', figures: await mod.benchArkivmelding() }, 0);
}

main().catch((e: unknown) => {
  reply({ type: 'error', error: e instanceof Error ? (e.stack ?? e.message) : String(e) }, 1);
});
