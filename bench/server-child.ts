import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildBareServer } from './bare-ceiling.js';

/** A server under test in its own process, so its RSS and CPU are its own: `server-child.ts ours|bare`. */

const LIFETIME_MS = 10 * 60_000;

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode !== 'ours' && mode !== 'bare') throw new Error(`mode must be ours or bare, not ${mode}`);
  const config = loadConfig(process.env);
  const app: FastifyInstance = mode === 'ours' ? await buildApp(config) : await buildBareServer(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  let closing = false;
  const close = async (code: number) => {
    if (closing) return;
    closing = true;
    await app.close().catch(() => undefined);
    process.exit(code);
  };
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stop') void close(0);
  });
  // An orphaned server must not outlive the bench.
  process.on('disconnect', () => void close(1));
  setTimeout(() => void close(3), LIFETIME_MS).unref();
  process.send?.({ type: 'ready', port });
}

main().catch((e: unknown) => {
  process.send?.({ type: 'error', error: e instanceof Error ? e.stack : String(e) });
  process.exit(1);
});
