import type { JWK } from 'jose';
import { z } from 'zod';

/** The sandbox's own settings; it runs alone, beside or instead of the service, so it parses its own environment. */
export const sandboxConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(9099),
  HOST: z.string().min(1).default('127.0.0.1'),
  SANDBOX_BASE_PATH: z
    .string()
    .regex(/^(\/[A-Za-z0-9._~-]+)*\/?$/, 'must be empty or a path such as /adressetjeneste')
    .default(''),
  ALTINN_SANDBOX_PORT: z.coerce.number().int().min(0).max(65535).default(9098),
  /** A bearer token the Altinn sandbox accepts as it is (ALTINN_TOKEN for the service); random when unset. */
  ALTINN_SANDBOX_TOKEN: z
    .string()
    .regex(/^[\x21-\x7e]{16,}$/, 'must be at least 16 printable characters without spaces')
    .optional(),
  ALTINN_SANDBOX_PUBLISH_DELAY_MS: z.coerce.number().int().min(0).max(86_400_000).default(200),
  /** JSON object: Maskinporten client_id → public JWK that verifies its grant assertions. */
  ALTINN_SANDBOX_MASKINPORTEN_CLIENTS: z
    .string()
    .transform((raw, ctx) => {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
          const ok = Object.values(parsed).every((v) => typeof v === 'object' && v !== null && 'kty' in v);
          if (ok) return parsed as Record<string, JWK>;
        }
      } catch {
        // reported below
      }
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of client_id to public JWK' });
      return z.NEVER;
    })
    .optional(),
});

export type SandboxConfig = z.output<typeof sandboxConfigSchema>;

/** Every bad variable is named in one error. */
export function loadSandboxConfig(env: Record<string, string | undefined> = process.env): SandboxConfig {
  const input: Record<string, string> = {};
  for (const k of Object.keys(sandboxConfigSchema.shape)) {
    const v = env[k];
    if (v !== undefined && v !== '') input[k] = v;
  }
  const parsed = sandboxConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(config)'} ${i.message}`);
    throw new Error(`Invalid sandbox configuration:\n${problems.join('\n')}`);
  }
  return parsed.data;
}
