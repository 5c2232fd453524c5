import { z } from 'zod';

/** The process this product exists for. */
export const TAUSHETSBELAGT_PROCESS = 'urn:no:difi:profile:arkivmelding:taushetsbelagt:ver1.0';

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);

/** Sizes accept plain bytes or a unit suffix: 250MB, 5MiB, 512KB. */
const size = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((raw, ctx) => {
      const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$/i.exec(raw);
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `"${raw}" is not a size (e.g. 250MB, 5MiB, 1048576)` });
        return z.NEVER;
      }
      const unit = (m[2] ?? 'b').toLowerCase();
      const factor: Record<string, number> = {
        b: 1,
        kb: 1000,
        kib: 1024,
        mb: 1000 ** 2,
        mib: 1024 ** 2,
        gb: 1000 ** 3,
        gib: 1024 ** 3,
      };
      return Math.floor(Number(m[1]) * (factor[unit] ?? 1));
    });

/** Durations with a unit: 90s, 15m, 12h, 3d. */
export function parseDuration(raw: string): number | null {
  const m = /^\s*(\d+)\s*(s|m|h|d)\s*$/.exec(raw);
  if (!m) return null;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const ms = Number(m[1]) * unit;
  return ms > 0 ? ms : null;
}

/** A comma list of ages, kept with their configured text ("7d") and sorted ascending, without repeats. */
const durations = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((raw, ctx) => {
      const parts = raw.split(',').map((p) => p.trim());
      const out: { label: string; ms: number }[] = [];
      for (const label of parts) {
        const ms = parseDuration(label);
        if (ms === null) {
          ctx.addIssue({ code: 'custom', message: `"${label}" is not a duration (e.g. 3d, 12h, 30m, 90s)` });
          return z.NEVER;
        }
        if (!out.some((o) => o.ms === ms)) out.push({ label, ms });
      }
      return out.sort((a, b) => a.ms - b.ms);
    });

const emailList = z
  .string()
  .transform((raw) =>
    raw
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.email({ message: 'must be a comma list of e-mail addresses' })).min(1));

const key = z
  .string({ message: 'is required: 32 random bytes, base64 (openssl rand -base64 32)' })
  .transform((raw, ctx) => {
    const buf = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
    if (buf.length !== 32) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be 32 bytes, base64 or hex encoded (openssl rand -base64 32)',
      });
      return z.NEVER;
    }
    return buf;
  });

export const configSchema = z.object({
  PORT: int(9093, 0),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'letters, digits, _ . - only (1-40)')
    .default('eip'),
  ORG_NUMBER: z
    .string({ message: 'is required: your own organisation number' })
    .regex(/^\d{9}$/, 'must be 9 digits'),
  SERVICE_REGISTRY_URL: z
    .url({ protocol: /^https?$/ })
    .default('https://test.eformidling.no/adressetjeneste'),
  SERVICE_REGISTRY_VERIFY: bool(true),
  SERVICE_REGISTRY_TOKEN: z.string().min(1).optional(),
  SERVICE_REGISTRY_TIMEOUT_MS: int(5000, 100),
  SERVICE_REGISTRY_CACHE_SECONDS: int(300, 0),
  DATA_DIR: z.string().min(1).default('./data'),
  DATA_ENCRYPTION_KEY: key,
  PARTIAL_FILE_MAX_AGE_MS: int(3_600_000, 1000),
  PARTIAL_FILE_SWEEP_INTERVAL_MS: int(600_000, 10),
  DEFAULT_TTL_HOURS: int(24, 1),
  MAX_MESSAGE_SIZE: size('250MB'),
  MULTIPART_MAX_FILE_SIZE: size('5MiB'),
  JSON_BODY_LIMIT: size('1MiB'),
  ARKIVMELDING_MAX_SIZE: size('10MB'),
  ARKIVMELDING_MAX_DEPTH: int(40, 8),
  ALTINN_CONFIDENTIAL_RESOURCE: z.string().min(1).default('eformidling-dpv-taushetsbelagt'),
  CONFIDENTIAL_RECIPIENT_RULE: z.enum(['error', 'warning']).default('error'),
  API_AUTH: z.enum(['basic', 'none']).default('basic'),
  API_USERNAME: z.string().min(1).optional(),
  API_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
  AUTH_FAILURE_LIMIT: int(10, 0),
  AUTH_FAILURE_WINDOW_MS: int(60_000, 1),
  AUTH_LOCKOUT_MS: int(60_000, 0),
  ERROR_EXCEPTION_STYLE: z.enum(['short', 'fqcn']).default('short'),
  SHUTDOWN_TIMEOUT_MS: int(10000, 100),
  // ---- Digital Post (Altinn 3 Correspondence) ----
  ALTINN_CORRESPONDENCE_URL: z
    .url({ protocol: /^https?$/ })
    .regex(/\/correspondence\/api\/v1\/?$/, 'must end in /correspondence/api/v1')
    .default('https://platform.tt02.altinn.no/correspondence/api/v1'),
  ALTINN_TOKEN: z.string().min(1).optional(),
  ALTINN_TOKEN_EXCHANGE_URL: z
    .url({ protocol: /^https?$/ })
    .default('https://platform.tt02.altinn.no/authentication/api/v1/exchange/maskinporten'),
  ALTINN_TIMEOUT_MS: int(30000, 100),
  ALTINN_UPLOAD_TIMEOUT_MS: int(600000, 100),
  MASKINPORTEN_TOKEN_URL: z.url({ protocol: /^https?$/ }).default('https://test.maskinporten.no/token'),
  MASKINPORTEN_AUDIENCE: z.string().min(1).optional(),
  MASKINPORTEN_CLIENT_ID: z.string().min(1).optional(),
  MASKINPORTEN_KEY: z.string().min(1).optional(),
  MASKINPORTEN_KID: z.string().min(1).optional(),
  MASKINPORTEN_SCOPE: z.string().min(1).default('altinn:correspondence.write altinn:serviceowner'),
  SERVICE_REGISTRY_SCOPE: z.string().min(1).optional(),
  SEND_CONCURRENCY: int(4, 1),
  SEND_RETRY_BASE_MS: int(20000, 1),
  SEND_RETRY_MAX_MS: int(3600000, 1),
  SEND_JOB_LOCK_MS: int(60000, 200),
  STATUS_POLL_INTERVAL_MS: int(60000, 10),
  STATUS_POLL_MAX_INTERVAL_MS: int(3600000, 10),
  STATUS_POLL_RAMP_MS: int(30 * 24 * 3600000, 1),
  STATUS_POLL_PAGE_SIZE: int(500, 1),
  GENERATE_RECEIPTS: bool(true),
  DPV_DAYS_TO_REPLY: int(7, 0),
  DPV_NOTIFICATION_CHANNEL: z.enum(['Email', 'Sms', 'EmailAndSms']).default('EmailAndSms'),
  DPV_EMAIL_SUBJECT: z.string().min(1).max(512).default('Melding mottatt i Altinn'),
  DPV_REMINDER_CHECK_MS: int(7 * 24 * 3600000 + 3600000, 0),
  IN_LOCK_TIMEOUT_MS: int(5 * 60_000, 100),
  TTL_SWEEP_INTERVAL_MS: int(30_000, 100),
  WEBHOOK_MAX_ATTEMPTS: int(5, 1),
  WEBHOOK_RETRY_BASE_MS: int(10000, 1),
  WEBHOOK_TIMEOUT_MS: int(10000, 100),
  SMTP_URL: z
    .url({ protocol: /^smtps?$/, message: 'must be smtp://user:pass@host:587 or smtps://…' })
    .optional(),
  NOTICE_EMAIL_FROM: z.email().optional(),
  NOTICE_EMAIL_TO: emailList.optional(),
  NOTICE_DIGEST_INTERVAL_MS: int(3_600_000, 100),
  UNREAD_ALERT_AFTER: durations('3d,7d,14d'),
  UNREAD_CHECK_INTERVAL_MS: int(60_000, 50),
});

/** E-mail needs a sender and receivers once an SMTP server is configured. */
function emailProblems(input: Record<string, string>): string[] {
  if (!input.SMTP_URL) return [];
  return ['NOTICE_EMAIL_FROM', 'NOTICE_EMAIL_TO']
    .filter((k) => !input[k])
    .map((k) => `${k} is required when SMTP_URL is set`);
}

/** Credentials are required unless auth is switched off explicitly; checked beside the schema so every problem shows at once. */
function authProblems(input: Record<string, string>): string[] {
  if ((input.API_AUTH ?? 'basic') !== 'basic') return [];
  return ['API_USERNAME', 'API_PASSWORD']
    .filter((k) => !input[k])
    .map((k) => `${k} is required (or set API_AUTH=none explicitly)`);
}

/** Maskinporten needs both a client id and a key; one without the other is a mistake. */
function maskinportenProblems(input: Record<string, string>): string[] {
  const id = Boolean(input.MASKINPORTEN_CLIENT_ID);
  const key = Boolean(input.MASKINPORTEN_KEY);
  if (id === key) return [];
  return [
    id
      ? 'MASKINPORTEN_KEY is required with MASKINPORTEN_CLIENT_ID'
      : 'MASKINPORTEN_CLIENT_ID is required with MASKINPORTEN_KEY',
  ];
}

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; every bad or missing variable is named in one error. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const k of Object.keys(configSchema.shape)) {
    const v = env[k];
    if (v !== undefined && v !== '') input[k] = v;
  }
  const parsed = configSchema.safeParse(input);
  const problems = [
    ...(parsed.success
      ? []
      : parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'} ${i.message}`)),
    ...authProblems(input),
    ...maskinportenProblems(input),
    ...emailProblems(input),
  ].map((p) => p.replace(/^(\S+) Invalid input: /, '$1 '));
  if (!parsed.success || problems.length) throw new ConfigError(problems);
  return parsed.data;
}
