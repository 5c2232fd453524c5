import { randomBytes } from 'node:crypto';
import { SANDBOX_ORGS } from './address-service-seed.js';
import { loadSandboxConfig } from './sandbox-config.js';

// `npm run sandbox`: the stand-in address service and the stand-in Altinn Correspondence, side by side. Both are
// loaded only here and in tests, never on the service's start path.
const config = loadSandboxConfig();
const { startAddressServiceSandbox } = await import('./address-service.js');
const { startAltinnSandbox, DEFAULT_PARTIES } = await import('./altinn.js');

const staticToken = config.ALTINN_SANDBOX_TOKEN ?? `sandbox-${randomBytes(18).toString('base64url')}`;
const addressService = await startAddressServiceSandbox({
  port: config.PORT,
  host: config.HOST,
  basePath: config.SANDBOX_BASE_PATH,
});
const altinn = await startAltinnSandbox({
  port: config.ALTINN_SANDBOX_PORT,
  host: config.HOST,
  publishDelayMs: config.ALTINN_SANDBOX_PUBLISH_DELAY_MS,
  staticTokens: [staticToken],
  maskinportenClients: config.ALTINN_SANDBOX_MASKINPORTEN_CLIENTS ?? {},
});

console.log(
  [
    `Sandbox address service listening at ${addressService.url} (JWK set at ${addressService.url}/jwk); organisations: ${SANDBOX_ORGS.map((o) => o.identifier).join(', ')}`,
    `Sandbox Altinn Correspondence listening at ${altinn.url}; parties: ${DEFAULT_PARTIES.map((p) => `${p.orgnr}${p.hasConfidentialRoles ? '' : ' (no confidential roles)'}`).join(', ')}`,
    '',
    'Settings for the integration point:',
    `  SERVICE_REGISTRY_URL=${addressService.url}`,
    `  ALTINN_CORRESPONDENCE_URL=${altinn.correspondenceUrl}`,
    `  ALTINN_TOKEN_EXCHANGE_URL=${altinn.exchangeUrl}`,
    `  MASKINPORTEN_TOKEN_URL=${altinn.tokenUrl}   (assertion audience ${altinn.maskinportenAudience})`,
    `  ALTINN_TOKEN=${staticToken}`,
    '',
    `Controls: POST ${altinn.url}/__fake/correspondence/{id}/read | /fail | /purge | /publish-now, GET ${altinn.url}/__fake/state/{id}, GET ${altinn.url}/__fake/uploads`,
  ].join('\n'),
);

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  Promise.all([addressService.close(), altinn.close()]).then(
    () => {
      console.log(`Sandbox stopped (${signal})`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(`Sandbox did not stop cleanly: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
