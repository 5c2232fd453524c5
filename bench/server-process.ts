import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

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
export function forkTs(file: string, args: string[], env: Record<string, string>): ChildProcess {
  return fork(file, args, {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', ...childNodeFlags],
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

/** Starts `bench/server-child.ts ours|bare` with `env` and resolves once it listens on 127.0.0.1. */
export async function startServer(mode: ServerMode, env: Record<string, string>): Promise<ServerProcess> {
  const child = forkTs(CHILD, [mode], env);
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
