/**
 * The life of a bench child process: `stop` from the parent closes it (exit 0), so does losing the parent (exit 1)
 * or outliving `lifetimeMs` (exit 3); `main`'s failure is reported to the parent. Other messages go to `onMessage`.
 */
export function runChild(
  main: () => Promise<{ close: () => Promise<unknown>; ready: Record<string, unknown> }>,
  lifetimeMs: number,
  onMessage: (m: { type?: string }) => void = () => {},
): void {
  main()
    .then(({ close: closeResource, ready }) => {
      let closing = false;
      const close = async (code: number) => {
        if (closing) return;
        closing = true;
        await closeResource().catch(() => undefined);
        process.exit(code);
      };
      process.on('message', (m: { type?: string }) => {
        if (m.type === 'stop') void close(0);
        else onMessage(m);
      });
      process.on('disconnect', () => void close(1));
      setTimeout(() => void close(3), lifetimeMs).unref();
      process.send?.({ type: 'ready', ...ready });
    })
    .catch((e: unknown) => {
      process.send?.({ type: 'error', error: e instanceof Error ? e.stack : String(e) });
      process.exit(1);
    });
}
