import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from './own-redis.js';

export type ServerMode = 'ours' | 'bare';

export interface ServerProcess {
  mode: ServerMode;
  pid: number;
  base: string;
  stop(): Promise<void>;
}

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('./server-child.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** Extra node flags for server children (e.g. --cpu-prof), set once by the entry point. */
export const childNodeFlags: string[] = [];

/** Forks a TypeScript child under tsx with an IPC channel; rejects when it exits or stays silent. */
export function forkTs(
  file: string,
  args: string[],
  env: Record<string, string>,
  nodeFlags: string[] = [],
): ChildProcess {
  return fork(file, args, {
    cwd: REPO_ROOT,
    execArgv: [...nodeFlags, '--import', 'tsx', ...childNodeFlags],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Waits for the first IPC message of `type`; bounded by `timeoutMs` and by the child exiting first. */
export function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`no '${type}' from child within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (m: unknown) => {
      const msg = m as { type?: string; error?: string };
      if (msg.type === 'error') done(new Error(`child failed: ${msg.error}`));
      else if (msg.type === type) done(null, m as T);
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`child exited (${code ?? signal}) before '${type}'`));
    const done = (err: Error | null, value?: T) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(value as T);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Asks a child to finish, then kills that one child by its handle if it does not. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) child.send({ type: 'stop' });
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Starts `bench/server-child.ts ours|bare` with `env` (and node flags) and resolves once it listens on 127.0.0.1. */
export async function startServer(
  mode: ServerMode,
  env: Record<string, string>,
  nodeFlags: string[] = [],
): Promise<ServerProcess> {
  const child = forkTs(CHILD, [mode], env, nodeFlags);
  try {
    const { port } = await nextMessage<{ port: number }>(child, 'ready', READY_TIMEOUT_MS);
    return {
      mode,
      pid: child.pid!,
      base: `http://127.0.0.1:${port}`,
      stop: () => stopChild(child),
    };
  } catch (e) {
    await stopChild(child);
    throw e;
  }
}

/** `npm start`'s command line after `node`: its node flags and the entry point it runs (package.json). */
export function startCommand(): { flags: string[]; entry: string } {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const words = pkg.scripts.start.split(/\s+/);
  const entry = words.at(-1) ?? '';
  if (words[0] !== 'node' || entry !== 'dist/src/server.js')
    throw new Error(`npm start is not 'node [flags] dist/src/server.js': ${pkg.scripts.start}`);
  return { flags: words.slice(1, -1), entry };
}

let built = false;
/** Runs `npm run build` once per bench run (the built service is what production runs). */
export function buildOnce(): void {
  if (built) return;
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  built = true;
}

/**
 * The production entry point as `npm start` runs it (buildApp + startBackground), with `env` on a free
 * port; resolves once /health/ready answers 200. Stopped with SIGTERM like a container would be.
 */
export async function startBuiltServer(
  env: Record<string, string>,
  extraFlags: string[] = [],
): Promise<ServerProcess> {
  buildOnce();
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...startCommand().flags, ...extraFlags, ...childNodeFlags, startCommand().entry],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
      // Log lines (stdout) are written as in production but not shown; errors (stderr) are.
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  const t0 = Date.now();
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
      if (Date.now() - t0 > READY_TIMEOUT_MS) throw new Error('server not ready within 30 s');
      const ok = await fetch(`http://127.0.0.1:${port}/health/ready`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      await sleep(20);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { mode: 'ours', pid: child.pid!, base: `http://127.0.0.1:${port}`, stop };
}
