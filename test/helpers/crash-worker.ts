/**
 * A send worker in its own process that stops dead once Altinn has answered an upload: it tells its parent and
 * then never gets to write anything, so the parent can kill -9 it at exactly that point.
 */
import { type HttpTransport, undiciTransport } from '../../src/adapters/http-transport.js';
import { loadConfig } from '../../src/config.js';
import { startBackground } from '../../src/workers/index.js';

const config = loadConfig(process.env);
const real = undiciTransport();
const frozen: HttpTransport = {
  async send(req) {
    const res = await real.send(req);
    if (req.url.endsWith('/correspondence/upload')) {
      process.send?.({ uploaded: res.status, body: res.body });
      // Altinn has created the correspondence; this process never learns more.
      return new Promise(() => {});
    }
    return res;
  },
  close: () => real.close(),
};
await startBackground(config, { altinnTransport: frozen, parts: { send: true } });
process.send?.({ ready: true });
