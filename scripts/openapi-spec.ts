import { buildDocumentationApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

/** The settings the committed document is written with (defaults, HTTP Basic on). */
export const OPENAPI_CONFIG_INPUT = {
  ORG_NUMBER: '910077473',
  DATA_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'),
  API_USERNAME: 'docs',
  API_PASSWORD: 'documentation-only',
  LOG_LEVEL: 'silent',
} as const;

/** The OpenAPI document as the code declares it, with default settings (no network or Redis needed). */
export async function generateOpenApi(): Promise<Record<string, unknown>> {
  const app = await buildDocumentationApp(loadConfig({ ...OPENAPI_CONFIG_INPUT }));
  try {
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}

export function stableJson(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
