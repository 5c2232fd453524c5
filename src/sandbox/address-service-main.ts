import { startAddressServiceSandbox } from './address-service.js';
import { SANDBOX_ORGS } from './address-service-seed.js';
import { loadSandboxConfig } from './sandbox-config.js';

// Runs the sandbox address service alone: `npm run sandbox`, then point SERVICE_REGISTRY_URL at the printed URL.
const config = loadSandboxConfig();
const sandbox = await startAddressServiceSandbox({
  port: config.PORT,
  host: config.HOST,
  basePath: config.SANDBOX_BASE_PATH,
});

console.log(
  `Sandbox address service listening at ${sandbox.url} (JWK set at ${sandbox.url}/jwk); organisations: ${SANDBOX_ORGS.map((o) => o.identifier).join(', ')}`,
);

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  sandbox.close().then(
    () => {
      console.log(`Sandbox address service stopped (${signal})`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(
        `Sandbox address service did not stop cleanly: ${err instanceof Error ? err.message : String(err)}`,
      );
      process.exit(1);
    },
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
