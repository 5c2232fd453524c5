import type { Config } from '../config.js';
import { AltinnTokenExchange, MaskinportenClient, staticToken, type TokenSource } from './maskinporten.js';

/** Which token each outbound call gets, from configuration. */

/** The Maskinporten client when configured (also used for the address service's token). */
export function maskinportenOf(config: Config, fetchImpl?: typeof fetch): MaskinportenClient | null {
  if (!config.MASKINPORTEN_CLIENT_ID || !config.MASKINPORTEN_KEY) return null;
  return new MaskinportenClient({
    tokenUrl: config.MASKINPORTEN_TOKEN_URL,
    clientId: config.MASKINPORTEN_CLIENT_ID,
    key: config.MASKINPORTEN_KEY,
    ...(config.MASKINPORTEN_KID ? { kid: config.MASKINPORTEN_KID } : {}),
    ...(config.MASKINPORTEN_AUDIENCE ? { audience: config.MASKINPORTEN_AUDIENCE } : {}),
    timeoutMs: config.ALTINN_TIMEOUT_MS,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
}

/** Altinn's bearer token: ALTINN_TOKEN as is, else Maskinporten exchanged at Altinn; null when neither is set. */
export function altinnTokens(
  config: Config,
  mp: MaskinportenClient | null,
  fetchImpl?: typeof fetch,
): TokenSource | null {
  if (config.ALTINN_TOKEN) return staticToken(config.ALTINN_TOKEN);
  if (!mp) return null;
  return new AltinnTokenExchange({
    maskinporten: mp,
    scope: config.MASKINPORTEN_SCOPE,
    exchangeUrl: config.ALTINN_TOKEN_EXCHANGE_URL,
    timeoutMs: config.ALTINN_TIMEOUT_MS,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
}

/** The address service's bearer token: SERVICE_REGISTRY_TOKEN overrides; else Maskinporten with its own scope. */
export function addressServiceTokens(config: Config, mp: MaskinportenClient | null): TokenSource | null {
  if (config.SERVICE_REGISTRY_TOKEN) return staticToken(config.SERVICE_REGISTRY_TOKEN);
  if (mp && config.SERVICE_REGISTRY_SCOPE) return mp.source(config.SERVICE_REGISTRY_SCOPE);
  return null;
}
