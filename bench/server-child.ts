import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildBareServer } from './bare-ceiling.js';
import { runChild } from './child-lifecycle.js';

/** A server under test in its own process, so its RSS and CPU are its own: `server-child.ts ours|bare`. */

const LIFETIME_MS = 10 * 60_000;

runChild(async () => {
  const mode = process.argv[2];
  if (mode !== 'ours' && mode !== 'bare') throw new Error(`mode must be ours or bare, not ${mode}`);
  const config = loadConfig(process.env);
  const app = mode === 'ours' ? await buildApp(config) : await buildBareServer(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { close: () => app.close(), ready: { port } };
}, LIFETIME_MS);
