/**
 * jose (JWS verification, Maskinporten grants), loaded on its first use: a service that verifies nothing and has no
 * Maskinporten client never loads it, and one that does pays for it with the first call rather than at start.
 */
let loading: Promise<typeof import('jose')> | undefined;

export function loadJose(): Promise<typeof import('jose')> {
  loading ??= import('jose');
  return loading;
}
