import { type AltinnSandbox, startAltinnSandbox } from '../src/sandbox/altinn.js';
import { runChild } from './child-lifecycle.js';

/**
 * A sandbox Altinn in its own process (`altinn-child.ts TOKEN`), so the uploads a server under test sends it are
 * not handled on the load generator's event loop. Answers `count` with the accepted uploads so far.
 */

const LIFETIME_MS = 15 * 60_000;
let altinn: AltinnSandbox | undefined;

runChild(
  async () => {
    const token = process.argv[2];
    if (!token) throw new Error('usage: altinn-child.ts TOKEN');
    const started = await startAltinnSandbox({ staticTokens: [token] });
    altinn = started;
    return { close: () => started.close(), ready: { correspondenceUrl: started.correspondenceUrl } };
  },
  LIFETIME_MS,
  (m) => {
    if (m.type === 'count')
      process.send?.({
        type: 'count',
        uploads: altinn?.uploads.filter((u) => u.status >= 200 && u.status < 300).length ?? 0,
      });
  },
);
