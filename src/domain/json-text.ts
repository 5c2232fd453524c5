import { Errors } from './errors.js';

/** Keys that would reach Object.prototype when a parsed object is later merged or spread. */
function isPoisonKey(key: string, value: unknown): boolean {
  return (
    key === '__proto__' ||
    (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value)
  );
}

/**
 * Parses JSON text from a client. A `__proto__` key (or `constructor.prototype`) is refused like any other
 * bad input, as Fastify's own body parser does. `where` names the input in the message ("part \"sbd\"").
 */
export function parseJsonText(text: string, where: string): unknown {
  let poisoned = false;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v) => {
      if (isPoisonKey(key, v)) poisoned = true;
      return v;
    });
  } catch (e) {
    throw Errors.badJson(`JSON parse error in ${where}: ${(e as Error).message}`, {}, e);
  }
  if (poisoned) {
    throw Errors.badJson(`JSON in ${where} contains a forbidden key (__proto__ or constructor.prototype)`);
  }
  return value;
}

/** The path of the first string (or key) holding an unpaired UTF-16 surrogate, which no UTF-8 text can carry. */
export function findIllFormedString(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? path || '(root)' : undefined;
  if (!value || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const hit = findIllFormedString(v, `${path}[${i}]`);
      if (hit) return hit;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    const p = path ? `${path}.${k}` : k;
    if (LONE_SURROGATE.test(k)) return p;
    const hit = findIllFormedString(v, p);
    if (hit) return hit;
  }
  return undefined;
}

/** In a `u` regex, a surrogate pair is one code point, so this matches only unpaired halves. */
export const LONE_SURROGATE = /\p{Surrogate}/u;
