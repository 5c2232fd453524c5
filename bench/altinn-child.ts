import { startAltinnSandbox } from '../src/sandbox/altinn.js';

/**
 * A sandbox Altinn in its own process (`altinn-child.ts TOKEN`), so the uploads a server under test sends it are
 * not handled on the load generator's event loop. Answers `count` with the accepted uploads so far.
 */

const LIFETIME_MS = 15 * 60_000;

async function main(): Promise<void> {
  const token = process.argv[2];
  if (!token) throw new Error('usage: altinn-child.ts TOKEN');
  const altinn = await startAltinnSandbox({ staticTokens: [token] });
  let closing = false;
  const close = async (code: number) => {
    if (closing) return;
    closing = true;
    await altinn.close().catch(() => undefined);
    process.exit(code);
  };
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stop') void close(0);
    if (m.type === 'count')
      process.send?.({
        type: 'count',
        uploads: altinn.uploads.filter((u) => u.status >= 200 && u.status < 300).length,
      });
  });
  process.on('disconnect', () => void close(1));
  setTimeout(() => void close(3), LIFETIME_MS).unref();
  process.send?.({ type: 'ready', correspondenceUrl: altinn.correspondenceUrl });
}

main().catch((e: unknown) => {
  process.send?.({ type: 'error', error: e instanceof Error ? e.stack : String(e) });
  process.exit(1);
});
