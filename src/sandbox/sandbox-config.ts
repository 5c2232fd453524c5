import { z } from 'zod';

/** The sandbox's own settings; it runs alone, beside or instead of the service, so it parses its own environment. */
export const sandboxConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(9099),
  HOST: z.string().min(1).default('127.0.0.1'),
  SANDBOX_BASE_PATH: z
    .string()
    .regex(/^(\/[A-Za-z0-9._~-]+)*\/?$/, 'must be empty or a path such as /adressetjeneste')
    .default(''),
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
