import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * `npm run build`, second step: the compiled entry point (dist/src/server.js) and everything it imports, bundled
 * into dist/server/ — what `npm start` and the container run. One file instead of some 480 modules: the process is
 * ready about a third sooner, because Node no longer resolves, stats, reads and links each module (README,
 * Benchmark).
 *
 * Left in node_modules, loaded from there at run time, exactly as the tests load them:
 * - what the service imports only on demand (undici, jose, nodemailer, mime-types, the docs): it is not on the
 *   start-up path, and a bundled CommonJS package reached by import() loses its named exports;
 * - @fastify/swagger and @fastify/swagger-ui also read files that sit beside their own code;
 * - bullmq is required at run time (src/queues/bullmq.ts), and ioredis with it, so both use one copy of ioredis.
 */
const BUNDLE_DIR = fileURLToPath(new URL('../dist/server/', import.meta.url));
const EXTERNAL = [
  '@fastify/swagger',
  '@fastify/swagger-ui',
  'bullmq',
  'ioredis',
  'jose',
  'mime-types',
  'nodemailer',
  'undici',
];

rmSync(BUNDLE_DIR, { recursive: true, force: true });
const result = await build({
  entryPoints: [fileURLToPath(new URL('../dist/src/server.js', import.meta.url))],
  outdir: BUNDLE_DIR,
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: EXTERNAL,
  // CommonJS packages inside an ES module bundle still call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  // Stack traces name the original files when the service runs with node --enable-source-maps.
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
});
const bytes = Object.entries(result.metafile.outputs)
  .filter(([file, o]) => o.entryPoint && file.endsWith('.js'))
  .reduce((n, [, o]) => n + o.bytes, 0);
console.log(`bundled dist/server/server.js (${Math.round(bytes / 1024)} KiB)`);
