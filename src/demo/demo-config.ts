import { z } from 'zod';

/** The demo's own settings: where to look for Redis, and the port it prefers for the API. */
const demoConfigSchema = z.object({
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  PORT: z.coerce.number().int().min(0).max(65535).default(9093),
});

export type DemoConfig = z.output<typeof demoConfigSchema>;

export function loadDemoConfig(env: Record<string, string | undefined> = process.env): DemoConfig {
  const input: Record<string, string> = {};
  for (const k of Object.keys(demoConfigSchema.shape)) {
    const v = env[k];
    if (v !== undefined && v !== '') input[k] = v;
  }
  const parsed = demoConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  - ${i.path.join('.')} ${i.message}`);
    throw new Error(`Invalid demo settings:\n${problems.join('\n')}`);
  }
  return parsed.data;
}
