import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

/**
 * Preload (`--import`) for a child process: records every module it loads, ESM (through a resolve hook) and
 * CommonJS (the require cache), and answers the IPC message 'modules' with their file URLs.
 */
const require = createRequire(import.meta.url);
const { port1, port2 } = new MessageChannel();
const resolved = new Set();
port1.on('message', (url) => resolved.add(url));
port1.unref();
register('./module-log-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });

process.on('message', (msg) => {
  if (msg !== 'modules') return;
  const cjs = Object.keys(require.cache).map((f) => pathToFileURL(f).href);
  process.send?.([...new Set([...resolved, ...cjs])]);
});
