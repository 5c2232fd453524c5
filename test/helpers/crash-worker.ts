/**
 * A send worker in its own process that stops dead once Altinn has answered an upload: it tells its parent and
 * then never gets to write anything, so the parent can kill -9 it at exactly that point.
 */
import { loadConfig } from '../../src/config.js';
import { startBackground } from '../../src/workers/index.js';

const config = loadConfig(process.env);
const frozen: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (String(input).endsWith('/correspondence/upload')) {
    const body = await res.text();
    process.send?.({ uploaded: res.status, body });
    // Altinn has created the correspondence; this process never learns more.
    return new Promise<Response>(() => {});
  }
  return res;
};
await startBackground(config, { fetch: frozen, parts: { send: true } });
process.send?.({ ready: true });
